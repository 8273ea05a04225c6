"""Log records under adapter.runtime as under the managed runtime: frames on the telemetry file descriptor, one
line per record otherwise, Lambda's Text and JSON formats and log level, the invocation's request id on each;
the same records written through awslambdaric and through adapter.runtime compared, and the sample app's."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapter.runtime.logs import configure_logging, set_invocation
from sample_app.settings import Settings
from tests.adapter.builders import make_function_url_event
from tests.adapter.runtime.emulator import running

ROOT = Path(__file__).parents[3]
# Text: [LEVEL]\t2026-11-26T10:23:35.474Z\t...; JSON: "timestamp": "2026-11-26T10:23:35Z".
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")

Frame = tuple[int, int, str]


def frames_of(data: bytes) -> list[Frame]:
    """(frame type, timestamp in microseconds, message) of each frame: 4 + 4 + 8 bytes of header, big-endian."""
    frames = []
    while data:
        frame_type, length = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        timestamp = int.from_bytes(data[8:16], "big")
        frames.append((frame_type, timestamp, data[16 : 16 + length].decode()))
        data = data[16 + length :]
    return frames


@pytest.fixture
def root_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """The root logger, its handlers and level restored after the test (`configure` empties it first)."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    runtime_logger = logging.getLogger("adapter.runtime")
    monkeypatch.setattr(runtime_logger, "level", runtime_logger.level)
    set_invocation("", None)
    yield root
    set_invocation("", None)


def configure(environ: dict[str, str]) -> None:
    """`configure_logging` on a root logger as Python starts it, without the handlers pytest adds to it."""
    logging.getLogger().handlers.clear()
    configure_logging(environ)


def test_each_record_is_one_frame_on_the_telemetry_descriptor(root_logger: logging.Logger) -> None:
    read, write = os.pipe()
    environ = {"_LAMBDA_TELEMETRY_LOG_FD": str(write), "AWS_LAMBDA_LOG_LEVEL": "info"}
    before = time.time_ns() // 1000
    configure(environ)
    [handler] = root_logger.handlers
    try:
        logging.getLogger("app").info("before any invocation")
        set_invocation("request-1", None)
        try:
            raise KeyError("code")
        except KeyError:
            logging.getLogger("app").exception("lookup\nfailed")
        logging.getLogger("app").debug("below the level")
        set_invocation("request-2", "tenant-a")
        logging.getLogger("app").log(35, "between warning and error")
    finally:
        root_logger.removeHandler(handler)
        handler.sink.file.close()  # type: ignore[attr-defined]
    with os.fdopen(read, "rb") as pipe:
        frames = frames_of(pipe.read())
    after = time.time_ns() // 1000

    assert "_LAMBDA_TELEMETRY_LOG_FD" not in environ  # taken, as the managed runtime takes it
    assert type(handler).__name__ == "LambdaLoggerHandler"
    assert [frame_type for frame_type, _, _ in frames] == [0xA55A000F, 0xA55A0017, 0xA55A0013]
    assert all(before <= timestamp <= after for _, timestamp, _ in frames)
    messages = [TIMESTAMP.sub("T", message) for _, _, message in frames]
    assert messages[0] == "[INFO]\tT\t\tbefore any invocation\n"
    assert messages[1].startswith("[ERROR]\tT\trequest-1\tlookup\nfailed\nTraceback (most recent call last):\n")
    assert messages[1].endswith("KeyError: 'code'")
    assert messages[2] == "[Level 35]\tT\trequest-2\tbetween warning and error\n"


def test_without_the_descriptor_each_record_is_one_line(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure({"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    set_invocation("request-1", "tenant-a")
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("app").error("it\nfailed", exc_info=True, extra={"table": "links"})
    set_invocation("request-2", None)
    logging.getLogger("app").warning("plain")
    logging.getLogger("app").info("below Python's default level")

    lines = capsys.readouterr().out.split("\n")
    assert lines[2:] == [""]
    first, second = (json.loads(line.replace("\r", "\n")) for line in lines[:2])
    assert "\n" not in lines[0] and "\\n" in lines[0]
    assert list(first) == [
        "timestamp",
        "level",
        "message",
        "logger",
        "stackTrace",
        "errorType",
        "errorMessage",
        "requestId",
        "location",
        "tenantId",
        "table",
    ]
    assert (first["level"], first["message"], first["errorType"], first["requestId"]) == (
        "ERROR",
        "it\nfailed",
        "ValueError",
        "request-1",
    )
    assert re.fullmatch(r".*/test_logs\.py:test_without_the_descriptor_each_record_is_one_line:\d+", first["location"])
    assert list(second) == ["timestamp", "level", "message", "logger", "requestId"]
    assert (second["message"], second["requestId"]) == ("plain", "request-2")
    # The runtime's own lines, at INFO, when the function sets no level.
    assert logging.getLogger("adapter.runtime").level == logging.INFO


@pytest.mark.parametrize(
    ("level", "expected"),
    [("TRACE", logging.DEBUG), ("WARN", logging.WARNING), ("ERROR", logging.ERROR), ("LOUD", logging.WARNING)],
)
def test_lambdas_log_level_is_the_root_loggers(root_logger: logging.Logger, level: str, expected: int) -> None:
    configure({"AWS_LAMBDA_LOG_LEVEL": level})

    assert root_logger.level == expected


def test_a_descriptor_that_cannot_be_written_to(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure({"_LAMBDA_TELEMETRY_LOG_FD": "three"})
    logging.getLogger("app").warning("still logged")

    out = capsys.readouterr().out
    assert "_LAMBDA_TELEMETRY_LOG_FD='three' cannot be written to (invalid literal" in out
    assert out.endswith("\t\tstill logged\n")


def test_a_record_that_cannot_be_formatted(root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    configure({})
    logging.getLogger("app").warning("%d apples", "some")

    captured = capsys.readouterr()
    assert "--- Logging error ---" in captured.err and captured.out == ""


def test_a_root_logger_with_a_handler_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    handlers = list(logging.getLogger().handlers)
    assert handlers  # pytest's own
    configure_logging({"_LAMBDA_TELEMETRY_LOG_FD": "3"})

    assert logging.getLogger().handlers == handlers


# ---- through the runtimes, each in its own process, against the Runtime API emulator ------------------------


def run_logging(command: list[str], environ: dict[str, str], *, telemetry: bool) -> tuple[list[Frame], str]:
    """Frames and standard output of the runtime `command` serving two invocations of log_apps.handler."""
    read, write = os.pipe()
    with running() as api:
        env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT), **environ}
        for name in ("AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "_LAMBDA_TELEMETRY_LOG_FD"):
            env.pop(name, None) if name not in environ else None
        if telemetry:
            env["_LAMBDA_TELEMETRY_LOG_FD"] = str(write)
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, pass_fds=(write,)
        )
        os.close(write)
        try:
            api.invoke({"n": 1}, request_id="request-1").wait()
            tenant = {"Lambda-Runtime-Aws-Tenant-Id": "tenant-a"}
            api.invoke({"n": 2}, request_id="request-2", headers=tenant).wait()
        finally:
            process.kill()
            output, _ = process.communicate()
    with os.fdopen(read, "rb") as pipe:
        frames = frames_of(pipe.read())
    return frames, output.decode()


AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric", "tests.adapter.runtime.log_apps.handler"]
OURS = [sys.executable, "-m", "adapter.runtime", "tests.adapter.runtime.log_apps.handler"]


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="text"),
        pytest.param({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, id="text-debug"),
        pytest.param({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, id="json"),
        pytest.param({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}, id="json-warn"),
    ],
)
def test_the_same_frames_as_awslambdaric(environ: dict[str, str]) -> None:
    theirs, _ = run_logging(AWSLAMBDARIC, environ, telemetry=True)
    ours, our_output = run_logging(OURS, environ, telemetry=True)

    def comparable(frames: list[Frame]) -> list[tuple[int, str]]:
        return [(frame_type, TIMESTAMP.sub("T", message)) for frame_type, _, message in frames]

    assert comparable(ours) == comparable(theirs)
    assert len(ours) >= 6 and our_output == ""


def test_on_standard_output_the_same_records_one_line_each() -> None:
    environ = {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    theirs, _ = run_logging(AWSLAMBDARIC, environ, telemetry=True)
    _, ours = run_logging(OURS, environ, telemetry=False)

    lines = [(message[:-1] if message.endswith("\n") else message).replace("\n", "\r") for _, _, message in theirs]
    assert TIMESTAMP.sub("T", ours).split("\n") == [TIMESTAMP.sub("T", line) for line in lines] + [""]


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_the_sample_app_logs_one_json_record_per_frame(links_settings: Settings, log_format: str) -> None:
    """The app finds the runtime's handler as it finds the managed runtime's, and gives it JSON to write."""
    read, write = os.pipe()
    with running() as api:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_LAMBDA_", "_X_AMZN"))}
        env.update(
            AWS_LAMBDA_RUNTIME_API=api.address,
            AWS_LAMBDA_FUNCTION_NAME="links",
            AWS_LAMBDA_LOG_FORMAT=log_format,
            LAMBDA_TASK_ROOT=str(ROOT),
            AWS_XRAY_SDK_ENABLED="false",
            LINKS_TABLE=links_settings.links_table,
            DYNAMODB_ENDPOINT_URL=links_settings.dynamodb_endpoint_url or "",
            _LAMBDA_TELEMETRY_LOG_FD=str(write),
        )
        command = [sys.executable, "-m", "adapter.runtime", "sample_app.handler.handler"]
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, pass_fds=(write,))
        os.close(write)
        try:
            outcomes = [
                api.invoke(make_function_url_event(path="/links/nope"), request_id="request-1").wait(),
                api.invoke(make_function_url_event(path="/health"), request_id="request-2").wait(),
            ]
        finally:
            process.kill()
            output, _ = process.communicate()
    with os.fdopen(read, "rb") as pipe:
        frames = frames_of(pipe.read())
    records: list[dict[str, Any]] = [json.loads(message) for _, _, message in frames]
    access = [record for record in records if record["logger"] == "sample_app.access"]

    assert [outcome.json()["statusCode"] for outcome in outcomes] == [404, 200]
    assert output == b""
    assert [(record["requestId"], record["route"], record["status"]) for record in access] == [
        ("request-1", "/links/{code}", 404),
        ("request-2", "/health", 200),
    ]
    assert all(record["xrayTraceId"] == "1-5759e988-bd862e3fe1be46a994272793" for record in access)
    frame_type = 0xA55A000E if log_format == "JSON" else 0xA55A0003
    assert {frame[0] for frame in frames} == {frame_type}
