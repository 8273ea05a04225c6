"""`LambdaAdapter`: the Lambda entry point that runs an ASGI application."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from adapter.config import Config, build_config
from adapter.exceptions import AdapterError, ConfigurationError, EventError, InvalidResponse, MalformedEvent
from adapter.http import BufferedSink, Exchange, ResponseSink, internal_error, serve_http
from adapter.lifespan import Lifespan
from adapter.sources import DEFAULT_SOURCES, LAMBDA_RESPONSE_BYTES, EventSource, detect
from adapter.types import ASGIApp, Headers, LambdaContext, LambdaEvent, LambdaResponse, Response, Scope

if TYPE_CHECKING:
    from adapter.triggers import Triggers

logger = logging.getLogger("adapter")

T = TypeVar("T")

# Lambda's own limit for a synchronous response; the load balancer's and CloudFront's are lower
# (`EventSource.response_limit`).
MAX_RESPONSE_BYTES = LAMBDA_RESPONSE_BYTES


def escapes_non_ascii(execution_env: str) -> bool:
    """Whether the managed runtime writes a response's non-ASCII characters as JSON escapes (six bytes or twelve
    each): before python3.12; from it they are written as UTF-8 (`Encoder` in awslambdaric's
    lambda_runtime_marshaller.py). `execution_env` is the AWS_EXECUTION_ENV variable."""
    version = execution_env.removeprefix("AWS_Lambda_python3.")
    return not (version.isdigit() and int(version) >= 12)


class Outlet(Protocol):
    """Where an invocation's answer goes when the caller of `LambdaAdapter.handle` sends it on itself, as
    `adapter.runtime` does to the Runtime API: as soon as it is known, rather than when the application is done."""

    def send_result(self, result: LambdaResponse | Any) -> None:
        """The invocation's result, as the handler would return it (a shaped response, or a trigger's result)."""
        ...

    def open_stream(
        self, source: type[EventSource], head: Callable[[int, Headers], LambdaResponse]
    ) -> ResponseSink | None:
        """A sink to stream the response of a request from `source` into, or None to have it buffered and sent
        whole through `send_result`. `head(status, headers)` shapes the response's status and headers."""
        ...


class LambdaAdapter:
    """Runs an ASGI application as a Lambda function handler.

    ```python
    from adapter import LambdaAdapter

    handler = LambdaAdapter(app)  # at import: once per execution environment
    ```

    Options (keyword-only, checked here; a bad value raises `ConfigurationError`):

    - `lifespan`: `"auto"` (default) runs the application's lifespan startup once, on the first invocation,
      and carries on without it if the application does not implement it; `"on"` requires it; `"off"` skips it.
    - `api_gateway_base_path`: the base path of an API Gateway custom-domain mapping (e.g. `"/v1"`). It becomes
      `root_path` for requests that arrive through it.
    - `text_mime_types`: more content types to return as text rather than base64.
    - `exclude_headers`: response header names to drop.
    - `sources`: the event sources to try, in order (default: HTTP API v2 and Function URLs, ALB, API Gateway
      payload 1.0, Lambda@Edge).
    - `triggers`: handlers for the function's other events (SQS, Kinesis, DynamoDB Streams, S3, SNS, EventBridge,
      schedules, direct invocations), from `adapter.triggers.Triggers`. They run on the same loop and see the
      same lifespan state as requests.
    """

    def __init__(
        self,
        # Any ASGI callable: typed loosely because frameworks and bridges declare the scope and messages in their
        # own ways (asgiref's and a2wsgi's TypedDicts, Starlette's MutableMapping), which mypy would set apart.
        app: Callable[..., Awaitable[None]],
        *,
        lifespan: str = "auto",
        api_gateway_base_path: str | None = "/",
        text_mime_types: list[str] | None = None,
        exclude_headers: list[str] | None = None,
        sources: tuple[type[EventSource], ...] = DEFAULT_SOURCES,
        triggers: Triggers | None = None,
    ) -> None:
        self.app: ASGIApp = app
        self.config: Config = build_config(
            lifespan=lifespan,
            api_gateway_base_path=api_gateway_base_path,
            text_mime_types=text_mime_types,
            exclude_headers=exclude_headers,
        )
        self.sources = tuple(sources)
        if triggers is not None:
            from adapter.triggers import Triggers

            if not isinstance(triggers, Triggers):
                raise ConfigurationError(f"triggers must be an adapter.triggers.Triggers, not {triggers!r}")
        self.triggers = triggers
        self._lifespan = Lifespan(app, self.config.lifespan)
        self._escapes_non_ascii = escapes_non_ascii(os.environ.get("AWS_EXECUTION_ENV", ""))
        self._runner = _Runner(self._lifespan)
        # The loop and the lifespan belong to the runner, which holds no reference to the adapter: an adapter
        # that is dropped without close() is closed when it is collected (its lifespan shutdown run, its loop
        # and the loop's sockets closed), or at exit if it never is.
        weakref.finalize(self, self._runner.close_when_collected).atexit = False
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The one event loop on which the application runs, for the life of the process (or until `close()`)."""
        return self._runner.loop()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the adapter's loop, to its end, as one invocation does: one at a time (see
        `handle`)."""
        self._enter()
        try:
            return _drive(self._runner.loop(), coroutine)
        finally:
            self._lock.release()

    def startup(self) -> None:
        """Run the lifespan startup now (e.g. at import, to do it during Lambda's init phase) if not done yet."""
        if self._lifespan.supported and not self._lifespan.started:
            self.run(self._lifespan.startup())

    def close(self, timeout: float | None = None) -> None:
        """Run the lifespan shutdown and close the event loop. Safe to call more than once; the adapter starts
        again (a new loop, the lifespan startup) if it is called after it.

        With a `timeout` (seconds), a shutdown that takes longer is cancelled and `TimeoutError` raised, after the
        loop is closed all the same.
        """
        self._enter()
        try:
            self._runner.close(timeout, at_exit=False)
        finally:
            self._lock.release()

    def handle(
        self,
        event: LambdaEvent,
        context: LambdaContext | None,
        outlet: Outlet | None = None,
        *,
        deadline: float | None = None,
    ) -> Any:
        """Serves one invocation, HTTP request or trigger event, and returns its result.

        With an `outlet`, the result also goes to `outlet.send_result` as soon as it is known: an HTTP response
        when the application sends its last byte, while the application may go on (its background tasks);
        or, when `outlet.open_stream` gives a sink, the response is streamed into it and None returned.
        `deadline` (a `time.time()` moment) bounds an HTTP request: past it a request still running is
        cancelled and answered 504. A malformed or unsupported event raises an `EventError`, and a failing trigger
        handler its exception; whatever the application does, a request gets a response.

        An adapter serves one invocation at a time, as Lambda runs a function: a call from another thread waits
        for the one in progress, and a call from inside an invocation (the application calling its own handler)
        raises `AdapterError`.
        """
        # Inlined `_enter()`, `_Runner.loop()` and `_drive()`: this runs for every invocation.
        if not self._lock.acquire(False):
            self._wait()
        coroutine: Coroutine[Any, Any, Any] | None = None
        try:
            loop = self._runner.current or self._runner.loop()
            triggers = self.triggers
            if triggers:
                kind = triggers.kind_of(event)
                if kind is not None:
                    state = self._state(loop)
                    result = _drive(loop, triggers.dispatch(kind, event, context, {} if state is None else state))
                    if outlet is not None:
                        outlet.send_result(result)
                    return result
            source, scope, body = self._request(event, context, loop)
            request_id = getattr(context, "aws_request_id", "-")
            if outlet is None:
                # The classic handler: the response is returned once the application is done.
                buffered = BufferedSink()
                coroutine = (
                    Exchange(body, buffered).run(self.app, scope, request_id)
                    if deadline is None
                    else serve_http(self.app, scope, body, buffered, request_id, deadline)
                )
                loop.run_until_complete(coroutine)
                return self._shape(source, buffered, event, request_id)
            coroutine = serve_http(
                self.app, scope, body, self._sink(outlet, source, event, request_id), request_id, deadline
            )
            loop.run_until_complete(coroutine)
            return None
        except RuntimeError:
            if coroutine is not None and _loop_runs_here():
                _refuse_async_caller(coroutine)
            raise
        finally:
            self._lock.release()

    __call__ = handle

    def _sink(self, outlet: Outlet, source: type[EventSource], event: LambdaEvent, request_id: str) -> ResponseSink:
        """Where the response goes for an outlet: a stream it opens, or sent whole through it once complete."""
        sink = outlet.open_stream(source, lambda status, headers: self._head(source, status, headers, event))
        if sink is not None:
            return sink
        return BufferedSink(lambda response: outlet.send_result(self._shape(source, response, event, request_id)))

    def _enter(self) -> None:
        if not self._lock.acquire(False):
            self._wait()

    def _wait(self) -> None:
        """Waits for the invocation in progress on another thread; refuses one on this thread (its loop is the one
        running here)."""
        loop = self._runner.current
        if loop is not None and _loop_runs_here() and asyncio.get_running_loop() is loop:
            raise AdapterError(
                "LambdaAdapter serves one invocation at a time, as Lambda runs a function, and this thread is"
                " already in one: the application called its own handler"
            )
        self._lock.acquire()

    def _request(
        self, event: LambdaEvent, context: LambdaContext | None, loop: asyncio.AbstractEventLoop
    ) -> tuple[type[EventSource], Scope, bytes]:
        """The source of an HTTP event, and the ASGI scope and body it becomes (the lifespan state included)."""
        source = detect(event, self.sources)
        try:
            scope, body = source.to_request(event, context, self.config)
        except EventError:
            raise
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            # The sources check the fields they need; this names anything else that is not of the documented type.
            # A ValueError's text may quote the value (a header, say), which is not for the logs; it stays on the
            # exception's __cause__.
            detail = type(exc).__name__ if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise MalformedEvent(f"{source.name} event is malformed: {detail}") from exc

        if body:
            headers = scope["headers"]
            for name, _ in headers:
                if name == b"content-length" or name == b"transfer-encoding":
                    break
            else:
                # REST APIs drop the client's Content-Length (see the live capture in
                # tests/events/voker/rest-v1-live-encoding-probe.json), and WSGI bridges read exactly CONTENT_LENGTH
                # bytes of body: without it, Flask and Django behind a2wsgi would see an empty body.
                headers.append((b"content-length", str(len(body)).encode("ascii")))

        lifespan = self._lifespan
        if lifespan.started:
            # A shallow copy per invocation, as uvicorn gives each request: they share what startup put there.
            scope["state"] = lifespan.state.copy()
        elif lifespan.supported:
            state = self._state(loop)
            if state is not None:
                scope["state"] = state
        return source, scope, body

    def _head(self, source: type[EventSource], status: int, headers: Headers, event: LambdaEvent) -> LambdaResponse:
        return source.to_response(Response(status, headers, b""), event, self.config)

    def _shape(
        self, source: type[EventSource], response: Response, event: LambdaEvent, request_id: str
    ) -> LambdaResponse:
        """The application's whole response in the shape `source` returns it, or a 500 when it is over what the
        service takes back (Lambda's 6 MB for a synchronous invocation, less for the load balancer and CloudFront)."""
        try:
            result = source.to_response(response, event, self.config)
        except InvalidResponse as exc:
            logger.error("%s; answering 500 [%s]", exc, request_id)
            return source.to_response(internal_error(), event, self.config)
        if len(response.body) > source.small_body_bytes:
            size, limit = _payload_size(result, self._escapes_non_ascii), source.response_limit(event)
            if size > limit:
                logger.error(
                    "Response of %d bytes is over the %d byte limit on responses to %s events; answering 500 [%s]",
                    size,
                    limit,
                    source.name,
                    request_id,
                )
                result = source.to_response(internal_error(b"Response too large for AWS Lambda"), event, self.config)
        return result

    def _state(self, loop: asyncio.AbstractEventLoop) -> dict[str, Any] | None:
        """The lifespan state for one invocation, HTTP or not, after starting the lifespan if it is not yet."""
        lifespan = self._lifespan
        if not lifespan.supported:
            return None
        if not lifespan.started:
            _drive(loop, lifespan.startup())
        # A shallow copy per invocation, as uvicorn gives each request: they share what startup put there.
        return lifespan.state.copy() if lifespan.started else None


def _drive(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` to its end on `loop`; an `AdapterError` when another loop runs on this thread."""
    try:
        return loop.run_until_complete(coroutine)
    except RuntimeError:
        if not _loop_runs_here():
            raise  # a trigger handler's own RuntimeError, or the loop's
        _refuse_async_caller(coroutine)


def _refuse_async_caller(coroutine: Coroutine[Any, Any, Any]) -> NoReturn:
    # asyncio refused before it started the coroutine ("Cannot run the event loop while another loop is
    # running"): the handler was called from async code, as Lambda never calls it.
    coroutine.close()
    raise AdapterError(
        "LambdaAdapter is called synchronously, as Lambda calls it, and runs the application on an event loop of"
        " its own; from async code (a test, say) call it in a thread: await asyncio.to_thread(handler, event,"
        " context)"
    ) from None


def _loop_runs_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Runner:
    """The event loop of one adapter and the lifespan that runs on it, and their end: at `close()`, when the
    adapter is collected, or at process exit, whichever comes first, the lifespan shutdown runs once and the loop
    is closed."""

    def __init__(self, lifespan: Lifespan) -> None:
        self.lifespan = lifespan
        # The open loop, if any (None once closed).
        self.current: asyncio.AbstractEventLoop | None = None
        self._closing = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self.current
        if loop is None or loop.is_closed():
            loop = self.current = asyncio.new_event_loop()
            # Lambda sends SIGTERM only to functions with extensions, so process exit is the moment to shut down.
            _open.add(self)
            _register_exit_hook()
        return loop

    def close(self, timeout: float | None, *, at_exit: bool) -> None:
        with self._closing:
            loop = self.current
            self.current = None
            _open.discard(self)
            if loop is None or loop.is_closed():
                return
            try:
                loop.run_until_complete(asyncio.wait_for(self.lifespan.shutdown(), timeout))
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                if not at_exit:
                    # Sync trigger handlers run in the loop's default executor; its threads end here. At exit,
                    # concurrent.futures joins them itself, next, and Python 3.12 refuses the thread that
                    # shutdown_default_executor() starts to wait for them.
                    loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

    def close_quietly(self, *, at_exit: bool) -> None:
        try:
            self.close(None, at_exit=at_exit)
        except Exception:
            # Raised out of threading's exit hook, it would also stop the hooks after this one; raised out of a
            # finalizer, Python would print it as "Exception ignored".
            logger.exception("Closing the adapter %s failed", "at process exit" if at_exit else "when it was collected")

    def close_when_collected(self) -> None:
        """Closes the loop of an adapter that was dropped without `close()`. The collector may run this on any
        thread, also one whose own event loop is running, where this loop cannot run: then it runs on a thread of
        its own."""
        if self.current is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.close_quietly(at_exit=False)
            return
        closer = threading.Thread(target=self.close_quietly, kwargs={"at_exit": False}, name="adapter-close")
        closer.start()
        closer.join()


# The runners whose loops are open, closed at process exit (their adapters may be long gone).
_open: set[_Runner] = set()
_hooked = False


def _register_exit_hook() -> None:
    """Closes every open runner when the process exits; registered once."""
    global _hooked
    if _hooked:
        return
    _hooked = True
    # At exit, Python stops the thread pools of concurrent.futures before it runs atexit callbacks (its
    # concurrent/futures/thread.py hooks `_python_exit` into threading._register_atexit), so a lifespan shutdown
    # run from atexit could not use asyncio.to_thread or run_in_executor. threading runs its exit hooks
    # last-registered first: one registered once that module is imported runs while the pools still work.
    import concurrent.futures.thread  # noqa: F401 (its hook is registered on import)

    register: Callable[[Callable[[], None]], object] = getattr(threading, "_register_atexit", atexit.register)
    register(close_all_at_exit)


def close_all_at_exit() -> None:
    for runner in list(_open):
        runner.close_quietly(at_exit=True)


def _payload_size(result: LambdaResponse, ascii_only: bool) -> int:
    """The size of the response as Lambda serialises it, to within a few bytes."""
    body = result.pop("body", "")
    try:
        envelope = len(json.dumps(result, ensure_ascii=ascii_only).encode())
    finally:
        result["body"] = body
    # A base64 body needs no escaping; a text one may (quotes, control and non-ASCII characters).
    body_size = (
        len(body)
        if result.get("isBase64Encoded") or result.get("bodyEncoding") == "base64"
        else len(json.dumps(body, ensure_ascii=ascii_only).encode())
    )
    return envelope + body_size + len(',"body":')
