"""Drive one ASGI HTTP request through the application and collect the whole response.

Nothing here knows about AWS: the request arrives as a scope and a body, the response leaves as a `Response`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

from adapter.sources import Response
from adapter.types import ASGIApp, Message, Scope

logger = logging.getLogger("adapter")

_PLAIN_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


def internal_error(body: bytes = b"Internal Server Error") -> Response:
    return Response(500, [*_PLAIN_TEXT, (b"content-length", str(len(body)).encode("ascii"))], body)


class HTTPCycle(Response):
    """The state of one request/response exchange: what was received, what the application sent. Once the
    exchange is over, the cycle is the `Response` (no copy is made of it)."""

    __slots__ = ("chunks", "complete", "disconnect", "ended", "request_body", "request_sent", "started")

    def __init__(self, body: bytes) -> None:
        self.request_body = body
        self.request_sent = False
        self.started = False
        self.complete = False
        self.status = 500
        # As the application sent them, in a list: [name, value] byte pairs (ASGI allows lists as pairs).
        self.headers: Iterable[tuple[bytes, bytes]] = []
        self.body = b""
        self.chunks: list[bytes] = []
        self.ended = False
        self.disconnect: asyncio.Event | None = None

    async def receive(self) -> Message:
        if not self.request_sent:
            self.request_sent = True
            return {"type": "http.request", "body": self.request_body, "more_body": False}
        # The whole body has been delivered. Report a disconnect only once the response is complete, as a
        # server would: Starlette's StreamingResponse listens for it and would otherwise stop streaming early.
        # An Event wakes every task waiting here (a listener and an `is_disconnected()` probe, say), and one of
        # them being cancelled does not cancel the others' wait, as a shared future would.
        if not (self.complete or self.ended):
            if self.disconnect is None:
                self.disconnect = asyncio.Event()
            await self.disconnect.wait()
        return {"type": "http.disconnect"}

    def end(self) -> None:
        """The exchange is over, its response complete or not: tasks still waiting in `receive` get the
        disconnect (as uvicorn's do when the connection closes) rather than waiting forever."""
        self.ended = True
        if self.disconnect is not None:
            self.disconnect.set()

    async def send(self, message: Message) -> None:
        message_type = message["type"]
        if message_type == "http.response.start":
            if self.started:
                raise RuntimeError("ASGI application sent 'http.response.start' twice")
            self.status = int(message["status"])
            headers = message.get("headers")
            # ASGI allows any iterable of pairs; a generator could be read only once, and the headers are read
            # again when one of them is not a pair of byte strings.
            self.headers = headers if headers.__class__ is list else list(headers or ())
            self.started = True
        elif message_type == "http.response.body":
            if not self.started:
                raise RuntimeError("ASGI application sent 'http.response.body' before 'http.response.start'")
            if self.complete:
                raise RuntimeError("ASGI application sent 'http.response.body' after the response was complete")
            chunk = message.get("body", b"")
            if chunk:
                self.chunks.append(chunk)
            if not message.get("more_body", False):
                self.complete = True
                if self.disconnect is not None:
                    self.disconnect.set()
        else:
            raise RuntimeError(f"ASGI application sent an unexpected message type {message_type!r}")


class ResponseSink(Protocol):
    """Where a streamed response goes, part by part, as the application sends it."""

    def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None: ...

    def write(self, chunk: bytes, more: bool) -> None: ...


class StreamingHTTPCycle(HTTPCycle):
    """An exchange whose response is handed to `sink` as it comes instead of collected: the status and headers
    on `http.response.start`, each body chunk when it is sent, `more=False` with the last one."""

    __slots__ = ("sink",)

    def __init__(self, body: bytes, sink: ResponseSink) -> None:
        super().__init__(body)
        self.sink = sink

    async def send(self, message: Message) -> None:
        # HTTPCycle.send checks the message and records it; what it recorded is handed on at once.
        await super().send(message)
        if message["type"] == "http.response.start":
            self.sink.start(self.status, self.headers)
        else:
            # The chunk is handed on, not kept: a stream may last as long as the invocation.
            self.chunks.clear()
            self.sink.write(message.get("body", b""), not self.complete)


async def run_http(app: ASGIApp, scope: Scope, body: bytes, request_id: str) -> Response:
    """The application's response to one request; a 500 when it fails before starting one.

    Exceptions from the application are logged with the Lambda request id, and so is a `CancelledError` it
    raises itself (from a sub-task it awaited that something else cancelled, say), as uvicorn does. A
    cancellation of the task running this, and other `BaseException`s, propagate.
    """
    cycle = HTTPCycle(body)
    try:
        try:
            await app(scope, cycle.receive, cycle.send)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            return _failed(cycle, request_id)
        except Exception:
            return _failed(cycle, request_id)
        if not cycle.started:
            logger.error("ASGI application returned without starting a response; answering 500 [%s]", request_id)
            return internal_error()
        if not cycle.complete:
            logger.error(
                "ASGI application returned before completing its response; returning what was sent [%s]", request_id
            )
            return _what_was_sent(cycle)
        cycle.body = b"".join(cycle.chunks)
        return cycle
    finally:
        cycle.end()


def _failed(cycle: HTTPCycle, request_id: str) -> Response:
    """The response to an application that raised (called while the exception is handled, which is logged)."""
    if not cycle.started:
        logger.exception("Exception in ASGI application before the response started; answering 500 [%s]", request_id)
        return internal_error()
    logger.exception(
        "Exception in ASGI application after the response started; returning what was sent [%s]", request_id
    )
    # Whole, if it was complete: Starlette's ServerErrorMiddleware sends its 500, then raises again to be logged.
    return _what_was_sent(cycle)


def _what_was_sent(cycle: HTTPCycle) -> Response:
    """The response as far as the application sent it. A body cut short goes without its Content-Length: it is
    shorter than that says, and a client or cache trusting it would wait for the rest or keep a truncated copy
    (RFC 9110 8.6)."""
    if not cycle.complete:
        cycle.headers = [pair for pair in cycle.headers if not _is_content_length(pair)]
    cycle.body = b"".join(cycle.chunks)
    return cycle


def _is_content_length(pair: object) -> bool:
    # The headers are not checked yet (response_parts does that); anything that is not a pair is left for it.
    if isinstance(pair, tuple | list) and len(pair) == 2 and isinstance(pair[0], bytes | bytearray):
        return bytes(pair[0]).lower() == b"content-length"
    return False
