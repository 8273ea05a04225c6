from __future__ import annotations

import asyncio
import logging

import pytest

from adapter import InvalidResponse
from adapter.http import BufferedSink, Exchange, serve_http
from adapter.types import ASGIApp, Message, Receive, Response, Scope, Send
from tests.adapter.conftest import leaves_a_waiter

SCOPE: Scope = {"type": "http"}


async def run_http(app: ASGIApp, scope: Scope, body: bytes, request_id: str) -> Response:
    sink = BufferedSink()
    await serve_http(app, scope, body, sink, request_id)
    assert sink.committed
    return sink


def run(app: ASGIApp, body: bytes = b"") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    response = asyncio.run(run_http(app, SCOPE, body, "req-1"))
    return response.status, list(response.headers), response.body


def test_body_and_chunks() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message == {"type": "http.request", "body": b"in", "more_body": False}
        await send({"type": "http.response.start", "status": 201, "headers": [[b"x", b"1"]]})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": bytearray(b"b"), "more_body": True})
        await send({"type": "http.response.body"})

    assert run(app, b"in") == (201, [[b"x", b"1"]], b"ab")  # type: ignore[comparison-overlap]


def test_disconnect_is_reported_only_once_the_response_is_complete() -> None:
    # Starlette's StreamingResponse listens for http.disconnect while it streams; an early one would cut it off.
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def listen() -> None:
            message = await receive()
            events.append(message["type"])

        listener = asyncio.get_running_loop().create_task(listen())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"1", b"2"):
            await asyncio.sleep(0)
            events.append("chunk")
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"3"})
        await listener

    assert run(app)[2] == b"123"
    assert events == ["chunk", "chunk", "http.disconnect"]


def test_receive_after_completion_returns_disconnect_at_once() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        assert await receive() == {"type": "http.disconnect"}

    assert run(app) == (204, [], b"")


def test_exception_before_start_is_a_500_logged_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    status, headers, body = run(app)
    assert (status, body) == (500, b"Internal Server Error")
    assert (b"content-type", b"text/plain; charset=utf-8") in headers
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "req-1" in record.getMessage() and record.exc_info is not None


def test_exception_after_start_returns_what_was_sent(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom")

    assert run(app) == (200, [], b"partial")
    assert "after the response started" in caplog.records[0].getMessage()


def test_exception_after_completion_keeps_the_response(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        raise ValueError("late")

    assert run(app) == (200, [], b"done")
    assert len(caplog.records) == 1


def test_app_returning_without_a_response(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    assert run(app)[0] == 500
    assert "without starting a response" in caplog.records[0].getMessage()


def test_app_returning_before_completing(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})

    assert run(app) == (200, [], b"half")
    assert "before completing" in caplog.records[0].getMessage()


def test_a_cancellation_of_the_invocation_is_not_swallowed() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(run_http(app, SCOPE, b"", "req-1"))
        await asyncio.sleep(0)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())


def test_a_cancelled_error_the_app_raises_itself_is_its_failure(caplog: pytest.LogCaptureFixture) -> None:
    # As under uvicorn: the app awaited a sub-task that something else cancelled; nobody cancelled the invocation,
    # which answers 500 instead of ending the Lambda runtime's loop.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        sub_task = asyncio.get_running_loop().create_task(asyncio.sleep(10))
        sub_task.cancel()
        await sub_task

    assert run(app)[0] == 500
    [record] = caplog.records
    assert record.getMessage().startswith("Exception in ASGI application before the response started")
    assert record.exc_info is not None and record.exc_info[0] is asyncio.CancelledError

    async def cut_short(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise asyncio.CancelledError

    assert run(cut_short) == (200, [], b"part")


def test_system_exit_is_not_swallowed() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        run(app)


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "http.response.body", "body": b""}], "before 'http.response.start'"),
        (
            [{"type": "http.response.start", "status": 200}, {"type": "http.response.start", "status": 200}],
            "'http.response.start' twice",
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b""},
                {"type": "http.response.body", "body": b""},
            ],
            "after the response was complete",
        ),
        ([{"type": "websocket.send"}], "unexpected message type 'websocket.send'"),
    ],
)
def test_protocol_errors_raise_into_the_app(messages: list[Message], error: str) -> None:
    async def main() -> None:
        exchange = Exchange(b"", BufferedSink())
        with pytest.raises(InvalidResponse, match=error):
            for message in messages:
                await exchange.send(message)
        # The exchange has failed: whatever the application sends next is refused too.
        with pytest.raises(RuntimeError, match="after its response failed"):
            await exchange.send({"type": "http.response.start", "status": 200})

    asyncio.run(main())


def test_response_headers_are_kept_as_a_list() -> None:
    async def main() -> None:
        sink = BufferedSink()
        exchange = Exchange(b"", sink)
        pairs = ((b"x-a", b"1"), (b"x-b", b"2"))
        await exchange.send({"type": "http.response.start", "status": 200, "headers": (pair for pair in pairs)})
        assert sink.headers == list(pairs)
        # Headers that are not iterable at all fail the send, where the application sees it, and start nothing.
        other = Exchange(b"", BufferedSink())
        with pytest.raises(InvalidResponse, match="an iterable of pairs, not int"):
            await other.send({"type": "http.response.start", "status": 200, "headers": 5})
        assert not other.started

    asyncio.run(main())


def test_every_task_waiting_for_the_disconnect_gets_it() -> None:
    # A listener and a probe cancelled at once (Starlette's `is_disconnected()`) wait together; as under uvicorn
    # the listener still gets the disconnect when the response completes.
    got: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def listen() -> None:
            got.append((await receive())["type"])

        async def probe() -> None:
            await receive()

        listener = asyncio.get_running_loop().create_task(listen())
        await asyncio.sleep(0)
        probing = asyncio.get_running_loop().create_task(probe())
        await asyncio.sleep(0)
        probing.cancel()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        await asyncio.wait_for(listener, 1)

    assert run(app) == (200, [], b"ok")
    assert got == ["http.disconnect"]


@pytest.mark.parametrize("outcome", ["raises", "returns"])
def test_a_task_waiting_for_the_disconnect_gets_it_when_the_app_ends_without_a_response(
    outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[str] = []
    app = leaves_a_waiter(got, raises=outcome == "raises")

    async def main() -> tuple[int, set[asyncio.Task[object]]]:
        response = await run_http(app, SCOPE, b"", "req-1")
        await asyncio.sleep(0)  # the woken task runs
        return response.status, asyncio.all_tasks() - {asyncio.current_task()}

    status, pending = asyncio.run(main())
    assert (status, pending, got) == (500, set(), ["http.disconnect"])
    # A receive() after the exchange is over does not wait either.
    exchange = Exchange(b"", BufferedSink())
    exchange.ended = True
    assert asyncio.run(exchange.receive())["type"] == "http.request"
    assert asyncio.run(exchange.receive()) == {"type": "http.disconnect"}


@pytest.mark.parametrize("ending", ["raises", "returns"])
def test_a_response_cut_short_loses_its_content_length(ending: str, caplog: pytest.LogCaptureFixture) -> None:
    # The body is shorter than the Content-Length the app announced: what was sent goes back, framed by its own size.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"Content-Length", b"26"), [b"x-a", b"1"]]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"items": [1, 2, ', "more_body": True})
        if ending == "raises":
            raise RuntimeError("database went away")

    status, headers, body = run(app)
    assert (status, headers, body) == (
        200,
        [(b"content-type", b"application/json"), [b"x-a", b"1"]],  # ASGI allows lists as pairs
        b'{"items": [1, 2, ',
    )
    assert "cutting it short" in caplog.records[0].getMessage()


def test_an_exception_after_a_complete_response_keeps_it_whole(caplog: pytest.LogCaptureFixture) -> None:
    # Starlette's ServerErrorMiddleware answers 500 in full, then raises again so that the server logs the error.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"21")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": b"Internal Server Error"})
        raise RuntimeError("the handler broke")

    assert run(app) == (500, [(b"content-type", b"text/plain"), (b"content-length", b"21")], b"Internal Server Error")
    assert "after its response was complete" in caplog.records[0].getMessage()
