"""Log records written as the managed Python runtime writes them, so that they reach CloudWatch the same way.

The runtime interface client (awslambdaric, the managed runtime's loop) puts one handler on the root logger
before it imports the function (`_setup_logging` in its bootstrap.py), and this module does what it does:

- Where Lambda gives the runtime a telemetry file descriptor (`_LAMBDA_TELEMETRY_LOG_FD`), each record is one
  frame on it, so that a traceback stays one log event (`FramedTelemetryLogSink` in bootstrap.py): a frame type of
  4 bytes, the message's length in 4 bytes, a timestamp in microseconds in 8 bytes (all big-endian), the UTF-8
  message. Otherwise each record is one line on standard output, its own line breaks turned into carriage returns
  (the `\\r` with which awslambdaric writes its error lines, `ERROR_LOG_LINE_TERMINATE`), since Lambda makes a log
  event of each line there.
- `AWS_LAMBDA_LOG_FORMAT=JSON` writes a JSON object per record (`timestamp`, `level`, `message`, `logger`,
  `requestId`, the exception's `errorType`, `errorMessage`, `stackTrace` and `location`, then any `extra=`
  attribute), otherwise `[LEVEL]\\ttimestamp\\trequest id\\tmessage` (`JsonFormatter` in
  lambda_runtime_log_utils.py, and the Text formatter of `_setup_logging`).
- `AWS_LAMBDA_LOG_LEVEL` is the root logger's level (TRACE is DEBUG); unset, the level is Python's own.
- Every record carries the current invocation's request id (`aws_request_id`) and tenant id (`tenant_id`).

The handler's class is named as awslambdaric names it, `LambdaLoggerHandler`, since code that adapts itself to
the managed runtime finds its handler by that name (the sample app's sample_app/logs.py does).
https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from collections.abc import MutableMapping
from typing import Any, BinaryIO, Protocol

TELEMETRY_FD = "_LAMBDA_TELEMETRY_LOG_FD"

# The frame types of awslambdaric's lambda_runtime_log_utils.py: by format, then by level.
_JSON_FRAMES = {
    logging.NOTSET: 0xA55A0002,
    logging.DEBUG: 0xA55A000A,
    logging.INFO: 0xA55A000E,
    logging.WARNING: 0xA55A0012,
    logging.ERROR: 0xA55A0016,
    logging.CRITICAL: 0xA55A001A,
}
_TEXT_FRAMES = {level: frame_type + 1 for level, frame_type in _JSON_FRAMES.items()}
# Text records' frame when no log level is set (awslambdaric's handler without frame types).
_TEXT_FRAME = _TEXT_FRAMES[logging.NOTSET]

# The attributes that every record has (or that the runtime adds); any other came from `extra=` and goes into
# the JSON, as awslambdaric's `_RESERVED_FIELDS` decide.
_RESERVED = frozenset(
    {
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
    }
)


class _Invocation:
    """The invocation under way, for the records made while it is: set by the runtime when it fetches one."""

    request_id = ""
    tenant_id: str | None = None


def set_invocation(request_id: str, tenant_id: str | None) -> None:
    _Invocation.request_id = request_id
    _Invocation.tenant_id = tenant_id


class InvocationFilter(logging.Filter):
    """Stamps each record with the invocation's request id ("" before the first) and tenant id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _Invocation.request_id
        record.tenant_id = _Invocation.tenant_id
        return True


def _level(record: logging.LogRecord) -> int:
    # A custom level counts as the standard one below it: 25 is INFO.
    return min(50, max(0, record.levelno)) // 10 * 10


class TextFormatter(logging.Formatter):
    """`[LEVEL]\\t2026-11-26T10:23:35.474Z\\trequest id\\tmessage`, a line break after it."""

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"
        )
        self.converter = time.gmtime


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the fields, their order and the encoding of Lambda's JSON log format."""

    _encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def __init__(self) -> None:
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info
        message = record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()
        document: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(_level(record)),
            "message": message,
            "logger": record.name,
        }
        if error:
            document["stackTrace"] = traceback.format_tb(error[2])
            document["errorType"] = error[0].__name__ if error[0] else None
            document["errorMessage"] = str(error[1])
        document["requestId"] = getattr(record, "aws_request_id", None)
        if error:
            document["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            document["tenantId"] = tenant_id
        document.update(
            (key, value) for key, value in vars(record).items() if key not in _RESERVED and key not in document
        )
        return self._encode({key: value for key, value in document.items() if value is not None}) + "\n"


class Sink(Protocol):
    def write(self, message: str, frame_type: int) -> None: ...


class TelemetrySink:
    """Frames on the telemetry file descriptor."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def write(self, message: str, frame_type: int) -> None:
        payload = message.encode()
        header = frame_type.to_bytes(4, "big") + len(payload).to_bytes(4, "big")
        self.file.write(header + (time.time_ns() // 1000).to_bytes(8, "big") + payload)
        # Buffered, so that a frame is written whole however the pipe takes it, and flushed, so that it leaves now.
        self.file.flush()


class StdoutSink:
    """One line per record on whatever standard output is at the time."""

    def write(self, message: str, frame_type: int) -> None:
        text = message[:-1] if message.endswith("\n") else message
        sys.stdout.write(text.replace("\n", "\r") + "\n")


class LambdaLoggerHandler(logging.Handler):
    """Writes each record to `sink` as one log event; with `frame_per_level`, its frame type says its level."""

    def __init__(self, sink: Sink, *, frame_per_level: bool) -> None:
        super().__init__()
        self.sink = sink
        self.frame_per_level = frame_per_level
        self.addFilter(InvocationFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            frame_type = _TEXT_FRAME
            if self.frame_per_level:
                frames = _JSON_FRAMES if isinstance(self.formatter, JsonFormatter) else _TEXT_FRAMES
                frame_type = frames[_level(record)]
            self.sink.write(message, frame_type)
        except Exception:
            self.handleError(record)


def configure_logging(environ: MutableMapping[str, str] = os.environ) -> None:
    """Puts the handler on the root logger, as the managed runtime does before it loads the function, unless
    the root logger has one already."""
    for stream in (sys.stdout, sys.stderr):
        # Lines reach the log stream as they are written, as under the managed runtime, which makes them unbuffered.
        getattr(stream, "reconfigure", _ignore)(line_buffering=True)
    root = logging.getLogger()
    if root.handlers:
        return
    json_format = environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    level = environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    handler = LambdaLoggerHandler(_sink(environ), frame_per_level=json_format or bool(level))
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    root.addHandler(handler)
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
    else:
        # The runtime's own lines (a SIGTERM, a failed shutdown) at INFO when the function sets no log level.
        logging.getLogger("adapter.runtime").setLevel(logging.INFO)


def _sink(environ: MutableMapping[str, str]) -> Sink:
    # Taken out of the environment as awslambdaric takes it, so that no child process writes frames on it.
    descriptor = environ.pop(TELEMETRY_FD, None)
    if descriptor is None:
        return StdoutSink()
    try:
        return TelemetrySink(os.fdopen(int(descriptor), "wb"))
    except (ValueError, OSError) as error:
        print(f"{TELEMETRY_FD}={descriptor!r} cannot be written to ({error}); logging to standard output", flush=True)
        return StdoutSink()


def _ignore(**options: Any) -> None:
    pass
