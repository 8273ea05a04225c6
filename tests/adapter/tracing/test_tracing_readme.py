"""The code of the README's "Tracing with X-Ray" section, run as it is written there.

Each snippet is kept here as the exact text of the README's code block and run with `exec`, one after the
other in one namespace as a reader would paste them; the tests then check what the snippets claim.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from adapter.tracing.testing import DaemonSink, isolated_xray_recorder
from tests.conftest import LambdaContextStub, load_event

APP = """
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapter import LambdaAdapter
from adapter.tracing import XRayMiddleware


async def get_link(request):
    return PlainTextResponse(request.path_params["code"])


app = Starlette(
    routes=[Route("/links/{code}", get_link)],
    middleware=[Middleware(XRayMiddleware, service="links")],
)
handler = LambdaAdapter(app)  # in Lambda; `uvicorn app:app` serves the same app locally
"""

TESTING = """
import httpx

from adapter.tracing.testing import DaemonSink, isolated_xray_recorder

TRACE_EVERY_REQUEST = {"version": 2, "rules": [], "default": {"fixed_target": 0, "rate": 1.0}}


async def test_a_link_lookup_is_traced(monkeypatch):
    with isolated_xray_recorder(), DaemonSink() as daemon:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        app = Starlette(
            routes=[Route("/links/{code}", get_link)],
            middleware=[Middleware(XRayMiddleware, service="links", sampling_rules=TRACE_EVERY_REQUEST)],
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            await client.get("/links/abc")
        [segment] = daemon.receive(1)
    assert segment["annotations"] == {"method": "GET", "route": "/links/{code}", "status": 200}
"""

TRACER = '''
import logging

from adapter.tracing import RequestInfo, TracingMiddleware


class LogTracer:
    """Logs one line per request: a stand-in for an OpenTelemetry tracer."""

    def start(self, request: RequestInfo):
        return LogSpan(request)


class LogSpan:
    def __init__(self, request):
        self.request = request

    def response_headers(self):
        return ()

    def finish(self, *, status, content_length, route, error):
        logging.getLogger("traces").info("%s %s %s", self.request.method, route, status)


traced_app = TracingMiddleware(app, LogTracer())
'''


def run(*snippets: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for snippet in snippets:
        exec(compile(snippet, "README.md", "exec"), namespace)
    return namespace


def test_the_app_snippet_is_traced_in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    with isolated_xray_recorder(), DaemonSink() as daemon:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "links")
        monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
        handler = run(APP)["handler"]
        event = load_event("voker/http-v2-live-encoding-probe.json")
        event.update(rawPath="/links/abc", rawQueryString="", body=None, isBase64Encoded=False)
        event["requestContext"]["http"].update(method="GET", path="/links/abc")
        os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        response = handler(event, LambdaContextStub())
        handler.close()
        [subsegment] = daemon.receive(1)

    assert response["statusCode"] == 200
    assert (subsegment["trace_id"], subsegment["parent_id"]) == (
        "1-5759e988-bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
    )
    assert subsegment["annotations"]["route"] == "/links/{code}"


@pytest.mark.anyio
async def test_the_testing_snippet_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run(APP, TESTING)
    namespace["handler"].close()

    await namespace["test_a_link_lookup_is_traced"](monkeypatch)


@pytest.mark.anyio
async def test_the_tracer_snippet_logs_each_request(caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    namespace = run(APP, TRACER)
    namespace["handler"].close()
    transport = httpx.ASGITransport(app=namespace["traced_app"])
    with caplog.at_level("INFO", logger="traces"):
        async with httpx.AsyncClient(transport=transport, base_url="http://links.test") as client:
            await client.get("/links/abc")

    assert [record.getMessage() for record in caplog.records] == ["GET /links/{code} 200"]
