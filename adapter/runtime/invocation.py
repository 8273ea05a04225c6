"""Work after the response of an invocation that the runtime serves, bounded by the invocation's deadline.

Work after the response: Starlette's `BackgroundTasks` run inside the application after its last body chunk,
so posting the response at that chunk is what lets them run after it; `after_response()` queues anything else.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from adapter.http import cancel, task_stacks

logger = logging.getLogger("adapter.runtime")

# The callbacks queued by the invocation in progress (the runtime sets a list for each one; None elsewhere).
pending_after_response: ContextVar[list[Callable[[], Any]] | None] = ContextVar("adapter_after_response", default=None)


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
    pending = pending_after_response.get()
    if pending is None:
        raise RuntimeError(
            "after_response() queues work for after the response of an invocation that adapter.runtime serves,"
            " and there is none here; under uvicorn or the classic handler use Starlette's BackgroundTasks"
        )
    pending.append(functools.partial(callback, *args, **kwargs))


async def run_after_response(callbacks: list[Callable[[], Any]], deadline: float, request_id: str) -> None:
    """Runs the queued callbacks one after the other until they are done or `deadline` (a `time.time()` moment)
    passes."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(_run_callbacks(callbacks, request_id), name=f"after-response-{request_id}")
    done, _ = await asyncio.wait((task,), timeout=max(0.0, deadline - time.time()))
    if not done:
        logger.error(
            "Work after the response was still running at the invocation's deadline; cancelled it [%s]\n%s",
            request_id,
            task_stacks(task),
        )
        await cancel(task)


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
