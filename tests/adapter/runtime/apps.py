"""The Starlette application the runtime tests serve, and the gates that let a test hold it at a chosen point.

`handler` is a `LambdaAdapter` over it, importable as `tests.adapter.runtime.apps.handler` by a runtime in another
process (whose lifespan writes to the file named by RUNTIME_TEST_JOURNAL, so that the test can read what ran).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from adapter import LambdaAdapter
from adapter.runtime import after_response


class Gates:
    """Events shared between the application (on the runtime's loop) and the test (in its own thread)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.journal: list[str] = []
        self.lock = threading.Lock()

    def note(self, entry: str) -> None:
        with self.lock:
            self.journal.append(entry)
        path = os.environ.get("RUNTIME_TEST_JOURNAL")
        if path:
            with open(path, "a", encoding="utf-8") as journal:
                journal.write(entry + "\n")


gates = Gates()


async def wait_for_release(timeout: float = 10) -> bool:
    """Waits, without blocking the loop, until the test releases the application."""
    return await anyio.to_thread.run_sync(gates.release.wait, timeout)


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def echo(request: Request) -> Response:
    context = request.scope["aws.context"]
    return JSONResponse(
        {
            "path": request.url.path,
            "body": (await request.body()).decode(),
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "state": request.scope.get("state", {}).get("started"),
        },
        headers={"x-multi": "a"},
    )


async def unicode(request: Request) -> Response:
    return JSONResponse({"word": "caf\u00e9", "emoji": "\U0001f600"}, headers={"x-word": "caf\u00e9"})


async def cookies(request: Request) -> Response:
    response = PlainTextResponse("cookies", headers={"x-tag": "1"})
    response.set_cookie("first", "1")
    response.set_cookie("second", "2")
    return response


async def events(request: Request) -> Response:
    """Server-sent events: the first one at once, the next only once the test has seen the first."""

    async def feed() -> AsyncIterator[str]:
        yield "data: first\n\n"
        released = await wait_for_release()
        yield f"data: {'second' if released else 'not released'}\n\n"
        gates.note("feed finished")

    return StreamingResponse(feed(), media_type="text/event-stream")


async def broken_stream(request: Request) -> Response:
    async def feed() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ValueError("the feed broke")

    return StreamingResponse(feed(), media_type="text/plain")


async def background(request: Request) -> Response:
    async def after() -> None:
        gates.note("background started")
        released = await wait_for_release()
        gates.note(f"background finished released={released}")

    return PlainTextResponse("queued", background=BackgroundTask(after))


async def hooked(request: Request) -> Response:
    async def later(value: str) -> None:
        gates.note(f"async hook {value}")

    def sync_later(value: str) -> None:
        gates.note(f"sync hook {value}")

    def broken() -> None:
        raise RuntimeError("the hook broke")

    after_response(later, "one")
    after_response(broken)
    after_response(sync_later, value="two")
    return PlainTextResponse("hooked")


async def slow(request: Request) -> Response:
    gates.note("slow started")
    await asyncio.sleep(60)
    return PlainTextResponse("too late")  # pragma: no cover - the deadline comes first


async def slow_stream(request: Request) -> Response:
    async def feed() -> AsyncIterator[bytes]:
        yield b"begun"
        await asyncio.sleep(60)
        yield b"never"  # pragma: no cover - the deadline comes first

    return StreamingResponse(feed(), media_type="text/plain")


async def slow_background(request: Request) -> Response:
    return PlainTextResponse("sent", background=BackgroundTask(asyncio.sleep, 60))


async def slow_hook(request: Request) -> Response:
    after_response(asyncio.sleep, 60)
    return PlainTextResponse("sent")


async def boom(request: Request) -> Response:
    raise ValueError("the handler broke")


async def boom_after(request: Request) -> Response:
    def fail() -> None:
        raise ValueError("the background task broke")

    return PlainTextResponse("sent", background=BackgroundTask(fail))


async def large(request: Request) -> Response:
    return Response(b"x" * (7 * 1024 * 1024), media_type="application/octet-stream")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    gates.note("startup")
    if os.environ.get("RUNTIME_TEST_FAIL_STARTUP"):
        raise RuntimeError("the database is unreachable")
    yield {"started": True}
    gates.note("shutdown")


app = Starlette(
    routes=[
        Route("/hello", hello),
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/cookies", cookies),
        Route("/unicode", unicode),
        Route("/events", events),
        Route("/broken-stream", broken_stream),
        Route("/background", background),
        Route("/hooked", hooked),
        Route("/slow", slow),
        Route("/slow-stream", slow_stream),
        Route("/slow-background", slow_background),
        Route("/slow-hook", slow_hook),
        Route("/boom", boom),
        Route("/boom-after", boom_after),
        Route("/large", large),
    ],
    lifespan=lifespan,
)

handler = LambdaAdapter(app)


def plain(event: Any, context: Any) -> Any:
    """A handler that is not an adapter: answers what the event asks for."""
    action = event.get("action") if isinstance(event, dict) else None
    if action == "raise":
        raise KeyError("missing")
    if action == "bytes":
        return b"\x00raw"
    if action == "unserialisable":
        return {"when": object()}
    if action == "later":
        after_response(gates.note, "plain hook")
    return {"echo": event, "request_id": context.aws_request_id}


not_callable = 42
