"""One HTTP request served by the runtime: the application's response goes out as soon as it is complete (or
part by part), what the application still does after that runs on, and all of it is bounded by the
invocation's deadline.

Work after the response: Starlette's `BackgroundTasks` run inside the application after its last body chunk,
so posting the response at that chunk is what lets them run after it; `after_response()` queues anything else.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol

from adapter.http import StreamingHTTPCycle, internal_error
from adapter.runtime.client import RuntimeAPIError
from adapter.runtime.streaming import Headers
from adapter.sources import Response
from adapter.types import ASGIApp, Scope

logger = logging.getLogger("adapter.runtime")

# How long a cancelled application gets to unwind (its `finally` blocks) once its deadline has passed.
_CANCEL_GRACE = 0.1

_after_response: ContextVar[list[Callable[[], Any]] | None] = ContextVar("adapter_after_response", default=None)


def after_response(callback: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Runs `callback(*args, **kwargs)` once the response of the current invocation has been sent, before the
    runtime fetches the next one, within the invocation's time limit (less the deadline margin).

    A coroutine function is awaited on the application's event loop; a plain function runs in a worker thread,
    as Starlette runs synchronous background tasks. Callbacks run in the order they were queued; one that raises
    is logged and the others still run.

    It works in invocations that `adapter.runtime` serves (HTTP requests, non-HTTP triggers and plain handlers
    alike) and raises `RuntimeError` anywhere else: under uvicorn or the classic handler there is no moment
    after the response to run it in, and Starlette's `BackgroundTasks` are the portable way.
    """
    if not callable(callback):
        raise TypeError(f"after_response() takes a callable, not {callback!r}")
    pending = _after_response.get()
    if pending is None:
        raise RuntimeError(
            "after_response() queues work for after the response of an invocation that adapter.runtime serves,"
            " and there is none here; under uvicorn or the classic handler use Starlette's BackgroundTasks"
        )
    pending.append(functools.partial(callback, *args, **kwargs))


def error_document(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's error payload for `error`, as the managed runtime makes it (`make_error` in awslambdaric)."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


def gateway_timeout() -> Response:
    problem = {
        "type": "about:blank",
        "title": "Gateway Timeout",
        "status": 504,
        "detail": "The request did not finish within the function's time limit.",
    }
    body = json.dumps(problem).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode("ascii"))]
    return Response(504, headers, body)


class Sink(Protocol):
    committed: bool

    def start(self, status: int, headers: Headers) -> None: ...

    def write(self, chunk: bytes, more: bool) -> None: ...

    def respond(self, response: Response) -> None: ...

    def finish(self) -> None: ...

    def fail(self, error: dict[str, Any]) -> None: ...


async def serve_http(app: ASGIApp, scope: Scope, body: bytes, request_id: str, sink: Sink, deadline: float) -> None:
    """Runs the application for one request, its response going to `sink`, until it returns or `deadline`
    (the loop's clock) passes. A Runtime API failure while sending is raised once the application is done."""
    loop = asyncio.get_running_loop()
    guarded = _Guarded(sink)
    cycle = StreamingHTTPCycle(body, guarded)
    root_path = scope.get("root_path", "")

    async def run_app() -> None:
        await app(scope, cycle.receive, cycle.send)

    task = loop.create_task(run_app(), name=f"asgi-http-{request_id}")
    try:
        done, _ = await asyncio.wait((task,), timeout=max(0.0, deadline - loop.time()))
        if guarded.failure is not None:
            await _cancel(task)
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: the Runtime API failure is what the runtime reports
            raise guarded.failure
        if not done:
            _log_overrun(task, scope, root_path, request_id, cycle.complete)
            await _cancel(task)
            if not sink.committed:
                sink.respond(gateway_timeout())
            elif not cycle.complete:
                sink.fail({"errorMessage": "The response did not finish in time", "errorType": "DeadlineExceeded"})
            return
        # KeyboardInterrupt and SystemExit never get here: asyncio raises them out of the loop at once.
        error = None if task.cancelled() else task.exception()
        if error is not None:
            if not cycle.started:
                logger.error(
                    "Exception in ASGI application before the response started; answering 500 [%s]",
                    request_id,
                    exc_info=error,
                )
                sink.respond(internal_error())
            elif not cycle.complete:
                logger.error(
                    "Exception in ASGI application after the response started; ending it there [%s]",
                    request_id,
                    exc_info=error,
                )
                sink.fail(error_document(error))
            else:
                logger.error(
                    "Exception in ASGI application after its response was sent [%s]", request_id, exc_info=error
                )
        elif task.cancelled() or not cycle.started:
            logger.error("ASGI application returned without starting a response; answering 500 [%s]", request_id)
            sink.respond(internal_error())
        elif not cycle.complete:
            logger.error(
                "ASGI application returned before completing its response; sending what was sent [%s]", request_id
            )
            sink.finish()
    finally:
        # Tasks still waiting for the disconnect get it now that the exchange is over.
        cycle.end()


async def run_after_response(callbacks: list[Callable[[], Any]], deadline: float, request_id: str) -> None:
    """Runs the queued callbacks one after the other until they are done or `deadline` passes."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(_run_callbacks(callbacks, request_id), name=f"after-response-{request_id}")
    done, _ = await asyncio.wait((task,), timeout=max(0.0, deadline - loop.time()))
    if not done:
        logger.error(
            "Work after the response was still running at the invocation's deadline; cancelled it [%s]\n%s",
            request_id,
            _stacks(task),
        )
        await _cancel(task)


async def _run_callbacks(callbacks: list[Callable[[], Any]], request_id: str) -> None:
    loop = asyncio.get_running_loop()
    for callback in callbacks:
        try:
            if inspect.iscoroutinefunction(callback.func if isinstance(callback, functools.partial) else callback):
                await callback()
            else:
                result = await loop.run_in_executor(None, callback)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            logger.exception("Exception in work queued with after_response() [%s]", request_id)


class _Guarded:
    """Keeps the first Runtime API failure of a sink, which the application may swallow (a framework's error
    handler catches what `send` raises), so that the runtime sees it whatever the application does."""

    __slots__ = ("failure", "sink")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.failure: RuntimeAPIError | None = None

    def start(self, status: int, headers: Headers) -> None:
        try:
            self.sink.start(status, headers)
        except RuntimeAPIError as error:
            self.failure = error
            raise

    def write(self, chunk: bytes, more: bool) -> None:
        try:
            self.sink.write(chunk, more)
        except RuntimeAPIError as error:
            self.failure = error
            raise


async def _cancel(task: asyncio.Task[Any]) -> None:
    if task.done():
        return
    task.cancel()
    await asyncio.wait((task,), timeout=_CANCEL_GRACE)


def _log_overrun(task: asyncio.Task[Any], scope: Scope, root_path: str, request_id: str, complete: bool) -> None:
    from adapter.tracing.routes import route_template

    # The route's template, not the path: paths carry identifiers and tokens that stay out of the logs.
    route = route_template(scope, root_path) or "(no route matched yet)"
    what = "Work after the response" if complete else "The request"
    answer = "cancelled it" if complete else "answering 504"
    logger.error(
        "%s (%s %s) was still running at the invocation's deadline; %s [%s]\n%s",
        what,
        scope.get("method"),
        route,
        answer,
        request_id,
        _stacks(task),
    )


def _stacks(task: asyncio.Task[Any]) -> str:
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
