"""The sample app's logs: JSON lines in Lambda, readable text under uvicorn, and one access-log line per request.

In Lambda the runtime has already put its handler on the root logger, writing to Lambda's log stream, before it
imports the function (`_setup_logging` in awslambdaric's bootstrap.py). With the function's log format set to
JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`) that handler already writes one JSON object per record, with `timestamp`,
`level`, `message`, `logger`, `requestId` and any attribute given with `extra=`, so it is left as it is: a second
JSON encoding would nest one object in the other's message. With the Text format its formatter is replaced by
`LambdaJsonFormatter`, which writes the same fields
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html). Either way a filter adds
`xrayTraceId` (the invocation's trace id, to go from a log line to its trace) and, outside the managed runtime,
the request id.

The access log carries the method, the route template, the status and the duration, never the path's values, the
query string, a header or a body: cookies, tokens and links' target URLs stay out of the logs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from adapter.tracing import in_lambda, route_template
from adapter.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLogMiddleware", "LambdaJsonFormatter", "TraceContextFilter", "access_logger", "configure_logging"]

access_logger = logging.getLogger("sample_app.access")

# The request id of the invocation being handled, for log records made outside Lambda's managed runtime (whose
# own filter sets `aws_request_id` on every record).
_request_id: ContextVar[str | None] = ContextVar("sample_app_request_id", default=None)

# The attributes every LogRecord has; anything else on a record came from `extra=` and goes into the JSON.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "aws_request_id",
    "tenant_id",
    "_frame_type",
}
_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_HANDLER_NAME = "sample_app"


class TraceContextFilter(logging.Filter):
    """Adds `xrayTraceId` and, when the runtime did not, `aws_request_id` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "aws_request_id", None):
            record.aws_request_id = _request_id.get()
        # Lambda sets the invocation's trace header here before each invocation: Root=...;Parent=...;Sampled=...
        header = os.environ.get("_X_AMZN_TRACE_ID", "")
        record.xrayTraceId = header.split(";", 1)[0].removeprefix("Root=") or None
        return True


class LambdaJsonFormatter(logging.Formatter):
    """One JSON object per record, with the fields of Lambda's JSON log format."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            # As Lambda writes it: 2026-11-26T10:23:35.474Z
            "timestamp": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info:
            document["errorType"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            document["errorMessage"] = str(record.exc_info[1])
            document["stackTrace"] = self.formatException(record.exc_info).splitlines()
        document.update((key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES)
        return json.dumps({key: value for key, value in document.items() if value is not None}, default=str)


class _CurrentStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` or `sys.stderr` is at the time of each record, as `logging.lastResort`
    does, so that a later redirection (`contextlib.redirect_stderr`, a test runner's capture) applies."""

    def __init__(self, stream_name: str) -> None:
        super().__init__()
        self._stream_name = stream_name

    @property
    def stream(self) -> Any:
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(environ: Mapping[str, str] = os.environ) -> None:
    """Set up the process's logging for Lambda or for a local server. Calling it again changes nothing."""
    root = logging.getLogger()
    if any(handler.name == _HANDLER_NAME for handler in root.handlers):
        return
    if not environ.get("AWS_LAMBDA_LOG_LEVEL"):
        # Lambda's application log level, when the function sets one, applies to the root logger; otherwise the
        # app's own records (the access log among them) are wanted from INFO up.
        logging.getLogger("sample_app").setLevel(environ.get("LOG_LEVEL", "INFO").upper())
    if not in_lambda(environ):
        handler: logging.Handler = _CurrentStreamHandler("stderr")
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    else:
        # LambdaLoggerHandler and LambdaLoggerHandlerWithFrameType in the runtime's bootstrap
        # (https://github.com/aws/aws-lambda-python-runtime-interface-client/blob/main/awslambdaric/bootstrap.py),
        # and adapter.runtime's LambdaLoggerHandler, which writes records the same way (adapter/runtime/logs.py).
        runtime_handlers = [h for h in root.handlers if type(h).__name__.startswith("LambdaLoggerHandler")]
        json_already = environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
        for runtime_handler in runtime_handlers:
            if not json_already:
                runtime_handler.setFormatter(LambdaJsonFormatter())
            runtime_handler.addFilter(TraceContextFilter())
        # A marker, so that a second call finds the setup done; it writes nothing where the runtime's handler is.
        handler = logging.NullHandler() if runtime_handlers else _CurrentStreamHandler("stdout")
        handler.setFormatter(LambdaJsonFormatter())
        handler.addFilter(TraceContextFilter())
    handler.name = _HANDLER_NAME
    root.addHandler(handler)


class AccessLogMiddleware:
    """One INFO line on `sample_app.access` per HTTP request: method, route template, status, duration in ms."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path: str = scope.get("root_path", "")
        context = scope.get("aws.context")
        token = _request_id.set(getattr(context, "aws_request_id", None))
        status: int | None = None
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            route = route_template(scope, root_path) or "-"
            method = scope.get("method", "GET")
            access_logger.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                duration_ms,
                extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
            )

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Written before the last part of the response leaves, so that a client that has the whole
                # response can count on the line being there (tests read the log right after a request).
                log()
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except Exception:
            status = status or 500
            raise
        finally:
            if not logged:
                log()
            _request_id.reset(token)
