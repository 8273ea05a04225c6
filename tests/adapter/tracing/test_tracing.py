"""XRayMiddleware against the segment documents the X-Ray daemon would receive, on a loopback UDP socket.

Requests go through a real uvicorn server and through `LambdaAdapter` with the environment Lambda sets;
DynamoDB calls go to DynamoDB Local through PynamoDB and botocore, patched by the middleware.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import httpx
import pytest
import uvicorn
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from adapter import LambdaAdapter
from adapter.tracing import TracingMiddleware, XRayMiddleware, xray_configured
from adapter.tracing.testing import DaemonSink, assemble, isolated_xray_recorder, walk
from adapter.types import Message, Receive, Scope, Send
from tests.conftest import LambdaContextStub, load_event

pytestmark = pytest.mark.anyio

SERVICE = "links"
# Local sampling rules that trace every request, or none, so that tests never depend on a reservoir.
ALWAYS = {"version": 2, "rules": [], "default": {"fixed_target": 0, "rate": 1.0}}
NEVER = {"version": 2, "rules": [], "default": {"fixed_target": 0, "rate": 0.0}}
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


@pytest.fixture
def recorder() -> Iterator[Any]:
    with isolated_xray_recorder() as recorder:
        yield recorder


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, recorder: Any) -> Iterator[DaemonSink]:
    with DaemonSink() as sink:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", sink.address)
        yield sink


class Item(Model):
    class Meta:
        table_name = "tracing-items"
        region = "eu-west-1"
        host = ""  # DynamoDB Local's, set by the fixture

    key = UnicodeAttribute(hash_key=True)


@pytest.fixture(scope="module")
def items(dynamodb_local: str) -> type[Item]:
    Item.Meta.host = dynamodb_local
    if not Item.exists():
        Item.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    for key in ("a", "b", "c"):
        Item(key).save()
    return Item


async def link(request: Request) -> Response:
    code = request.path_params["code"]
    if code == "missing":
        raise HTTPException(404)
    return PlainTextResponse(code)


def items_endpoint(request: Request) -> Response:
    """A sync endpoint: Starlette runs it in a worker thread, as PynamoDB's blocking calls are run."""
    count = int(request.path_params["count"])
    for _ in range(count):
        Item.get("a")
    return PlainTextResponse(str(count))


async def items_async(request: Request) -> Response:
    """An async endpoint that gives the event loop away between its calls to DynamoDB in worker threads."""
    count = int(request.path_params["count"])
    for _ in range(count):
        await asyncio.sleep(0.005)
        await anyio.to_thread.run_sync(Item.get, "b")
    return PlainTextResponse(str(count))


async def boom(request: Request) -> Response:
    raise RuntimeError("the link table is on fire")


async def status(request: Request) -> Response:
    return PlainTextResponse("status", status_code=int(request.path_params["code"]))


async def stream(request: Request) -> Response:
    async def chunks() -> Any:
        yield b"ab"
        yield b"cde"

    return StreamingResponse(chunks())


async def item(request: Request) -> Response:
    return PlainTextResponse(str(request.path_params["item_id"]))


async def plain_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("static")(scope, receive, send)


def build_app(**options: Any) -> Starlette:
    settings: dict[str, Any] = {"service": SERVICE, "sampling_rules": ALWAYS, **options}
    return Starlette(
        routes=[
            Route("/links/{code}", link),
            Route("/items/{count:int}", items_endpoint),
            Route("/items-async/{count:int}", items_async),
            Route("/boom", boom),
            Route("/status/{code:int}", status),
            Route("/stream", stream),
            Mount("/api", routes=[Mount("/v1", routes=[Route("/items/{item_id:int}", item)])]),
            Mount("/static", app=plain_asgi),
        ],
        middleware=[Middleware(XRayMiddleware, **settings)],
    )


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app under a real uvicorn server on a loopback port, in a thread of its own."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield "http://127.0.0.1:{}".format(*sock.getsockname()[1:])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://links.test"
    )


async def get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    async with asgi_client(app) as client:
        return await client.get(path, **kwargs)


# --- Under uvicorn ------------------------------------------------------------------------------------------


def test_request_under_uvicorn_without_trace_header_is_one_segment(sink: DaemonSink) -> None:
    with serve(build_app()) as url:
        response = httpx.get(f"{url}/links/abc?utm=mail", headers={"User-Agent": "probe/1.0"})
    [segment] = sink.receive(1)

    assert response.status_code == 200
    assert response.headers["X-Amzn-Trace-Id"] == f"Root={segment['trace_id']}"
    assert segment["name"] == SERVICE
    assert "parent_id" not in segment
    assert segment["http"] == {
        "request": {
            "method": "GET",
            "url": f"{url}/links/abc",
            "client_ip": "127.0.0.1",
            "user_agent": "probe/1.0",
        },
        "response": {"status": 200, "content_length": 3},
    }
    assert segment["annotations"] == {"method": "GET", "route": "/links/{code}", "status": 200}
    assert not any(segment.get(flag) for flag in ("error", "throttle", "fault"))
    assert segment["start_time"] <= segment["end_time"]
    assert segment["aws"]["xray"]["sdk"] == "X-Ray for Python"
    assert sink.receive() == []


def test_request_under_uvicorn_continues_the_incoming_trace(sink: DaemonSink) -> None:
    with serve(build_app()) as url:
        response = httpx.get(f"{url}/links/abc", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent={PARENT};Sampled=1"})
    [segment] = sink.receive(1)

    assert (segment["trace_id"], segment["parent_id"]) == (ROOT, PARENT)
    assert response.headers["X-Amzn-Trace-Id"] == f"Root={ROOT}"


async def test_a_caller_that_asks_for_the_decision_gets_it(sink: DaemonSink) -> None:
    response = await get(build_app(), "/links/abc", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Sampled=?"})
    [segment] = sink.receive(1)

    assert segment["trace_id"] == ROOT
    assert "parent_id" not in segment
    assert response.headers["X-Amzn-Trace-Id"] == f"Root={ROOT};Sampled=1"


async def test_an_incoming_unsampled_decision_is_respected(sink: DaemonSink) -> None:
    response = await get(
        build_app(), "/links/abc", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent={PARENT};Sampled=0"}
    )

    assert response.headers["X-Amzn-Trace-Id"] == f"Root={ROOT}"
    assert sink.receive() == []


async def test_the_sampling_rules_decide_without_an_incoming_header(sink: DaemonSink) -> None:
    app = build_app(sampling_rules=NEVER)
    response = await get(app, "/links/abc")
    asked = await get(app, "/links/abc", headers={"X-Amzn-Trace-Id": "Sampled=?"})

    assert response.headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert asked.headers["X-Amzn-Trace-Id"].endswith(";Sampled=0")
    assert sink.receive() == []


async def test_the_service_name_can_come_from_the_environment(
    sink: DaemonSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_XRAY_TRACING_NAME", "links-staging")
    await get(build_app(), "/links/abc")

    assert sink.receive(1)[0]["name"] == "links-staging"


async def test_no_cookie_authorization_or_body_reaches_the_trace(sink: DaemonSink) -> None:
    async with asgi_client(build_app()) as client:
        await client.post(
            "/links/abc",
            headers={"Cookie": "session=s3cr3t-cookie", "Authorization": "Bearer s3cr3t-token"},
            content=b"s3cr3t-body",
        )
    [segment] = sink.receive(1)

    assert segment["http"]["response"]["status"] == 405
    assert "s3cr3t" not in str(segment)


# --- Outcomes -----------------------------------------------------------------------------------------------


async def test_an_exception_is_recorded_with_its_stack(sink: DaemonSink) -> None:
    response = await get(build_app(), "/boom")
    [segment] = sink.receive(1)

    assert response.status_code == 500
    assert segment["fault"] is True
    assert segment["http"]["response"] == {"status": 500}
    assert segment["annotations"]["route"] == "/boom"
    [exception] = segment["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("RuntimeError", "the link table is on fire")
    assert exception["stack"][-1]["label"] == "boom"
    assert exception["stack"][-1]["path"] == "test_tracing.py"


async def test_an_unmatched_path_is_an_error_without_a_route(sink: DaemonSink) -> None:
    response = await get(build_app(), "/nowhere")
    [segment] = sink.receive(1)

    assert response.status_code == 404
    assert segment["error"] is True
    assert not segment.get("fault")
    assert segment["annotations"] == {"method": "GET", "status": 404}


async def test_a_404_from_a_route_keeps_its_route(sink: DaemonSink) -> None:
    await get(build_app(), "/links/missing")
    [segment] = sink.receive(1)

    assert segment["error"] is True
    assert segment["annotations"]["route"] == "/links/{code}"


@pytest.mark.parametrize(
    ("code", "flags"),
    [(429, {"error", "throttle"}), (400, {"error"}), (503, {"fault"}), (302, set())],
)
async def test_status_codes_set_the_flags(sink: DaemonSink, code: int, flags: set[str]) -> None:
    await get(build_app(), f"/status/{code}")
    [segment] = sink.receive(1)

    assert {flag for flag in ("error", "throttle", "fault") if segment.get(flag)} == flags
    assert segment["annotations"]["status"] == code


async def test_a_streamed_body_is_counted(sink: DaemonSink) -> None:
    await get(build_app(), "/stream")

    assert sink.receive(1)[0]["http"]["response"] == {"status": 200, "content_length": 5}


@pytest.mark.parametrize(
    ("path", "route"),
    [("/api/v1/items/7", "/api/v1/items/{item_id:int}"), ("/static/app.css", "/static/{path}"), ("/api/v2/x", None)],
)
async def test_mounted_routes_compose_their_template(sink: DaemonSink, path: str, route: str | None) -> None:
    await get(build_app(), path)

    assert sink.receive(1)[0]["annotations"].get("route") == route


async def test_a_mounted_route_that_refuses_the_method_keeps_its_template(sink: DaemonSink) -> None:
    async with asgi_client(build_app()) as client:
        response = await client.delete("/api/v1/items/7")

    assert response.status_code == 405
    assert sink.receive(1)[0]["annotations"]["route"] == "/api/v1/items/{item_id:int}"


async def test_messages_other_than_the_response_pass_through(sink: DaemonSink) -> None:
    async def with_trailers(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"ok"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]})

    messages = await call(XRayMiddleware(with_trailers, service=SERVICE, sampling_rules=ALWAYS), http_scope())

    assert [message["type"] for message in messages][-1] == "http.response.trailers"
    assert sink.receive(1)[0]["http"]["response"] == {"status": 200, "content_length": 2}


async def test_an_app_that_never_answers_leaves_the_status_out(sink: DaemonSink) -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    await call(XRayMiddleware(silent, service=SERVICE, sampling_rules=ALWAYS), http_scope())
    [segment] = sink.receive(1)

    assert "http" not in segment or "response" not in segment["http"]
    assert "status" not in segment["annotations"]


# --- DynamoDB and concurrency -------------------------------------------------------------------------------


def dynamodb_calls(segment: dict[str, Any]) -> list[dict[str, Any]]:
    return [entity for entity in walk(segment) if entity is not segment and entity["name"] == "dynamodb"]


def test_concurrent_requests_each_hold_their_own_dynamodb_calls(sink: DaemonSink, items: type[Item]) -> None:
    """24 requests at once on one event loop, sync and async endpoints, 1 to 3 calls each: every call sits under
    the request that made it, and under no other."""
    paths = [f"/items{'-async' if n % 2 else ''}/{n % 3 + 1}" for n in range(24)]

    async def run(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    with serve(build_app()) as url:
        responses = asyncio.run(run(url))
    segments = assemble(sink.receive(len(paths), timeout=10))

    assert [response.status_code for response in responses] == [200] * len(paths)
    assert sorted(segment["http"]["request"]["url"].removeprefix(url) for segment in segments) == sorted(paths)
    assert len({segment["trace_id"] for segment in segments}) == len(paths)
    for segment in segments:
        calls = dynamodb_calls(segment)
        assert len(calls) == int(segment["http"]["request"]["url"].rsplit("/", 1)[1])
        for call in calls:
            assert call["parent_id"] == segment["id"]
            assert call["namespace"] == "aws"
            assert call["aws"]["operation"] == "GetItem"
            assert call["aws"]["table_name"] == "tracing-items"
            assert segment["start_time"] <= call["start_time"] <= call["end_time"] <= segment["end_time"]


def test_the_sdk_contexts_lose_calls_made_in_worker_threads(recorder: Any, items: type[Item]) -> None:
    """Why the middleware brings its own context: the same concurrent requests under the SDK's thread-local
    `Context` and its task-local `AsyncContext` lose or mis-file the calls made in worker threads."""
    from aws_xray_sdk.core.async_context import AsyncContext
    from aws_xray_sdk.core.context import Context

    async def request(n: int) -> Any:
        segment = recorder.begin_segment(f"request-{n}", sampling=1)
        await asyncio.sleep(0.005)
        await anyio.to_thread.run_sync(Item.get, "a")
        recorder.end_segment()
        return segment

    async def concurrently(context: Any) -> list[Any]:
        recorder.configure(context=context() if context is Context else context(loop=asyncio.get_running_loop()))
        # Under the thread-local context the requests share one slot: some even fail to end their segment.
        return await asyncio.gather(*(request(n) for n in range(20)), return_exceptions=True)

    with DaemonSink() as sink:
        recorder.emitter._ip, recorder.emitter._port = "127.0.0.1", int(sink.address.rsplit(":", 1)[1])
        XRayMiddleware(plain_asgi, service=SERVICE, enabled=True, sampling_rules=ALWAYS)  # patches botocore
        sdk_logger = logging.getLogger("aws_xray_sdk")
        for context in (Context, AsyncContext):
            # Both log "cannot find the current segment/subsegment" for every lost call: expected here.
            sdk_logger.setLevel(logging.CRITICAL)
            try:
                asyncio.run(concurrently(context))
            finally:
                sdk_logger.setLevel(logging.NOTSET)
            documents = assemble(sink.receive())
            nested = [document for document in documents if len(dynamodb_calls(document)) == 1]
            assert len(nested) < 20, context


def test_a_call_outside_any_request_is_neither_traced_nor_noisy(
    sink: DaemonSink, items: type[Item], caplog: pytest.LogCaptureFixture
) -> None:
    build_app().build_middleware_stack()  # configures the recorder and patches botocore
    with caplog.at_level(logging.DEBUG, logger="aws_xray_sdk"):
        Item.get("a")

    assert sink.receive() == []
    assert [record for record in caplog.records if record.name.startswith("aws_xray_sdk")] == []


# --- In Lambda ----------------------------------------------------------------------------------------------


def rest_event(path: str, **headers: str) -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) event for GET `path` on the stage `live`."""
    event = load_event("voker/rest-v1-live-encoding-probe.json")
    event_headers = {"Host": event["headers"]["Host"], "User-Agent": "probe/1.0", **headers}
    event.update(
        path=path,
        httpMethod="GET",
        headers=event_headers,
        multiValueHeaders={key: [value] for key, value in event_headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        pathParameters={"proxy": path.lstrip("/")},
        body=None,
    )
    event["requestContext"].update(path=f"/live{path}", httpMethod="GET")
    return event


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch, sink: DaemonSink) -> DaemonSink:
    """The variables the Lambda runtime sets, before the application is built (as it is at import in Lambda)."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "links")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    return sink


def invoke(handler: LambdaAdapter, event: dict[str, Any], root: str, parent: str, sampled: str = "1") -> Any:
    # The runtime sets the invocation's trace header in the environment just before it calls the handler.
    os.environ["_X_AMZN_TRACE_ID"] = f"Root={root};Parent={parent};Sampled={sampled}"
    return handler(event, LambdaContextStub())


def test_in_lambda_each_invocation_is_a_subsegment_of_its_own_trace(in_lambda: DaemonSink, items: type[Item]) -> None:
    handler = LambdaAdapter(build_app(sampling_rules=None))
    invocations = [(f"1-6a5145a8-{n:024x}", f"{n + 1:016x}") for n in range(3)]
    responses = [invoke(handler, rest_event("/items/2", Cookie="session=s3cr3t"), *ids) for ids in invocations]
    documents = in_lambda.receive(3 * 3, timeout=10)
    handler.close()
    requests = assemble(documents)

    assert [response["statusCode"] for response in responses] == [200, 200, 200]
    # Two DynamoDB calls and the request in each invocation: each call is sent as soon as it is complete.
    assert len(documents) == 9
    assert sorted((request["trace_id"], request["parent_id"]) for request in requests) == invocations
    for request in requests:
        assert request["type"] == "subsegment"
        assert request["name"] == SERVICE
        assert request["http"] == {
            "request": {
                "method": "GET",
                "url": "https://5h7pqvr9u4.execute-api.us-west-2.amazonaws.com/live/items/2",
                "client_ip": "68.8.83.18",
                "user_agent": "probe/1.0",
            },
            "response": {"status": 200, "content_length": 1},
        }
        assert request["annotations"] == {"method": "GET", "route": "/items/{count:int}", "status": 200}
        calls = dynamodb_calls(request)
        assert [call["trace_id"] for call in calls] == [request["trace_id"]] * 2
        assert [call["parent_id"] for call in calls] == [request["id"]] * 2
        assert "s3cr3t" not in str(request)
    assert "x-amzn-trace-id" not in {name.lower() for name in responses[0].get("headers", {})}


def test_in_lambda_an_unsampled_or_untraced_invocation_sends_nothing(in_lambda: DaemonSink) -> None:
    handler = LambdaAdapter(build_app())
    unsampled = invoke(handler, rest_event("/links/abc"), ROOT, PARENT, sampled="0")
    os.environ.pop("_X_AMZN_TRACE_ID")
    untraced = handler(rest_event("/links/abc"), LambdaContextStub())
    handler.close()

    assert [unsampled["statusCode"], untraced["statusCode"]] == [200, 200]
    assert in_lambda.receive() == []


def test_in_lambda_an_exception_is_a_fault_of_the_subsegment(in_lambda: DaemonSink) -> None:
    handler = LambdaAdapter(build_app())
    response = invoke(handler, rest_event("/boom"), ROOT, PARENT)
    handler.close()
    [request] = in_lambda.receive(1)

    assert response["statusCode"] == 500
    assert (request["trace_id"], request["parent_id"], request["fault"]) == (ROOT, PARENT, True)
    assert request["cause"]["exceptions"][0]["type"] == "RuntimeError"


# --- Off ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "configured"),
    [
        ({}, False),
        ({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "links", "LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "links"}, False),
        ({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_SDK_ENABLED": "false"}, False),
        ({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_SDK_ENABLED": "true"}, True),
    ],
)
def test_tracing_is_on_in_lambda_or_with_a_daemon_address(environ: dict[str, str], configured: bool) -> None:
    assert xray_configured(environ) is configured


def test_off_it_neither_imports_the_sdk_nor_sends_nor_logs() -> None:
    """In a fresh interpreter, as in a cold start: the local default (no daemon address, not in Lambda)."""
    script = """
import asyncio, logging, sys, socket
logging.basicConfig(level=logging.DEBUG)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from adapter.tracing import XRayMiddleware

async def hello(request):
    return PlainTextResponse("hi")

app = Starlette(routes=[Route("/", hello)], middleware=[Middleware(XRayMiddleware, service="links")])

async def main():
    messages = []
    async def receive():
        return {"type": "http.request", "body": b""}
    async def send(message):
        messages.append(message)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return messages[0]["status"]

print(asyncio.run(main()), "aws_xray_sdk" in sys.modules)
"""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_XRAY", "AWS_LAMBDA"))}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, check=True)

    assert result.stdout.split() == ["200", "False"]
    assert "segment" not in result.stderr.lower()


async def test_off_the_middleware_passes_requests_straight_through(sink: DaemonSink) -> None:
    app = build_app(enabled=False)
    response = await get(app, "/links/abc")

    assert response.text == "abc"
    assert "X-Amzn-Trace-Id" not in response.headers
    assert sink.receive() == []


async def test_websocket_and_lifespan_scopes_pass_through(sink: DaemonSink) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    middleware = XRayMiddleware(app, service=SERVICE, sampling_rules=ALWAYS)
    await call(middleware, {"type": "lifespan"})
    await call(middleware, {"type": "websocket", "path": "/ws", "headers": []})

    assert seen == ["lifespan", "websocket"]
    assert sink.receive() == []


async def test_a_tracer_that_declines_a_request_leaves_it_alone() -> None:
    class Declines:
        def start(self, request: Any) -> None:
            return None

    response = await get(TracingMiddleware(build_app(enabled=False), Declines()), "/links/abc")

    assert response.text == "abc"


# --- The SDK's global state ---------------------------------------------------------------------------------


def test_botocore_is_patched_once_and_unpatched_after_the_test() -> None:
    from adapter.tracing.xray import patch_botocore

    client = importlib.import_module("botocore.client")
    original = vars(client.BaseClient)["_make_api_call"]
    with isolated_xray_recorder():
        assert patch_botocore() is True
        patched = vars(client.BaseClient)["_make_api_call"]
        assert patch_botocore() is False
        XRayMiddleware(plain_asgi, service=SERVICE, enabled=True, sampling_rules=ALWAYS)
        assert vars(client.BaseClient)["_make_api_call"] is patched
        # PynamoDB goes through botocore's client: patching it as well would record each call twice.
        assert not hasattr(importlib.import_module("botocore.httpsession"), "_xray_enabled")
    assert vars(client.BaseClient)["_make_api_call"] is original
    assert not hasattr(client, "_xray_enabled")


def test_the_sink_reads_only_daemon_datagrams() -> None:
    with DaemonSink() as sink, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        host, port = sink.address.split(":")
        sender.sendto(b'{"format":"json","version":1}\n{"id": "1"}', (host, int(port)))
        assert sink.receive(2, timeout=0.2) == [{"id": "1"}]
        sender.sendto(b"hello", (host, int(port)))
        with pytest.raises(ValueError, match="not an X-Ray daemon datagram"):
            sink.receive(1)


def test_the_recorder_is_restored_after_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_xray_sdk.core import xray_recorder

    context, address = xray_recorder.context, (xray_recorder.emitter.ip, xray_recorder.emitter.port)
    with isolated_xray_recorder():
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "links")
        monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.2:2999")
        XRayMiddleware(plain_asgi, service="elsewhere")
        assert (xray_recorder.service, xray_recorder.streaming_threshold) == ("elsewhere", 0)
        assert xray_recorder.emitter.ip == "127.0.0.2"
    assert xray_recorder.context is context
    assert (xray_recorder.emitter.ip, xray_recorder.emitter.port) == address
    assert xray_recorder.streaming_threshold != 0


def test_the_context_behaves_as_the_sdk_expects(recorder: Any) -> None:
    from adapter.tracing.xray import ContextVarContext

    context = ContextVarContext()
    recorder.configure(context=context, sampling=False)
    segment = recorder.begin_segment("request", sampling=1)
    subsegment = recorder.begin_subsegment("work")

    assert recorder.get_trace_entity() is subsegment
    assert recorder.current_segment() is segment
    assert context.end_subsegment() is True
    assert context.end_subsegment() is False  # a segment is not a subsegment
    context.set_trace_entity(subsegment)
    context.end_segment()  # with a subsegment current, it is its segment that ends
    assert (segment.in_progress, subsegment.in_progress) == (False, False)
    context.clear_trace_entities()
    context.end_segment()  # nothing open: nothing to do
    assert recorder.get_trace_entity().sampled is False


async def call(app: Any, scope: Scope) -> list[Message]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


def http_scope(**items: Any) -> Scope:
    return {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", **items}


def test_the_sdk_socket_is_closed_at_exit() -> None:
    from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

    from adapter.tracing.xray import _close_emitter_socket

    with isolated_xray_recorder() as recorder:
        recorder.emitter = UDPEmitter()
        _close_emitter_socket()  # what runs at exit
        assert recorder.emitter._socket.fileno() == -1
