from __future__ import annotations

import asyncio
import atexit
import gc
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapter import (
    AdapterError,
    ConfigurationError,
    InvalidResponse,
    LambdaAdapter,
    MalformedEvent,
    UnsupportedEvent,
)
from adapter import handler as handler_module
from adapter.handler import MAX_RESPONSE_BYTES
from adapter.sources import HTTPAPIV2
from adapter.types import Receive, Response, Scope, Send
from tests.adapter.builders import make_alb_event, make_edge_event, make_http_v2_event, make_rest_event
from tests.adapter.conftest import AdapterFactory, echo_app, responder
from tests.conftest import LambdaContextStub


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lifespan": "sometimes"}, "lifespan must be one of 'auto', 'on' or 'off', not 'sometimes'"),
        ({"api_gateway_base_path": 5}, "api_gateway_base_path must be a string, not int"),
        ({"api_gateway_base_path": "/v1?x"}, "api_gateway_base_path must be a plain path"),
        ({"api_gateway_base_path": "/v 1"}, "api_gateway_base_path must be a plain path"),
        ({"text_mime_types": "text/csv"}, "text_mime_types must be a list of strings, not 'text/csv'"),
        ({"text_mime_types": 3}, "text_mime_types must be a list of strings, not 3"),
        ({"text_mime_types": ["csv"]}, "entries must look like 'type/subtype', not 'csv'"),
        ({"text_mime_types": [""]}, "must be a list of non-empty strings; '' is not one"),
        ({"exclude_headers": [b"x-a"]}, "must be a list of non-empty strings; b'x-a' is not one"),
        ({"exclude_headers": ["x a"]}, "exclude_headers entries must be header names, not 'x a'"),
        ({"exclude_headers": ["\u00e9"]}, "exclude_headers entries must be header names"),
    ],
)
def test_bad_options_are_refused_when_the_adapter_is_built(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("?", r"\?")):
        LambdaAdapter(echo_app, **options)


def test_options_are_normalised() -> None:
    adapter = LambdaAdapter(
        echo_app,
        api_gateway_base_path="v1/",
        text_mime_types=["Application/CSV; charset=utf-8"],
        exclude_headers=["X-A"],
    )
    assert adapter.config.api_gateway_base_path == "/v1"
    assert adapter.config.text_mime_types == frozenset({"application/csv"})
    assert adapter.config.exclude_headers == frozenset({"x-a"})
    assert LambdaAdapter(echo_app, api_gateway_base_path=None).config.api_gateway_base_path == ""
    assert LambdaAdapter(echo_app, api_gateway_base_path="/").config.api_gateway_base_path == ""


@pytest.mark.parametrize("event", [None, [], "GET /", 42], ids=repr)
def test_an_event_that_is_not_an_object(event: Any, make_adapter: AdapterFactory) -> None:
    with pytest.raises(UnsupportedEvent, match="a Lambda event must be a JSON object"):
        make_adapter()(event, None)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": [{"eventSource": "aws:sqs"}]},
        {"Records": [{"cf": {}}, {"cf": {}}]},
        {"version": "2.0"},
        {"httpMethod": "GET", "requestContext": "nope"},
        {"requestContext": {"connectionId": "abc"}},
    ],
    ids=["empty", "sqs", "two-cloudfront-records", "v2-without-context", "context-not-object", "websocket"],
)
def test_unsupported_events_say_what_was_looked_at(event: dict[str, Any], make_adapter: AdapterFactory) -> None:
    with pytest.raises(UnsupportedEvent) as raised:
        make_adapter()(event, None)
    message = str(raised.value)
    assert "WebSocket" in message or ("requestContext.elb (ALB)" in message and "event's keys" in message)


@pytest.mark.parametrize(
    "event",
    [
        {**make_http_v2_event(), "headers": ["not", "a", "dict"]},
        {**make_rest_event(), "requestContext": {"stage": "live", "identity": "nope"}},
        {**make_alb_event(), "multiValueQueryStringParameters": ["a=1"]},
        make_edge_event() | {"Records": [{"cf": {"request": {"method": "GET", "uri": "/", "headers": {"a": [1]}}}}]},
    ],
    ids=["v2-headers-list", "rest-identity-string", "alb-query-list", "edge-header-not-object"],
)
def test_malformed_events_never_leak_a_key_or_type_error(event: dict[str, Any], make_adapter: AdapterFactory) -> None:
    with pytest.raises(MalformedEvent, match="event is malformed: ") as raised:
        make_adapter()(event, None)
    assert isinstance(raised.value.__cause__, (KeyError, TypeError, AttributeError, ValueError, IndexError))


def test_a_malformed_event_error_does_not_quote_values(make_adapter: AdapterFactory) -> None:
    # A ValueError's text may carry a header or the body; the message names the exception, the cause keeps it.
    class Quoting(HTTPAPIV2):
        @classmethod
        def to_request(cls, event: dict[str, Any], context: object, config: object) -> tuple[Scope, bytes]:
            raise ValueError("invalid literal: 'Bearer secret-token'")

    with pytest.raises(MalformedEvent) as raised:
        make_adapter(sources=(Quoting,))(make_http_v2_event(), None)
    assert str(raised.value) == f"{HTTPAPIV2.name} event is malformed: ValueError"
    assert "secret-token" in str(raised.value.__cause__)


def test_the_app_sees_the_lambda_event_and_context(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.update(event=scope["aws.event"], context=scope["aws.context"])
        await responder(204, [], b"")(scope, receive, send)

    event = make_http_v2_event()
    make_adapter(app, lifespan="off")(event, lambda_context)
    assert seen == {"event": event, "context": lambda_context}


def test_exclude_headers_and_text_mime_types(make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    app = responder(
        200, [(b"content-type", b"application/vnd.api+csv"), (b"X-Internal", b"1"), (b"x-kept", b"2")], b"a,b"
    )
    result = make_adapter(app, exclude_headers=["x-internal"], text_mime_types=["application/vnd.api+csv"])(
        make_http_v2_event(), lambda_context
    )
    assert result["headers"] == {"content-type": "application/vnd.api+csv", "x-kept": "2"}
    assert (result["body"], result["isBase64Encoded"]) == ("a,b", False)


@pytest.mark.parametrize(
    ("headers", "body", "text"),
    [
        ([(b"content-type", b"text/html; charset=utf-8")], "<p>\u00e9</p>", True),
        ([(b"content-type", b"application/json")], "{}", True),
        ([(b"content-type", b"application/problem+json")], "{}", True),
        ([(b"content-type", b"image/svg+xml")], "<svg/>", True),
        ([(b"content-type", b"application/x-www-form-urlencoded")], "a=1", True),
        ([(b"content-type", b"application/javascript")], "x()", True),
        ([(b"content-type", b"application/json"), (b"content-encoding", b"gzip")], "{}", False),
        ([(b"content-type", b"text/plain"), (b"content-encoding", b"identity")], "hi", True),
        ([(b"content-type", b"text/plain; charset=latin-1")], "\u00e9", False),  # not UTF-8: base64 keeps the bytes
        ([(b"content-type", b"application/octet-stream")], "x", False),
        ([], "no type", False),
    ],
)
def test_text_or_base64(
    headers: list[tuple[bytes, bytes]], body: str, text: bool, make_adapter: AdapterFactory
) -> None:
    raw = body.encode("latin-1" if b"latin-1" in b"".join(value for _, value in headers) else "utf-8")
    result = make_adapter(responder(200, headers, raw))(make_http_v2_event(), None)
    assert result["isBase64Encoded"] is not text
    assert result["body"] == (body if text else __import__("base64").b64encode(raw).decode())


def test_response_over_the_payload_limit_is_a_visible_500(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub, caplog: pytest.LogCaptureFixture
) -> None:
    # 4.8 MB of bytes become 6.4 MB of base64: over the limit although the app's body is under it.
    app = responder(200, [(b"content-type", b"application/octet-stream")], b"\xff" * 4_800_000)
    result = make_adapter(app)(make_http_v2_event(), lambda_context)
    assert result == {
        "statusCode": 500,
        "headers": {"content-type": "text/plain; charset=utf-8", "content-length": "33"},
        "body": "Response too large for AWS Lambda",
        "isBase64Encoded": False,
    }
    [record] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert lambda_context.aws_request_id in record.getMessage() and str(MAX_RESPONSE_BYTES) in record.getMessage()


def test_large_response_under_the_limit_is_returned(make_adapter: AdapterFactory) -> None:
    # Escaping matters for text: 2 MB of quotes become 4 MB of JSON, still under the limit.
    app = responder(200, [(b"content-type", b"text/plain")], b'"' * 2_000_000)
    result = make_adapter(app)(make_rest_event(), None)
    assert result["statusCode"] == 200 and len(result["body"]) == 2_000_000
    big = responder(200, [(b"content-type", b"text/plain")], b'"' * 3_200_000)
    assert make_adapter(big)(make_rest_event(), None)["statusCode"] == 500


@pytest.mark.parametrize(
    ("event", "under", "over", "limit"),
    [
        # The load balancer takes back at most 1 MB of JSON; CloudFront 40 KB for a viewer request, 1 MB for an
        # origin request. Past them they answer 502 without a word; the adapter answers 500 and logs why.
        (make_alb_event(), 1_000_000, 1_100_000, 1024 * 1024),
        (make_edge_event(event_type="viewer-request"), 40_000, 42_000, 40 * 1024),
        (make_edge_event(event_type="origin-request"), 1_000_000, 1_100_000, 1024 * 1024),
    ],
    ids=["alb", "edge-viewer-request", "edge-origin-request"],
)
def test_the_services_own_response_limits(
    event: dict[str, Any],
    under: int,
    over: int,
    limit: int,
    make_adapter: AdapterFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def status(size: int) -> int:
        result = make_adapter(responder(200, [(b"content-type", b"text/plain")], b"x" * size))(event, None)
        return int(result.get("statusCode") or result["status"])

    assert status(under) == 200
    assert status(over) == 500
    [record] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert f"over the {limit} byte limit on responses to" in record.getMessage()


@pytest.mark.parametrize(("execution_env", "status"), [("AWS_Lambda_python3.12", 200), ("AWS_Lambda_python3.11", 500)])
def test_non_ascii_text_counts_as_the_runtime_writes_it(
    execution_env: str, status: int, make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4.4 MB of Cyrillic: that many bytes of UTF-8 from python3.12 on, 13.2 MB of \u escapes before.
    monkeypatch.setenv("AWS_EXECUTION_ENV", execution_env)
    app = responder(200, [(b"content-type", b"text/plain; charset=utf-8")], "\u0436".encode() * 2_200_000)
    assert make_adapter(app)(make_http_v2_event(), None)["statusCode"] == status


def test_a_small_body_of_control_characters_is_measured_too(make_adapter: AdapterFactory) -> None:
    # 1 MiB of \x01 is 6 MiB of \u0001 escapes, over the limit once the headers are counted.
    app = responder(200, [(b"content-type", b"text/plain")], b"\x01" * 1024 * 1024)
    assert make_adapter(app)(make_http_v2_event(), None)["statusCode"] == 500


def test_edge_payload_size_uses_body_encoding(make_adapter: AdapterFactory) -> None:
    app = responder(200, [(b"content-type", b"application/octet-stream")], b"\x00" * 4_800_000)
    assert make_adapter(app)(make_edge_event(), None)["status"] == "500"


def test_without_context_the_request_id_is_a_dash(
    make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    assert make_adapter(app, lifespan="off")(make_http_v2_event(), None)["statusCode"] == 500
    assert caplog.records[0].getMessage().endswith("[-]")


def test_custom_sources(make_adapter: AdapterFactory) -> None:
    handler = make_adapter(sources=(HTTPAPIV2,))
    with pytest.raises(UnsupportedEvent):
        handler(make_rest_event(), None)
    assert json.loads(handler(make_http_v2_event(), None)["body"])["method"] == "GET"


def test_a_closed_adapter_starts_again(make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    handler = make_adapter()
    handler(make_http_v2_event(), lambda_context)
    handler.close()
    assert json.loads(handler(make_http_v2_event(), lambda_context)["body"])["state"] == {"started": True}


def test_one_event_loop_for_the_life_of_the_adapter(make_adapter: AdapterFactory) -> None:
    handler = make_adapter()
    loop = handler.loop
    handler(make_http_v2_event(), None)
    assert handler.loop is loop and not loop.is_running()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, [(b"content-length", b"4")]),
        ({"Content-Length": ["4"]}, [(b"content-length", b"4")]),
        ({"Transfer-Encoding": ["chunked"]}, [(b"transfer-encoding", b"chunked")]),
    ],
)
def test_a_body_always_comes_with_its_length_or_encoding(
    headers: dict[str, list[str]], expected: list[tuple[bytes, bytes]], make_adapter: AdapterFactory
) -> None:
    event = make_rest_event(method="POST", headers=headers, body="data")
    response = json.loads(make_adapter()(event, None)["body"])
    framing = [(name, value) for name, value in response["headers"] if name in ("content-length", "transfer-encoding")]
    assert framing == [(name.decode(), value.decode()) for name, value in expected]


@pytest.mark.parametrize(
    "headers",
    [
        [(bytearray(b"Content-Type"), memoryview(b"text/plain")), (b"x-a", bytearray(b"1"))],
        ((b"content-type", b"text/plain"), [b"x-a", b"1"]),  # any iterable of pairs, lists as pairs
        # A generator can be read once, and a memoryview value has the headers read a second time.
        (pair for pair in [(b"content-type", b"text/plain"), (b"x-a", memoryview(b"1"))]),
    ],
)
def test_bytes_like_response_headers_are_read_as_bytes(
    headers: list[tuple[bytes, bytes]], make_adapter: AdapterFactory
) -> None:
    result = make_adapter(responder(200, headers, b"hi"))(make_http_v2_event(), None)
    assert result["headers"] == {"content-type": "text/plain", "x-a": "1"}
    assert (result["body"], result["isBase64Encoded"]) == ("hi", False)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("content-type", "text/plain")], "names and values must be byte strings; got str 'content-type': str"),
        ([(b"x-a", 1)], "names and values must be byte strings; got bytes b'x-a': int"),
        ([(b"x-a",)], r"must be \[name, value\] pairs; header 0 is a tuple of length 1$"),
        ([(b"x-a", b"1"), None], r"must be \[name, value\] pairs; header 1 is a NoneType$"),
        # A header sent as one line is not logged: it may be a cookie.
        ([b"set-cookie: session=secret"], r"must be \[name, value\] pairs; header 0 is a bytes of length 26$"),
    ],
)
def test_response_headers_that_are_not_byte_pairs_give_a_500(
    headers: list[tuple[bytes, bytes]], message: str, make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="adapter"):
        result = make_adapter(responder(200, headers, b"hi"))(make_http_v2_event(), None)
    assert result["statusCode"] == 500
    assert result["body"] == "Internal Server Error"
    [record] = caplog.records
    assert re.search(message, record.getMessage().removesuffix("; answering 500 [-]")), record.getMessage()
    assert record.getMessage().endswith("; answering 500 [-]")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"S\xc3\xa3o Paulo", "S\u00e3o Paulo"),  # UTF-8: AWS writes the string back as these bytes
        (b"caf\xe9", "caf\u00e9"),  # not UTF-8: each byte is a Latin-1 character
        (bytearray(b"caf\xe9"), "caf\u00e9"),
    ],
)
def test_response_header_values_are_read_as_utf_8(value: bytes, text: str, make_adapter: AdapterFactory) -> None:
    headers = [(b"content-type", b"text/plain"), (b"x-city", value), (b"x-city", b"B\xc3\xa9ja")]
    result = make_adapter(responder(200, headers, b"hi"))(make_rest_event(), None)
    assert result["multiValueHeaders"] == {"x-city": [text, "B\u00e9ja"]}


def test_a_repeated_content_type_decides_by_its_first_value(make_adapter: AdapterFactory) -> None:
    headers = [(b"content-type", b"text/plain"), (b"Content-Type", b"image/png"), (b"set-cookie", b"a=1")]
    result = make_adapter(responder(200, headers, b"hi"))(make_http_v2_event(), None)
    assert (result["body"], result["isBase64Encoded"]) == ("hi", False)
    assert result["headers"] == {"content-type": "text/plain, image/png"}
    assert result["cookies"] == ["a=1"]
    encoded = [(b"content-encoding", b"gzip"), (b"content-encoding", b"br"), (b"content-type", b"text/plain")]
    assert make_adapter(responder(200, encoded, b"hi"))(make_http_v2_event(), None)["isBase64Encoded"]


_EXIT_SCRIPT = """
import asyncio
from adapter import LambdaAdapter
from tests.adapter.builders import make_http_v2_event

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await asyncio.to_thread(print, "closed the pool in a thread")
                await send({"type": "lifespan.shutdown.complete"})
                return
    await asyncio.to_thread(lambda: None)  # the loop's default executor now has a worker
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

handler = LambdaAdapter(app)
print(handler(make_http_v2_event(), None)["statusCode"])
"""


def test_the_shutdown_at_process_exit_can_use_threads() -> None:
    # At exit Python stops thread pools before atexit callbacks run, and 3.12 refuses to start threads there: the
    # adapter shuts down before both, so asyncio.to_thread works and nothing is reported at exit.
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _EXIT_SCRIPT], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert (result.stdout.splitlines(), result.stderr) == (["200", "closed the pool in a thread"], "")


def test_a_shutdown_that_fails_at_process_exit_is_logged() -> None:
    script = _EXIT_SCRIPT.replace('print, "closed the pool in a thread"', "int, 'not a number'")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines() == ["200"]
    assert result.stderr.startswith("Closing the adapter at process exit failed\n")
    assert "LifespanError: ASGI lifespan shutdown failed: ValueError" in result.stderr
    assert "Exception ignored" not in result.stderr


async def failing_shutdown(scope: Scope, receive: Receive, send: Send) -> None:
    """A lifespan whose shutdown raises."""
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    raise RuntimeError("the pool would not close")


def test_the_exit_hook_logs_a_failing_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    handler = LambdaAdapter(failing_shutdown, lifespan="on")
    handler.startup()
    loop = handler.loop
    handler_module.close_all_at_exit()  # raising here would stop threading's exit hooks registered before it
    [record] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert record.getMessage() == "Closing the adapter at process exit failed"
    assert record.exc_info is not None and "the pool would not close" in str(record.exc_info[1])
    assert loop.is_closed()


@pytest.mark.parametrize("has_threading_hook", [True, False])
def test_the_exit_hook_is_registered_once(
    has_threading_hook: bool, make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[Callable[[], None]] = []
    monkeypatch.setattr(handler_module, "_hooked", False)
    if has_threading_hook:
        monkeypatch.setattr(threading, "_register_atexit", registered.append)
    else:
        # Without threading's private hook, the adapter closes from atexit.
        monkeypatch.delattr(threading, "_register_atexit")
        monkeypatch.setattr(atexit, "register", registered.append)
    first, second = make_adapter(), make_adapter()
    first(make_http_v2_event(), None)
    second(make_http_v2_event(), None)
    loops = [first.loop, second.loop]
    assert registered == [handler_module.close_all_at_exit]
    registered[0]()
    assert [loop.is_closed() for loop in loops] == [True, True]


def test_an_adapter_that_is_collected_is_closed(lambda_context: LambdaContextStub) -> None:
    events: list[str] = []
    handler = LambdaAdapter(lifespan_recorder(events))
    handler(make_http_v2_event(), lambda_context)
    loop = handler.loop
    del handler
    gc.collect()
    assert events == ["startup", "shutdown"]
    assert loop.is_closed()
    assert not any(runner.current is loop for runner in handler_module._open)


def test_an_adapter_collected_while_another_loop_runs_is_closed_on_a_thread_of_its_own() -> None:
    events: list[str] = []
    handler: LambdaAdapter | None = LambdaAdapter(lifespan_recorder(events))
    assert handler is not None
    handler.startup()
    loop = handler.loop

    async def drop() -> str:
        nonlocal handler
        handler = None  # collected here, while this loop runs on this thread
        gc.collect()
        return threading.current_thread().name

    assert asyncio.run(drop()) == "MainThread"
    assert events == ["startup", "shutdown"]
    assert loop.is_closed()


def test_a_closed_adapter_is_left_alone_when_collected() -> None:
    events: list[str] = []
    handler = LambdaAdapter(lifespan_recorder(events))
    handler.startup()
    handler.close()
    del handler
    gc.collect()
    assert events == ["startup", "shutdown"]


def test_a_shutdown_that_fails_when_the_adapter_is_collected_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    handler = LambdaAdapter(failing_shutdown, lifespan="on")
    handler.startup()
    del handler
    gc.collect()
    [record] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert record.getMessage() == "Closing the adapter when it was collected failed"


_DROPPED_SCRIPT = """
import gc
from adapter import LambdaAdapter
from tests.adapter.builders import make_http_v2_event

shutdowns = []

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                shutdowns.append(1)
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

def serve_one():
    handler = LambdaAdapter(app)  # as a test suite builds one per test, and never closes it
    assert handler(make_http_v2_event(), None)["statusCode"] == 200

for _ in range(20):
    serve_one()
kept = LambdaAdapter(app)  # still referenced at exit: closed by the exit hook
kept(make_http_v2_event(), None)
gc.collect()
print(len(shutdowns))
import atexit
atexit.register(lambda: print(len(shutdowns)))
"""


def test_adapters_dropped_without_close_leak_nothing_and_shut_down_once_each() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", _DROPPED_SCRIPT],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # 20 shut down when collected, the 21st at exit; no ResourceWarning for an unclosed loop or socket, no
    # "Task was destroyed but it is pending!", no "Event loop is closed".
    assert (result.stdout.splitlines(), result.stderr) == (["20", "21"], "")


def test_a_second_thread_waits_for_the_invocation_in_progress(lambda_context: LambdaContextStub) -> None:
    entered, release = threading.Event(), threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            entered.set()
            await asyncio.to_thread(release.wait, 10)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    handler = LambdaAdapter(app, lifespan="off")
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(handler(make_http_v2_event(path="/slow"), None)["body"]))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=lambda: results.append(handler(make_http_v2_event(path="/fast"), None)["body"]))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for its turn, as a second invocation waits for the environment
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["/slow", "/fast"]
    handler.close()


def test_an_application_calling_its_own_handler_gets_an_adapter_error() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            handler(make_http_v2_event(), None)
        except AdapterError as error:
            errors.append(error)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    handler = LambdaAdapter(app, lifespan="off")
    assert handler(make_http_v2_event(), None)["statusCode"] == 204
    [error] = errors
    assert "serves one invocation at a time" in str(error)
    handler.close()


def test_a_handler_called_from_a_running_event_loop_gets_an_adapter_error() -> None:
    handler = LambdaAdapter(echo_app, lifespan="off")

    async def main() -> None:
        with pytest.raises(AdapterError, match=r"asyncio\.to_thread"):
            handler(make_http_v2_event(), None)
        assert (await asyncio.to_thread(handler, make_http_v2_event(), None))["statusCode"] == 200

    asyncio.run(main())
    handler.close()


def lifespan_recorder(events: list[str]) -> Any:
    """An application that records its lifespan startup and shutdown, and answers requests with 200."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                phase = message["type"].removeprefix("lifespan.")
                events.append(phase)
                await send({"type": f"lifespan.{phase}.complete"})
                if phase == "shutdown":
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body"})

    return app


class RefusingSource(HTTPAPIV2):
    """A custom source that refuses a response as the default ones refuse headers that are not byte pairs."""

    @classmethod
    def to_response(cls, response: Any, event: Any, config: Any) -> Any:
        if response.status == 200:
            raise InvalidResponse("this source refuses the response")
        return super().to_response(response, event, config)


def test_a_response_the_source_refuses_is_a_logged_500(
    make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    result = make_adapter(sources=(RefusingSource,))(make_http_v2_event(), None)
    assert (result["statusCode"], result["body"]) == (500, "Internal Server Error")
    assert "this source refuses the response; answering 500 [-]" in caplog.text


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("content-type", "text/plain")], "byte strings; got str 'content-type': str"),
        ([b"set-cookie: session=secret"], r"pairs; header 0 is a bytes of length 26$"),
    ],
)
def test_response_parts_refuses_headers_that_are_not_byte_pairs(headers: Any, message: str) -> None:
    # The engine checks what applications send; a source's own caller gets the same check.
    from adapter.config import build_config
    from adapter.sources import response_parts

    config = build_config(lifespan="off", api_gateway_base_path="/", text_mime_types=None, exclude_headers=None)
    with pytest.raises(InvalidResponse, match=message):
        response_parts(Response(200, headers, b""), config)


def test_a_runtime_error_from_a_trigger_handler_is_raised_as_it_is(make_adapter: AdapterFactory) -> None:
    from adapter.triggers import Triggers

    triggers = Triggers()

    @triggers.on_invoke()
    def task(payload: Any, state: Any) -> None:
        raise RuntimeError("the task broke")

    with pytest.raises(RuntimeError, match="the task broke"):
        make_adapter(lifespan="off", triggers=triggers)({"job": 1}, None)


def test_close_from_another_thread_waits_for_the_invocation_in_progress() -> None:
    events: list[str] = []
    entered, release = threading.Event(), threading.Event()
    recorder = lifespan_recorder(events)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            entered.set()
            await asyncio.to_thread(release.wait, 10)
        await recorder(scope, receive, send)

    handler = LambdaAdapter(app)
    invocation = threading.Thread(target=handler, args=(make_http_v2_event(), None))
    invocation.start()
    assert entered.wait(10)
    closing = threading.Thread(target=handler.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive() and events == ["startup"]  # the shutdown waits for the invocation
    release.set()
    invocation.join(10)
    closing.join(10)
    assert events == ["startup", "shutdown"]


def test_startup_from_a_running_event_loop_gets_an_adapter_error() -> None:
    handler = LambdaAdapter(lifespan_recorder([]))

    async def main() -> None:
        with pytest.raises(AdapterError, match="called synchronously"):
            handler.startup()

    asyncio.run(main())
    handler.close()
