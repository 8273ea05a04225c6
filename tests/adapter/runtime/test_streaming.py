"""Streamed responses (`stream=True`): the HTTP integration framing over chunked transfer encoding, chunks that
leave as the application sends them, the error trailers, and the deadline."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

import pytest

from adapter import InvalidResponse, LambdaAdapter
from adapter.sources import HTTPAPIV2
from adapter.types import Receive, Scope, Send
from tests.adapter.builders import make_alb_event, make_function_url_event, make_rest_event
from tests.adapter.conftest import leaves_a_waiter
from tests.adapter.runtime import apps
from tests.adapter.runtime.conftest import MakeRuntime, serve_one
from tests.adapter.runtime.emulator import Outcome, RuntimeAPI

DELIMITER = b"\0" * 8


def split(outcome: Outcome) -> tuple[dict[str, Any], bytes]:
    """The prelude and the body of a streamed HTTP integration response."""
    assert outcome.streamed
    assert outcome.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    assert outcome.headers["transfer-encoding"] == "chunked"
    assert outcome.headers["trailer"] == "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    prelude, delimiter, body = outcome.body.partition(DELIMITER)
    assert delimiter == DELIMITER
    document: dict[str, Any] = json.loads(prelude)
    return document, body


def test_server_sent_events_reach_the_client_while_the_app_is_still_producing(
    api: RuntimeAPI, make_runtime: MakeRuntime
) -> None:
    runtime = make_runtime(stream=True)
    outcome = api.invoke(make_function_url_event(path="/events"))
    invocation = runtime.client.next()
    seen_first: list[bytes] = []
    journal_then: list[str] = []

    def release_after_the_first_event() -> None:
        # The application sends its second event only after this; a runtime that buffered would never get here.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"data: first\n\n" not in outcome.chunks:
            time.sleep(0.005)
        seen_first.extend(outcome.chunks)
        journal_then.extend(apps.gates.journal)
        apps.gates.release.set()

    thread = threading.Thread(target=release_after_the_first_event)
    thread.start()
    runtime.handle(invocation)
    thread.join()
    outcome.wait()

    assert b"data: first\n\n" in seen_first
    assert "feed finished" not in journal_then and "feed finished" in apps.gates.journal
    prelude, body = split(outcome)
    assert prelude == {"statusCode": 200, "headers": {"content-type": "text/event-stream; charset=utf-8"}}
    assert body == b"data: first\n\ndata: second\n\n"
    assert outcome.trailers == {}
    # One chunk per send: the prelude, then each event as it came.
    assert outcome.chunks[1:] == [b"data: first\n\n", b"data: second\n\n"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            make_function_url_event(path="/cookies"),
            {
                "statusCode": 200,
                "headers": {"x-tag": "1", "content-length": "7", "content-type": "text/plain; charset=utf-8"},
                "cookies": ["first=1; Path=/; SameSite=lax", "second=2; Path=/; SameSite=lax"],
            },
            id="function-url",
        ),
        pytest.param(
            make_rest_event(path="/cookies"),
            {
                "statusCode": 200,
                "headers": {"x-tag": "1", "content-length": "7", "content-type": "text/plain; charset=utf-8"},
                "multiValueHeaders": {
                    "set-cookie": ["first=1; Path=/; SameSite=lax", "second=2; Path=/; SameSite=lax"]
                },
            },
            id="rest",
        ),
    ],
)
def test_the_prelude_has_the_sources_response_shape(
    api: RuntimeAPI, make_runtime: MakeRuntime, event: dict[str, Any], expected: dict[str, Any]
) -> None:
    outcome = serve_one(make_runtime(stream=True), api, event)

    prelude, body = split(outcome)
    assert prelude == expected
    assert body == b"cookies"


def test_responses_to_sources_that_cannot_stream_stay_whole(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    outcome = serve_one(make_runtime(stream=True), api, make_alb_event(path="/hello"))

    assert not outcome.streamed
    assert outcome.json()["body"] == "hello"


def test_a_failure_mid_stream_ends_it_with_the_error_trailers(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = serve_one(make_runtime(stream=True), api, make_function_url_event(path="/broken-stream"))

    prelude, body = split(outcome)
    assert prelude["statusCode"] == 200
    assert body == b"partial"
    assert outcome.trailers["lambda-runtime-function-error-type"] == "ValueError"
    error = json.loads(base64.b64decode(outcome.trailers["lambda-runtime-function-error-body"]))
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the feed broke"
    assert any("broken_stream" in line or "feed" in line for line in error["stackTrace"])
    assert f"after the response started; cutting it short [{outcome.request_id}]" in caplog.text


async def raises_before_starting(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError("no response at all")


async def returns_without_starting(scope: Scope, receive: Receive, send: Send) -> None:
    pass


async def returns_half_way(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"half", "more_body": True})


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("app", "status", "body", "log"),
    [
        pytest.param(raises_before_starting, 500, b"Internal Server Error", "before the response started", id="raises"),
        pytest.param(returns_without_starting, 500, b"Internal Server Error", "without starting", id="no-start"),
        pytest.param(returns_half_way, 200, b"half", "before completing its response", id="half-way"),
    ],
)
def test_apps_that_misbehave_get_the_classic_answers(
    api: RuntimeAPI,
    make_runtime: MakeRuntime,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    app: Any,
    status: int,
    body: bytes,
    log: str,
) -> None:
    outcome = serve_one(
        make_runtime(LambdaAdapter(app, lifespan="off"), stream=stream), api, make_function_url_event(path="/")
    )

    if stream:
        prelude, streamed = split(outcome)
        assert (prelude["statusCode"], streamed) == (status, body)
        # A response cut short ends with the error trailers: Lambda aborts the client's response there, as uvicorn
        # closes the connection, rather than passing the truncated body off as whole.
        cut = {"lambda-runtime-function-error-type": "IncompleteResponse"} if app is returns_half_way else {}
        assert {name: value for name, value in outcome.trailers.items() if "type" in name} == cut
    else:
        assert (outcome.json()["statusCode"], outcome.json()["body"]) == (status, body.decode())
    assert log in caplog.text


def test_an_app_that_cancels_itself_is_a_500(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    async def cancelled(scope: Scope, receive: Receive, send: Send) -> None:
        import asyncio

        current = asyncio.current_task()
        assert current is not None
        current.cancel()
        await asyncio.sleep(1)

    outcome = serve_one(make_runtime(LambdaAdapter(cancelled, lifespan="off")), api, make_function_url_event())

    assert outcome.json()["statusCode"] == 500


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_still_running_near_the_deadline_is_answered_504(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.ERROR)
    runtime = make_runtime(stream=stream, deadline_margin=0.5)

    outcome = serve_one(runtime, api, make_function_url_event(path="/slow"), timeout=1.0)

    expected = {
        "type": "about:blank",
        "title": "Gateway Timeout",
        "status": 504,
        "detail": "The request did not finish within the function's time limit.",
    }
    if stream:
        prelude, body = split(outcome)
        assert prelude["statusCode"] == 504
        assert prelude["headers"]["content-type"] == "application/problem+json"
        assert json.loads(body) == expected
    else:
        assert outcome.json()["statusCode"] == 504
        assert json.loads(outcome.json()["body"]) == expected
    assert (
        f"The request (GET /slow) was still running at the invocation's deadline; answering 504 [{outcome.request_id}]"
        in (caplog.text)
    )
    # Where it was: the endpoint's frame, down to the sleep it was waiting on.
    assert 'apps.py", line' in caplog.text and "in slow" in caplog.text
    # The runtime carries on with the next invocation.
    assert serve_one(runtime, api, make_function_url_event(path="/hello")).kind == "response"


def test_a_stream_still_running_at_the_deadline_ends_with_the_error_trailers(
    api: RuntimeAPI, make_runtime: MakeRuntime
) -> None:
    outcome = serve_one(
        make_runtime(stream=True, deadline_margin=0.5), api, make_function_url_event(path="/slow-stream"), timeout=1.0
    )

    prelude, body = split(outcome)
    assert (prelude["statusCode"], body) == (200, b"begun")
    assert outcome.trailers["lambda-runtime-function-error-type"] == "DeadlineExceeded"


def test_a_buffered_response_started_but_unfinished_at_the_deadline_is_a_504(
    api: RuntimeAPI, make_runtime: MakeRuntime
) -> None:
    outcome = serve_one(
        make_runtime(deadline_margin=0.5), api, make_function_url_event(path="/slow-stream"), timeout=1.0
    )

    # Nothing had left yet: the half-sent response is replaced.
    assert outcome.json()["statusCode"] == 504


def test_a_deadline_already_past_the_margin_answers_at_once(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    outcome = serve_one(make_runtime(deadline_margin=5), api, make_function_url_event(path="/slow"), timeout=1.0)

    assert outcome.json()["statusCode"] == 504


def test_server_sent_events_in_buffered_mode_arrive_whole(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    apps.gates.release.set()
    outcome = serve_one(make_runtime(), api, make_function_url_event(path="/events"))

    assert outcome.json()["body"] == "data: first\n\ndata: second\n\n"


def test_a_stream_the_runtime_api_refuses_at_the_start_is_fatal(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    from adapter.runtime.client import RuntimeAPIError, RuntimeClient

    # The invocation comes from the emulator; the runtime's own connection leads nowhere.
    fetcher = RuntimeClient(api.address)
    api.invoke(make_function_url_event(path="/hello"))
    invocation = fetcher.next()
    fetcher.close()
    runtime = make_runtime(stream=True)
    runtime.client = RuntimeClient("127.0.0.1:9")

    with pytest.raises(RuntimeAPIError, match="ConnectionRefusedError"):
        runtime.handle(invocation)


def test_a_runtime_api_failure_the_app_swallows_is_still_fatal(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    import asyncio

    from adapter.runtime.client import RuntimeAPIError

    async def swallows(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            await send({"type": "http.response.body", "body": b"done"})
        except RuntimeAPIError:
            await asyncio.sleep(60)

    runtime = make_runtime(LambdaAdapter(swallows, lifespan="off"), stream=True, deadline_margin=0.5)
    outcome = api.invoke(make_function_url_event(), timeout=1.0)
    invocation = runtime.client.next()
    outcome.kind = "response"  # as though it had been answered already: the emulator refuses the stream's end

    with pytest.raises(RuntimeAPIError, match=r"answered 403: .*InvalidStateTransition"):
        runtime.handle(invocation)


def test_a_task_waiting_for_the_disconnect_gets_it_once_the_request_is_over() -> None:
    import asyncio
    import time

    from adapter.http import BufferedSink, serve_http

    sink = BufferedSink()
    got: list[str] = []
    app = leaves_a_waiter(got, raises=True)

    async def main() -> set[asyncio.Task[Any]]:
        await serve_http(app, {"type": "http"}, b"", sink, "req-1", time.time() + 10)
        await asyncio.sleep(0)
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(main()) == set()
    assert sink.committed
    assert (got, sink.status) == (["http.disconnect"], 500)


def broken_head(error: Exception) -> type[HTTPAPIV2]:
    class BrokenHead(HTTPAPIV2):
        """A custom source whose shaping fails on the response's head: a bug of its own, not the application's."""

        @classmethod
        def to_response(cls, response: Any, event: Any, config: Any) -> Any:
            raise error

    return BrokenHead


@pytest.mark.parametrize("error", [ValueError("this source cannot shape a response"), InvalidResponse("refused")])
def test_a_stream_whose_sink_fails_still_gets_one_answer(
    error: Exception, api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = make_runtime(LambdaAdapter(apps.app, sources=(broken_head(error),)), stream=True)
    outcome = serve_one(runtime, api, make_function_url_event(path="/hello"))

    # The stream was opened for the response: it ends, complete as a chunked request, with the error trailers.
    assert outcome.streamed and outcome.body == b""
    assert outcome.trailers["lambda-runtime-function-error-type"] == type(error).__name__
    assert [entry for entry in api.log if entry[1] == outcome.request_id] == [("response", outcome.request_id)]
    assert f"Exception after the invocation was answered [{outcome.request_id}]" in caplog.text
    assert serve_one(runtime, api, make_function_url_event(path="/hello")).streamed  # the loop goes on


@pytest.mark.parametrize("stream", [True, False])
def test_a_cancelled_error_the_app_raises_itself_is_a_500(
    stream: bool, api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # A sub-task something else cancelled: the invocation itself was not cancelled (as under uvicorn).
        sub_task = asyncio.get_running_loop().create_task(asyncio.sleep(10))
        sub_task.cancel()
        await sub_task

    outcome = serve_one(make_runtime(LambdaAdapter(app, lifespan="off"), stream=stream), api, make_function_url_event())
    status = split(outcome)[0]["statusCode"] if stream else outcome.json()["statusCode"]
    assert status == 500
    assert "Exception in ASGI application before the response started; answering 500" in caplog.text


@pytest.mark.parametrize("stream", [True, False])
def test_an_app_that_swallows_its_cancellation_at_the_deadline_gets_one_answer(
    stream: bool, api: RuntimeAPI, make_runtime: MakeRuntime
) -> None:
    import asyncio

    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return  # swallowed: the application returns, its response never completed

    runtime = make_runtime(LambdaAdapter(stubborn, lifespan="off"), stream=stream, deadline_margin=1.0)
    outcome = serve_one(runtime, api, make_function_url_event(), timeout=2.0)

    assert [entry for entry in api.log if entry[1] == outcome.request_id] == [("response", outcome.request_id)]
    if stream:
        assert split(outcome)[0]["statusCode"] == 200
        assert outcome.trailers["lambda-runtime-function-error-type"] == "DeadlineExceeded"
    else:
        assert outcome.json()["statusCode"] == 504


@pytest.mark.parametrize("stream", [True, False])
def test_an_app_that_cancels_itself_after_its_response_keeps_it_whole(
    stream: bool, api: RuntimeAPI, make_runtime: MakeRuntime
) -> None:
    import asyncio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"whole"})
        current = asyncio.current_task()
        assert current is not None
        current.cancel()
        await asyncio.sleep(1)

    outcome = serve_one(make_runtime(LambdaAdapter(app, lifespan="off"), stream=stream), api, make_function_url_event())

    assert [entry for entry in api.log if entry[1] == outcome.request_id] == [("response", outcome.request_id)]
    if stream:
        assert (split(outcome)[1], outcome.trailers) == (b"whole", {})
    else:
        assert (outcome.json()["statusCode"], outcome.json()["body"]) == (200, "whole")
