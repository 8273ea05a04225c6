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

# Task re-raises these out of the event loop itself (asyncio.Task.__step), so they reach whoever runs the loop
# rather than being taken for a failed startup.
_INTERRUPTS = (KeyboardInterrupt, SystemExit)


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
        self._attempt: _Attempt | None = None

    async def startup(self) -> None:
        await self._end_previous_attempt()
        self.state = {}
        attempt = self._attempt = _Attempt()
        attempt.messages.put_nowait({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(self._run(attempt), name="asgi-lifespan")
        self._task.add_done_callback(_retrieve_interrupt)
        await attempt.startup_done.wait()
        exception = attempt.exception
        if isinstance(exception, _INTERRUPTS):
            # The interrupt has already left the loop through the lifespan task, and this coroutine only resumes
            # on a later run of the loop: the attempt is abandoned and the next call starts again.
            return
        if attempt.failure is not None:
            _log_failure("startup", attempt.failure)
            # Starlette both sends `lifespan.startup.failed` and re-raises: chain the exception when there is one.
            raise LifespanError(f"ASGI lifespan startup failed: {_summary(attempt.failure)}") from exception
        if exception is not None:
            if self.mode == "auto":
                # As uvicorn does: in "auto" mode an application that raises instead of answering the lifespan
                # scope is taken not to implement it (https://www.uvicorn.org/settings/#application-interface).
                logger.info("ASGI 'lifespan' protocol appears unsupported by the application; continuing without it")
                self.supported = False
                return
            raise LifespanError(f"ASGI lifespan startup failed: {_describe(exception)}") from exception
        self.started = True

    async def _end_previous_attempt(self) -> None:
        # An application may answer `lifespan.startup.failed` and then wait on receive() for a shutdown that never
        # comes; a retry must not leave it pending beside the new attempt. asyncio.wait does not raise the task's
        # CancelledError, yet a cancellation of this coroutine itself still propagates.
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def shutdown(self) -> None:
        attempt, task = self._attempt, self._task
        if not self.started or task is None or task.done():
            self.started = False
            return
        assert attempt is not None
        self.started = False
        attempt.messages.put_nowait({"type": "lifespan.shutdown"})
        await attempt.shutdown_done.wait()
        if isinstance(attempt.exception, _INTERRUPTS):
            return  # as in startup: the interrupt has already left the loop
        if attempt.failure is not None:
            _log_failure("shutdown", attempt.failure)
            raise LifespanError(f"ASGI lifespan shutdown failed: {_summary(attempt.failure)}") from attempt.exception
        if attempt.exception is not None:
            raise LifespanError(f"ASGI lifespan shutdown failed: {_describe(attempt.exception)}") from attempt.exception

    async def _run(self, attempt: _Attempt) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, attempt.receive, attempt.send)
        except BaseException as exc:
            # As uvicorn does (uvicorn/lifespan/on.py, LifespanOn.main), whatever the application raises ends its
            # lifespan: a CancelledError from inside the application is a failed startup, not a successful one.
            attempt.exception = exc
            if isinstance(exc, (asyncio.CancelledError, *_INTERRUPTS)):
                # Left to asyncio: the task ends cancelled, or the interrupt is re-raised out of the loop.
                raise
            if self.started:
                logger.exception("Exception in ASGI lifespan after startup")
        finally:
            attempt.startup_done.set()
            attempt.shutdown_done.set()


class _Attempt:
    """One run of the application's lifespan: the messages it receives and what it answered.

    Each startup gets its own, so a task left from an earlier attempt can never answer for the current one.
    """

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.startup_done = asyncio.Event()
        self.shutdown_done = asyncio.Event()
        self.failure: str | None = None
        self.exception: BaseException | None = None

    async def receive(self) -> Message:
        return await self.messages.get()

    async def send(self, message: Message) -> None:
        message_type = message["type"]
        if message_type == "lifespan.startup.complete":
            self.startup_done.set()
        elif message_type == "lifespan.startup.failed":
            self.failure = str(message.get("message") or "")
            self.startup_done.set()
        elif message_type == "lifespan.shutdown.complete":
            self.shutdown_done.set()
        elif message_type == "lifespan.shutdown.failed":
            self.failure = str(message.get("message") or "")
            self.shutdown_done.set()
        else:
            raise RuntimeError(f"ASGI application sent an unexpected lifespan message type {message_type!r}")


def _retrieve_interrupt(task: asyncio.Task[None]) -> None:
    # _run keeps what the application raises, so the only exception the task can end with is a KeyboardInterrupt or
    # SystemExit, which asyncio has already raised out of the loop; retrieving it keeps asyncio from logging it
    # again as "Task exception was never retrieved".
    if not task.cancelled():
        task.exception()


def _log_failure(phase: str, message: str) -> None:
    # The spec asks the server to log the message of a failed startup or shutdown, as uvicorn does at ERROR
    # (https://asgi.readthedocs.io/en/latest/specs/lifespan.html); Starlette puts the whole traceback in it, which
    # the LifespanError, kept to one line, does not carry.
    if message.strip():
        logger.error("ASGI lifespan %s failed; the application reported:\n%s", phase, message.rstrip())


def _describe(exception: BaseException) -> str:
    text = str(exception)
    return f"{type(exception).__name__}: {text}" if text else type(exception).__name__


def _summary(message: str) -> str:
    # Starlette reports a failed startup with the whole traceback; its last line names the exception.
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message given"
