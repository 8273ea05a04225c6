"""The sample app's logs: JSON lines in Lambda, text under uvicorn, one access line per request, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sample_app.app import create_app
from sample_app.logs import AccessLogMiddleware, LambdaJsonFormatter, configure_logging
from sample_app.settings import Settings
from tests.sample_app.conftest import serve
from tests.sample_app.test_tracing import LAMBDA_REQUESTS, ROOTS, SECRETS, run_in_lambda

LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "links", "LAMBDA_TASK_ROOT": "/var/task"}
TRACE = f"Root={ROOTS[0]};Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger without any handler (as Python starts), restored afterwards with the app's logger."""
    root, app_logger = logging.getLogger(), logging.getLogger("sample_app")
    saved = (root.handlers[:], app_logger.level)
    root.handlers = []
    yield root
    root.handlers, level = saved
    app_logger.setLevel(level)


class LambdaLoggerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Stands for the handler of Lambda's Python runtime, which the app recognises by its class name."""


def runtime_handler(formatter: logging.Formatter) -> tuple[logging.Handler, io.StringIO]:
    """A handler in the place where Lambda's runtime puts its own: on the root logger, before the app loads."""
    stream = io.StringIO()
    handler = LambdaLoggerHandler(stream)
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    return handler, stream


def test_in_lambda_the_logs_are_json_lines_with_request_and_trace_ids(links_settings: Settings, tmp_path: Path) -> None:
    """`sample_app.handler.handler` in a fresh interpreter, as Lambda runs it, without the managed runtime."""
    responses, lines = run_in_lambda(links_settings, tmp_path, LAMBDA_REQUESTS)
    records = [json.loads(line) for line in lines]
    access = [record for record in records if record["logger"] == "sample_app.access"]

    assert [response["statusCode"] for response in responses] == [201, 200, 404]
    assert [(record["method"], record["route"], record["status"]) for record in access] == [
        ("POST", "/links", 201),
        ("GET", "/links/{code}", 200),
        ("GET", "/links/{code}", 404),
    ]
    assert [record["requestId"] for record in access] == ["request-0", "request-1", "request-2"]
    assert [record["xrayTraceId"] for record in access] == ROOTS
    for record in access:
        assert record["level"] == "INFO"
        assert record["timestamp"].endswith("Z")
        assert record["message"] == f"{record['method']} {record['route']} {record['status']} {record['duration_ms']}ms"
        assert record["duration_ms"] >= 0
    assert not any(secret in line for secret in SECRETS for line in lines)


def test_with_lambdas_json_format_the_runtime_formatter_is_kept(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime_formatter = logging.Formatter("%(message)s %(xrayTraceId)s %(aws_request_id)s")
    handler, stream = runtime_handler(runtime_formatter)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    configure_logging({**LAMBDA, "AWS_LAMBDA_LOG_FORMAT": "JSON"})
    logging.getLogger("sample_app").info("hello")

    assert handler.formatter is runtime_formatter
    assert stream.getvalue() == f"hello {ROOTS[0]} None\n"


def test_with_lambdas_text_format_the_lines_become_json(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, stream = runtime_handler(logging.Formatter("[%(levelname)s]\t%(message)s"))
    configure_logging(LAMBDA)
    configure_logging(LAMBDA)  # a second call changes nothing
    try:
        raise KeyError("code")
    except KeyError:
        logging.getLogger("sample_app.links").exception("lookup failed", extra={"table": "links"})
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)

    assert isinstance(handler.formatter, LambdaJsonFormatter)
    assert [type(handler).__name__ for handler in root_logger.handlers if handler.name == "sample_app"] == [
        "NullHandler"
    ]
    assert {key: record[key] for key in ("level", "message", "logger", "table", "errorType")} == {
        "level": "ERROR",
        "message": "lookup failed",
        "logger": "sample_app.links",
        "table": "links",
        "errorType": "KeyError",
    }
    assert record["stackTrace"][0] == "Traceback (most recent call last):"
    assert "xrayTraceId" not in record  # outside an invocation


def test_in_lambda_without_the_managed_runtime_json_goes_to_stdout(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(LAMBDA)
    logging.getLogger("sample_app").info("started")

    assert json.loads(capsys.readouterr().out)["message"] == "started"


def test_lambdas_application_log_level_is_respected(root_logger: logging.Logger) -> None:
    logging.getLogger("sample_app").setLevel(logging.NOTSET)
    configure_logging({**LAMBDA, "AWS_LAMBDA_LOG_LEVEL": "WARN"})

    assert logging.getLogger("sample_app").level == logging.NOTSET


def test_under_uvicorn_the_logs_are_text_with_one_access_line_per_request(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str], links_settings: Settings
) -> None:
    configure_logging({})
    with serve(create_app(links_settings)) as url, httpx.Client(base_url=url) as client:
        client.post(
            "/links",
            json={"url": "https://example.com/private", "code": "logs"},
            headers={"Cookie": "session=s3cr3t-cookie", "Authorization": "Bearer s3cr3t-token"},
        )
        client.get("/links/logs?utm=s3cr3t-token")
    err = capsys.readouterr().err
    access = [line for line in err.splitlines() if " sample_app.access: " in line]

    assert [line.split(" sample_app.access: ")[1].rsplit(" ", 1)[0] for line in access] == [
        "POST /links 201",
        "GET /links/{code} 200",
    ]
    assert access[0].split()[2] == "INFO"
    assert not any(secret in err for secret in SECRETS)


@pytest.mark.anyio
async def test_an_exception_is_logged_as_a_500(caplog: pytest.LogCaptureFixture) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    app = Starlette(routes=[Route("/boom", boom)], middleware=[Middleware(AccessLogMiddleware)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with caplog.at_level(logging.INFO, logger="sample_app.access"):
        async with httpx.AsyncClient(transport=transport, base_url="http://links.test") as client:
            await client.get("/boom")
            await client.get("/nowhere")

    records: list[Any] = [record for record in caplog.records if record.name == "sample_app.access"]
    assert [(record.route, record.status) for record in records] == [("/boom", 500), ("-", 404)]


@pytest.mark.anyio
async def test_lifespan_passes_through_the_access_log() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await AccessLogMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    assert seen == ["lifespan"]
