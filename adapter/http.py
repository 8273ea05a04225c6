"""The HTTP engine: one ASGI request/response exchange, from the request to the one way its response ends.

Every path that carries an HTTP request (the classic handler, `adapter.runtime` buffered or streamed, the local
gateway) runs it here, so an application gets the same answer whichever path carries it. The engine checks
each message the application sends, decides how the exchange ends, and writes the response into a sink:
`BufferedSink` collects it whole (the classic handler, the runtime's buffered mode), and the runtime's
`StreamingSink` sends it part by part. How the end of a response is told (a Content-Length, the end of a chunked
stream, error trailers) is the sink's business; whether it is complete, cut short or replaced is the engine's.

Nothing here knows about AWS: the request arrives as a scope and a body, the response leaves as a `Response`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Callable, Sized
from typing import Any, Protocol

from adapter.exceptions import InvalidResponse
from adapter.types import ASGIApp, Headers, Message, Response, Scope

logger = logging.getLogger("adapter")

_PLAIN_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]

# How long a cancelled application gets to unwind (its `finally` blocks) once its deadline has passed.
CANCEL_GRACE = 0.1


def internal_error(body: bytes = b"Internal Server Error") -> Response:
    return Response(500, [*_PLAIN_TEXT, (b"content-length", str(len(body)).encode("ascii"))], body)


def timeout_response() -> Response:
    """The 504 a request gets when it is still running at its deadline, as an RFC 9457 problem."""
    problem = {
        "type": "about:blank",
        "title": "Gateway Timeout",
        "status": 504,
        "detail": "The request did not finish within the function's time limit.",
    }
    body = json.dumps(problem).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode("ascii"))]
    return Response(504, headers, body)


class IncompleteResponse(Exception):
    """Why a response was cut short when the application returned before completing it."""


class DeadlineExceeded(Exception):
    """Why a response was cut short when its deadline passed before the application completed it."""


class ResponseSink(Protocol):
    """Where the response of one exchange goes. The engine calls `start` once, then `write` for each body chunk
    (`more=False` with the last: the response is complete); or, instead of finishing it, exactly one of
    `replace` (nothing was committed: a response of the adapter's own goes instead) and `cut_short` (the
    response will not be completed). Whatever a method raises is taken for a failure of the sink itself
    (a connection lost): the application is stopped and the exception raised out of the engine."""

    @property
    def committed(self) -> bool:
        """Whether any of the response has left, so that it can no longer be replaced."""
        ...

    def start(self, status: int, headers: Headers) -> None: ...

    def write(self, chunk: bytes, more: bool) -> None: ...

    def replace(self, response: Response) -> None: ...

    def cut_short(self, reason: BaseException) -> None: ...


class BufferedSink(Response):
    """Collects the response and delivers it whole, once: as soon as the application sends its last chunk (so
    that what it does after that, background tasks, does not hold it back), or in the place of it. The sink is
    the `Response` that is delivered (no copy is made of it); `committed` says it was.

    A response cut short is delivered as far as it was sent, without its Content-Length: the body is shorter
    than that says, and a client or cache trusting it would wait for the rest or keep a truncated copy (RFC 9110
    8.6). A whole response cannot say it was cut short otherwise.
    """

    __slots__ = ("_deliver", "chunks", "committed")

    def __init__(self, deliver: Callable[[Response], None] | None = None) -> None:
        self._deliver = deliver
        self.status = 500
        self.headers: Headers = []
        self.chunks: list[bytes] = []
        self.committed = False

    def start(self, status: int, headers: Headers) -> None:
        self.status = status
        self.headers = headers

    def write(self, chunk: bytes, more: bool) -> None:
        if more:
            if chunk:
                self.chunks.append(chunk)
            return
        chunks = self.chunks
        if chunks:
            chunks.append(chunk)
            self.body = b"".join(chunks)
        else:
            self.body = chunk  # the whole body in one message, as most responses send it
        self.committed = True
        if self._deliver is not None:
            self._deliver(self)

    def replace(self, response: Response) -> None:
        self.status, self.headers, self.chunks = response.status, list(response.headers), [response.body]
        self.write(b"", False)

    def cut_short(self, reason: BaseException) -> None:
        self.headers = [pair for pair in self.headers if not _is_content_length(pair)]
        self.write(b"", False)


def _is_content_length(pair: object) -> bool:
    # The headers of a list are checked when the response is shaped; a pair that is not one is left for that.
    if isinstance(pair, tuple | list) and len(pair) == 2 and isinstance(pair[0], bytes | bytearray | memoryview):
        return bytes(pair[0]).lower() == b"content-length"
    return False


class Exchange:
    """The state of one request/response exchange: the request body to hand over, and what the application
    sent, each message checked before it reaches the sink.

    A message that breaks the ASGI protocol raises `InvalidResponse` in the application and decides the
    exchange's end, whatever the application does next: a 500 before the response started, a response cut short
    after. (https://asgi.readthedocs.io/en/latest/specs/www.html#response-start-send-event)
    """

    __slots__ = (
        "complete",
        "disconnect",
        "ended",
        "error",
        "failed",
        "invalid",
        "request_body",
        "request_sent",
        "sink",
        "sink_failure",
        "started",
    )

    def __init__(self, body: bytes, sink: ResponseSink) -> None:
        self.request_body = body
        self.request_sent = False
        self.sink = sink
        self.started = False
        self.complete = False
        self.ended = False
        self.disconnect: asyncio.Event | None = None
        # The first protocol violation, what the application raised, and what the sink raised; `failed` once
        # the first or the last is there.
        self.failed = False
        self.invalid: InvalidResponse | None = None
        self.error: BaseException | None = None
        self.sink_failure: BaseException | None = None

    async def run(self, app: ASGIApp, scope: Scope, request_id: str) -> None:
        """Runs the application for this exchange, in the calling task, and ends the exchange in exactly one of
        these ways, each logged with the Lambda request id when it is not the first:

        - complete: the application sent its whole response (it may go on running after it, and may even raise
          then, as Starlette's error middleware re-raises after sending its 500: the response stays whole);
        - replaced with a 500: it raised, returned, or broke the protocol before starting its response;
        - cut short: it did so after starting and before completing it.

        A `CancelledError` the application raises itself (from a sub-task it awaited that something else
        cancelled, say) is its failure, as uvicorn has it; a cancellation of the task running this, and other
        `BaseException`s, propagate. What the sink raised is raised again once the application has stopped.
        """
        try:
            try:
                await app(scope, self.receive, self.send)
            except asyncio.CancelledError as error:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise
                self.error = error
            except Exception as error:
                self.error = error
            if self.sink_failure is not None:
                raise self.sink_failure
            # `ended` already: its deadline ended the exchange (serve_http) and the application, cancelled, returned.
            if not (self.complete or self.ended):
                _finish(self, request_id)
            elif self.complete and (self.error is not None or self.invalid is not None):
                logger.error(
                    "Exception in ASGI application after its response was complete [%s]",
                    request_id,
                    exc_info=self.error or self.invalid,
                )
        finally:
            # The exchange is over, its response complete or not: tasks still waiting in `receive` get the
            # disconnect (as uvicorn's do when the connection closes) rather than waiting forever.
            self.ended = True
            if self.disconnect is not None:
                self.disconnect.set()

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

    async def send(self, message: Message) -> None:
        if self.failed:
            raise RuntimeError("ASGI application sent a message after its response failed")
        # One pass, each message checked before it reaches the sink; written for the common case, which runs on
        # every invocation. What the sink raises is its own failure, not the application's.
        try:
            message_type = message["type"]
            if message_type == "http.response.body":
                if not self.started or self.complete:
                    raise InvalidResponse(
                        "ASGI application sent 'http.response.body' "
                        + ("after the response was complete" if self.started else "before 'http.response.start'")
                    )
                chunk = message.get("body", b"")
                if chunk.__class__ is not bytes:
                    chunk = _body(chunk)
                more = message.get("more_body", False)
                if not more:
                    self.complete = True
                    if self.disconnect is not None:
                        self.disconnect.set()
                try:
                    self.sink.write(chunk, more)
                except BaseException as error:
                    self.sink_failure = error
                    self.failed = True
                    raise
            elif message_type == "http.response.start":
                if self.started:
                    raise InvalidResponse("ASGI application sent 'http.response.start' twice")
                status = message["status"]
                if status.__class__ is not int or not 100 <= status <= 599:
                    status = _status(status)
                headers: Any = message.get("headers")
                if headers.__class__ is not list:
                    headers = header_pairs(headers)
                # A list goes to the sink as it is, and its pairs are checked where they are read, once: shaping
                # the response (`response_parts`, for the prelude of a stream or the whole response) reads every
                # pair and refuses one that is not a pair of byte strings with InvalidResponse.
                try:
                    self.sink.start(status, headers)
                except InvalidResponse:
                    # The sink refused the headers: the application's message was invalid (recorded below), and
                    # nothing started.
                    raise
                except BaseException as error:
                    self.sink_failure = error
                    self.failed = True
                    raise
                self.started = True
            else:
                raise InvalidResponse(f"ASGI application sent an unexpected message type {message_type!r:.80}")
        except InvalidResponse as invalid:
            self.invalid = invalid
            self.failed = True
            raise
        except (TypeError, KeyError, AttributeError, ValueError) as error:
            if self.sink_failure is not None:
                raise
            # A message that is not a mapping, or has no type or status.
            self.invalid = InvalidResponse(f"ASGI application sent a malformed message: {type(error).__name__}")
            self.failed = True
            raise self.invalid from error


def _status(status: object) -> int:
    # An int subclass (http.HTTPStatus) is its value; a bool is not a status.
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return int(status)
    shown = repr(status)[:40] if isinstance(status, int | str) else type(status).__name__
    raise InvalidResponse(f"ASGI response status must be an integer from 100 to 599, not {shown}")


def _body(chunk: object) -> bytes:
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise InvalidResponse(f"ASGI response body must be bytes, not {type(chunk).__name__}")


def header_pairs(headers: Any) -> Headers:
    """The headers as a list of (bytes, bytes) tuples; ASGI allows any iterable of pairs, and bytes-like names
    and values. Anything else raises `InvalidResponse`, naming the header by its place and type (never by its
    value: a header sent as one string may carry a cookie or a token)."""
    if headers is None:
        return []
    pairs = []
    try:
        items = list(headers)
    except TypeError:
        raise InvalidResponse(
            f"ASGI response headers must be an iterable of pairs, not {type(headers).__name__}"
        ) from None
    for index, pair in enumerate(items):
        try:
            name, value = pair
        except (TypeError, ValueError):
            size = f" of length {len(pair)}" if isinstance(pair, Sized) else ""
            raise InvalidResponse(
                f"ASGI response headers must be [name, value] pairs; header {index} is a {type(pair).__name__}{size}"
            ) from None
        if not isinstance(name, bytes | bytearray | memoryview) or not isinstance(
            value, bytes | bytearray | memoryview
        ):
            # The name, not the value: a value may be a cookie or a token.
            raise InvalidResponse(
                "ASGI response header names and values must be byte strings; "
                f"got {type(name).__name__} {name!r:.80}: {type(value).__name__}"
            )
        pairs.append((bytes(name), bytes(value)))
    return pairs


async def serve_http(
    app: ASGIApp, scope: Scope, body: bytes, sink: ResponseSink, request_id: str, deadline: float | None = None
) -> Exchange:
    """Runs one exchange (`Exchange.run`), bounded by `deadline` (a `time.time()` moment) when there is one: past
    it, the application is cancelled and the exchange ends with a 504 if nothing was committed yet, else cut
    short. What the sink raises is raised here, once the application has stopped."""
    exchange = Exchange(body, sink)
    if deadline is None:
        await exchange.run(app, scope, request_id)
        return exchange
    task = asyncio.get_running_loop().create_task(exchange.run(app, scope, request_id), name=f"asgi-http-{request_id}")
    done, _ = await asyncio.wait((task,), timeout=max(0.0, deadline - time.time()))
    if done:
        if not task.cancelled():
            task.result()  # what the sink raised, if it did
        elif not exchange.complete:
            # The application cancelled the very task it ran in (its current_task()): its failure, as under uvicorn.
            exchange.error = asyncio.CancelledError()
            _finish(exchange, request_id)
        return exchange
    _log_overrun(task, scope, request_id, exchange.complete)
    # Ended here, whatever the application does once cancelled (it may swallow the cancellation and return).
    exchange.ended = True
    await cancel(task)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: what the sink raised is raised below
    if exchange.sink_failure is not None:
        raise exchange.sink_failure
    if not exchange.complete:
        if sink.committed:
            sink.cut_short(DeadlineExceeded("The response did not finish in time"))
        else:
            sink.replace(timeout_response())
    return exchange


def _finish(exchange: Exchange, request_id: str) -> None:
    """Ends an exchange whose response is not complete: replaced if it never started, cut short if it did."""
    started = exchange.started
    answer = "cutting it short" if started else "answering 500"
    if exchange.invalid is not None:
        # The protocol error names what was wrong; the traceback shows where the application sent it.
        logger.error("%s; %s [%s]", exchange.invalid, answer, request_id, exc_info=exchange.invalid)
    elif exchange.error is not None:
        when = "after the response started" if started else "before the response started"
        logger.error("Exception in ASGI application %s; %s [%s]", when, answer, request_id, exc_info=exchange.error)
    else:
        what = "before completing its response" if started else "without starting a response"
        logger.error("ASGI application returned %s; %s [%s]", what, answer, request_id)
    if not started:
        exchange.sink.replace(internal_error())
    else:
        exchange.sink.cut_short(
            exchange.invalid
            or exchange.error
            or IncompleteResponse("The ASGI application returned before completing its response")
        )


async def cancel(task: asyncio.Task[Any]) -> None:
    """Cancels `task`, which is still running, and gives it `CANCEL_GRACE` seconds to unwind."""
    task.cancel()
    await asyncio.wait((task,), timeout=CANCEL_GRACE)


def _log_overrun(task: asyncio.Task[Any], scope: Scope, request_id: str, complete: bool) -> None:
    from adapter.tracing.routes import route_template

    # The route's template, not the path: paths carry identifiers and tokens that stay out of the logs.
    route = route_template(scope, scope.get("root_path", "")) or "(no route matched yet)"
    what = "Work after the response" if complete else "The request"
    answer = "cancelled it" if complete else "answering 504"
    logger.error(
        "%s (%s %s) was still running at the invocation's deadline; %s [%s]\n%s",
        what,
        scope.get("method"),
        route,
        answer,
        request_id,
        task_stacks(task),
    )


def task_stacks(task: asyncio.Task[Any]) -> str:
    """Where `task`, and every other task of the invocation, is suspended: the chain of awaits down from each
    coroutine (a task's own `get_stack()` shows only its outermost frame)."""
    lines: list[str] = []
    others = [other for other in asyncio.all_tasks() if other is not task and other is not asyncio.current_task()]
    for each in [task, *others]:
        if each.get_name() == "asgi-lifespan":
            continue
        frames = []
        awaited: Any = each.get_coro()
        # Down the chain of coroutines (and generator-based ones) to the future at its end, which has no frame.
        while (frame := getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)) is not None:
            frames.append((frame, frame.f_lineno))
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        lines.append(f"Task {each.get_name()!r}, suspended at:\n")
        lines.extend(traceback.StackSummary.extract(frames).format())
    return "".join(lines).rstrip()
