"""The ASGI lifespan protocol, run once per process on the adapter's event loop.

https://asgi.readthedocs.io/en/latest/specs/lifespan.html
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from adapter.exceptions import LifespanError
from adapter.types import ASGIApp, LifespanMode, Message

logger = logging.getLogger("adapter")


class Lifespan:
    """Starts the application once and keeps its lifespan task suspended between invocations.

    The task stays pending on the adapter's loop for the life of the process, so resources the application
    opens in startup (clients, connection pools, `async with` blocks) stay open across warm invocations, and
    the state it yields reaches every request through `scope["state"]`.
    """

    def __init__(self, app: ASGIApp, mode: LifespanMode) -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self.started = False
        self.supported = mode != "off"
        self._task: asyncio.Task[None] | None = None
        self._messages: asyncio.Queue[Message] | None = None
        self._startup_done: asyncio.Event | None = None
        self._shutdown_done: asyncio.Event | None = None
        self._failure: str | None = None
        self._exception: BaseException | None = None

    async def startup(self) -> None:
        self._reset()
        self._messages = asyncio.Queue()
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        await self._messages.put({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(self._run(), name="asgi-lifespan")
        await self._startup_done.wait()
        if self._failure is not None:
            raise LifespanError(f"ASGI lifespan startup failed: {_summary(self._failure)}")
        if self._exception is not None:
            if self.mode == "auto":
                # As uvicorn does: in "auto" mode an application that raises instead of answering the lifespan
                # scope is taken not to implement it (https://www.uvicorn.org/settings/#application-interface).
                logger.info("ASGI 'lifespan' protocol appears unsupported by the application; continuing without it")
                self.supported = False
                return
            raise LifespanError(
                f"ASGI lifespan startup failed: {type(self._exception).__name__}: {self._exception}"
            ) from self._exception
        self.started = True

    def _reset(self) -> None:
        self.state = {}
        self._failure = None
        self._exception = None

    async def shutdown(self) -> None:
        if not self.started or self._task is None or self._task.done():
            self.started = False
            return
        assert self._messages is not None and self._shutdown_done is not None
        self.started = False
        await self._messages.put({"type": "lifespan.shutdown"})
        await self._shutdown_done.wait()
        if self._failure is not None:
            raise LifespanError(f"ASGI lifespan shutdown failed: {_summary(self._failure)}")
        if self._exception is not None:
            raise LifespanError(
                f"ASGI lifespan shutdown failed: {type(self._exception).__name__}: {self._exception}"
            ) from self._exception

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            self._exception = exc
            if self.started:
                logger.exception("Exception in ASGI lifespan after startup")
        finally:
            assert self._startup_done is not None and self._shutdown_done is not None
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> Message:
        assert self._messages is not None
        return await self._messages.get()

    async def _send(self, message: Message) -> None:
        assert self._startup_done is not None and self._shutdown_done is not None
        message_type = message["type"]
        if message_type == "lifespan.startup.complete":
            self._startup_done.set()
        elif message_type == "lifespan.startup.failed":
            self._failure = str(message.get("message") or "")
            self._startup_done.set()
        elif message_type == "lifespan.shutdown.complete":
            self._shutdown_done.set()
        elif message_type == "lifespan.shutdown.failed":
            self._failure = str(message.get("message") or "")
            self._shutdown_done.set()
        else:
            raise RuntimeError(f"ASGI application sent an unexpected lifespan message type {message_type!r}")


def _summary(message: str) -> str:
    # Starlette reports a failed startup with the whole traceback; its last line names the exception.
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message given"
