from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import textwrap
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapter import LambdaAdapter, LifespanError
from adapter.lifespan import Lifespan
from adapter.types import ASGIApp, Receive, Scope, Send
from tests.adapter.builders import make_http_v2_event
from tests.adapter.conftest import AdapterFactory, responder
from tests.conftest import LambdaContextStub


def counting_app(calls: list[str], state: dict[str, Any] | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        calls.append("startup")
        yield {"client": object(), **(state or {})}
        calls.append("shutdown")

    async def endpoint(request: Request) -> JSONResponse:
        calls.append("request")
        request.state.per_request = True  # must not leak into the next request
        return JSONResponse({"client": id(request.state.client), "keys": sorted(vars(request.state)["_state"])})

    return Starlette(routes=[Route("/", endpoint)], lifespan=lifespan)


def test_startup_runs_once_per_process_and_state_reaches_every_request(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    calls: list[str] = []
    handler = make_adapter(counting_app(calls))
    first = json.loads(handler(make_http_v2_event(), lambda_context)["body"])
    second = json.loads(handler(make_http_v2_event(), lambda_context)["body"])
    assert calls == ["startup", "request", "request"]
    assert first["client"] == second["client"]
    assert second["keys"] == ["client", "per_request"]
    handler.close()
    assert calls[-1] == "shutdown"


def test_startup_can_run_eagerly(make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    calls: list[str] = []
    handler = make_adapter(counting_app(calls))
    handler.startup()
    handler.startup()
    assert calls == ["startup"]
    handler(make_http_v2_event(), lambda_context)
    assert calls == ["startup", "request"]


def test_failed_startup_names_the_exception_and_is_retried(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    attempts: list[int] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("DynamoDB unreachable")
        yield

    handler = make_adapter(Starlette(lifespan=lifespan))
    with pytest.raises(LifespanError, match=r"^ASGI lifespan startup failed: ConnectionError: DynamoDB unreachable$"):
        handler(make_http_v2_event(), lambda_context)
    # The next invocation tries again rather than serving without the app's resources.
    assert handler(make_http_v2_event(), lambda_context)["statusCode"] == 404
    assert len(attempts) == 2


def test_auto_mode_carries_on_when_the_app_has_no_lifespan(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "adapter")
    handler = make_adapter(responder(200, [], b"ok"))
    assert handler(make_http_v2_event(), lambda_context)["body"] == "b2s="
    assert handler(make_http_v2_event(), lambda_context)["body"] == "b2s="
    assert [record.getMessage() for record in caplog.records] == [
        "ASGI 'lifespan' protocol appears unsupported by the application; continuing without it"
    ]


def test_on_mode_requires_lifespan(make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    handler = make_adapter(responder(200, [], b"ok"), lifespan="on")
    with pytest.raises(LifespanError, match="RuntimeError: lifespan is not supported"):
        handler(make_http_v2_event(), lambda_context)


def test_off_mode_never_sends_lifespan(make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    calls: list[str] = []
    handler = make_adapter(counting_app(calls), lifespan="off")
    handler.startup()
    assert handler(make_http_v2_event(), lambda_context)["statusCode"] == 500  # request.state.client is missing
    handler.close()
    assert calls == ["request"]


def run_lifespan(mode: str) -> Lifespan:
    """A lifespan whose app fails in the way `mode` says, to exercise each branch of the protocol."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        if mode == "startup-failed":
            await send({"type": "lifespan.startup.failed", "message": "Traceback...\nKeyError: 'TABLE'\n"})
            return
        if mode == "startup-failed-silently":
            await send({"type": "lifespan.startup.failed", "message": ""})
            return
        if mode == "unknown-message":
            await send({"type": "lifespan.bogus"})
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        if mode == "shutdown-failed":
            await send({"type": "lifespan.shutdown.failed", "message": "could not flush"})
        elif mode == "shutdown-raises":
            raise OSError("socket closed")
        elif mode != "returns-early":
            await send({"type": "lifespan.shutdown.complete"})

    return Lifespan(app, "on")


def test_startup_failed_message_is_summarised_and_logged_whole(caplog: pytest.LogCaptureFixture) -> None:
    lifespan = run_lifespan("startup-failed")
    with pytest.raises(LifespanError, match=r"^ASGI lifespan startup failed: KeyError: 'TABLE'$") as raised:
        asyncio.run(lifespan.startup())
    assert raised.value.__cause__ is None  # the application sent the message without raising
    assert [(record.name, record.levelno, record.getMessage()) for record in caplog.records] == [
        (
            "adapter",
            logging.ERROR,
            "ASGI lifespan startup failed; the application reported:\nTraceback...\nKeyError: 'TABLE'",
        )
    ]
    caplog.clear()
    with pytest.raises(LifespanError, match=r"startup failed: no message given$"):
        asyncio.run(run_lifespan("startup-failed-silently").startup())
    assert caplog.records == []  # nothing to log beyond the LifespanError itself


def connect_to_database() -> None:
    raise ConnectionError("db.internal:5432 unreachable")


def test_failed_startup_logs_the_applications_traceback_once_and_chains_its_exception(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub, caplog: pytest.LogCaptureFixture
) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connect_to_database()
        yield

    # Starlette both sends `lifespan.startup.failed` with the whole traceback and re-raises.
    handler = make_adapter(Starlette(lifespan=lifespan))
    with pytest.raises(LifespanError) as raised:
        handler(make_http_v2_event(), lambda_context)
    assert str(raised.value) == "ASGI lifespan startup failed: ConnectionError: db.internal:5432 unreachable"
    cause = raised.value.__cause__
    assert isinstance(cause, ConnectionError)
    assert "connect_to_database" in "".join(traceback.format_exception(cause))
    [record] = caplog.records
    assert (record.name, record.levelno) == ("adapter", logging.ERROR)
    logged = record.getMessage().splitlines()
    assert logged[0] == "ASGI lifespan startup failed; the application reported:"
    assert logged[1] == "Traceback (most recent call last):"
    assert any("in connect_to_database" in line for line in logged)
    assert logged[-1] == "ConnectionError: db.internal:5432 unreachable"


def test_failed_shutdown_logs_the_applications_traceback_once_and_chains_its_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        raise RuntimeError("the pool would not close")

    handler = LambdaAdapter(Starlette(lifespan=lifespan))
    handler.startup()
    with pytest.raises(
        LifespanError, match=r"^ASGI lifespan shutdown failed: RuntimeError: the pool would not close$"
    ) as raised:
        handler.close()
    assert isinstance(raised.value.__cause__, RuntimeError)
    [record] = caplog.records
    assert (record.name, record.levelno) == ("adapter", logging.ERROR)
    assert record.getMessage().startswith("ASGI lifespan shutdown failed; the application reported:\nTraceback")
    assert record.getMessage().endswith("\nRuntimeError: the pool would not close")


class Abort(BaseException):
    """A BaseException that asyncio gives no special treatment."""


@pytest.mark.parametrize(
    ("error_type", "args", "described"),
    [(asyncio.CancelledError, (), "CancelledError"), (Abort, ("stop",), "Abort: stop")],
)
def test_base_exception_raised_in_startup_fails_it_in_on_mode(
    error_type: type[BaseException],
    args: tuple[str, ...],
    described: str,
    make_adapter: AdapterFactory,
    lambda_context: LambdaContextStub,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        scope["state"]["db"] = "half-open"
        raise error_type(*args)

    handler = make_adapter(app, lifespan="on")
    with pytest.raises(LifespanError, match=rf"^ASGI lifespan startup failed: {described}$") as raised:
        handler(make_http_v2_event(), lambda_context)
    assert type(raised.value.__cause__) is error_type
    assert not handler._lifespan.started


@pytest.mark.parametrize(
    ("error_type", "args", "described"),
    [(asyncio.CancelledError, (), "CancelledError"), (Abort, ("stop",), "Abort: stop")],
)
def test_base_exception_raised_in_startup_means_no_lifespan_in_auto_mode(
    error_type: type[BaseException],
    args: tuple[str, ...],
    described: str,
    make_adapter: AdapterFactory,
    lambda_context: LambdaContextStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "adapter")
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["db"] = "half-open"
            raise error_type(*args)
        scopes.append(scope)
        await responder(200, [], b"ok")(scope, receive, send)

    handler = make_adapter(app)
    assert handler(make_http_v2_event(), lambda_context)["statusCode"] == 200
    assert handler(make_http_v2_event(), lambda_context)["statusCode"] == 200
    assert [scope.get("state") for scope in scopes] == [None, None]  # the half-built state reaches no request
    assert not handler._lifespan.supported
    assert [record.getMessage() for record in caplog.records] == [
        "ASGI 'lifespan' protocol appears unsupported by the application; continuing without it"
    ]


def interrupted_app(interrupt: type[BaseException], framework: str, attempts: list[int]) -> ASGIApp:
    """An app whose first lifespan startup puts a half-built client in the state and is then interrupted."""

    async def start(state: dict[str, Any]) -> None:
        attempts.append(1)
        state["client"] = "half-built" if len(attempts) == 1 else "ready"
        if len(attempts) == 1:
            raise interrupt

    if framework == "starlette":
        # Starlette sends `lifespan.startup.failed` before it re-raises.
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
            state: dict[str, Any] = {}
            await start(state)
            yield state

        async def endpoint(request: Request) -> JSONResponse:
            return JSONResponse({"client": getattr(request.state, "client", None)})

        return Starlette(routes=[Route("/", endpoint)], lifespan=lifespan)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await start(scope["state"])
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = json.dumps({"client": scope.get("state", {}).get("client")}).encode()
        await responder(200, [(b"content-type", b"application/json")], body)(scope, receive, send)

    return app


@pytest.mark.parametrize("framework", ["asgi", "starlette"])
@pytest.mark.parametrize("mode", ["auto", "on"])
@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupt_raised_in_startup_propagates_and_the_next_call_starts_again(
    interrupt: type[BaseException],
    mode: str,
    framework: str,
    lambda_context: LambdaContextStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[int] = []
    # asyncio raises KeyboardInterrupt and SystemExit out of the loop: they end the invocation as they are, rather
    # than becoming a LifespanError or, in "auto" mode, a lifespan taken to be unsupported.
    handler = LambdaAdapter(interrupted_app(interrupt, framework, attempts), lifespan=mode)
    try:
        with pytest.raises(interrupt):
            handler(make_http_v2_event(), lambda_context)
        handler.loop.run_until_complete(asyncio.sleep(0))  # the abandoned startup resumes, and must not start
        assert (handler._lifespan.started, handler._lifespan.supported) == (False, True)
        assert json.loads(handler(make_http_v2_event(), lambda_context)["body"]) == {"client": "ready"}
        assert len(attempts) == 2
    finally:
        handler.close()
    del handler
    gc.collect()
    assert caplog.records == []  # neither a startup failure nor asyncio's "Task exception was never retrieved"


def test_interrupt_raised_in_shutdown_propagates_out_of_close(caplog: pytest.LogCaptureFixture) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        raise KeyboardInterrupt

    handler = LambdaAdapter(Starlette(lifespan=lifespan))
    handler.startup()
    with pytest.raises(KeyboardInterrupt):
        handler.close()
    del handler
    gc.collect()
    assert caplog.records == []  # no "Task exception was never retrieved" for the interrupt already raised


def test_interrupt_raised_in_shutdown_is_not_reported_again_when_the_loop_runs_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise SystemExit(3)

    lifespan = Lifespan(app, "on")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(lifespan.startup())
        shutdown = loop.create_task(lifespan.shutdown())
        with pytest.raises(SystemExit):
            loop.run_until_complete(shutdown)
        loop.run_until_complete(shutdown)  # resumes after the interrupt left the loop, and ends quietly
    finally:
        loop.close()
    assert not lifespan.started
    assert caplog.records == []


def test_retry_ends_the_task_of_the_failed_attempt() -> None:
    cancelled: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        try:
            await receive()  # the spec lets the application wait for a lifespan.shutdown after failing
        except asyncio.CancelledError:
            cancelled.append(1)
            raise

    lifespan = Lifespan(app, "on")

    async def main() -> None:
        for attempt in range(3):
            with pytest.raises(LifespanError, match="no database"):
                await lifespan.startup()
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            assert len(pending) == 1
            assert len(cancelled) == attempt

    asyncio.run(main())


def test_a_failed_attempt_cannot_answer_for_the_next_one() -> None:
    sends: list[Send] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        sends.append(send)
        if len(sends) == 1:
            await send({"type": "lifespan.startup.failed", "message": "first"})
            return
        # Whatever the first attempt left behind (a background task holding its `send`, say) answers late.
        await sends[0]({"type": "lifespan.startup.complete"})
        await asyncio.sleep(0.01)
        await send({"type": "lifespan.startup.failed", "message": "second"})

    lifespan = Lifespan(app, "on")

    async def main() -> None:
        with pytest.raises(LifespanError, match=r"first$"):
            await lifespan.startup()
        with pytest.raises(LifespanError, match=r"second$"):
            await lifespan.startup()
        assert not lifespan.started

    asyncio.run(main())


def test_unknown_lifespan_message_fails_startup() -> None:
    with pytest.raises(LifespanError, match=r"unexpected lifespan message type 'lifespan\.bogus'"):
        asyncio.run(run_lifespan("unknown-message").startup())


@pytest.mark.parametrize(
    ("mode", "error"),
    [("shutdown-failed", "shutdown failed: could not flush"), ("shutdown-raises", "shutdown failed: OSError: socket")],
)
def test_shutdown_failures(mode: str, error: str, caplog: pytest.LogCaptureFixture) -> None:
    lifespan = run_lifespan(mode)

    async def main() -> None:
        await lifespan.startup()
        with pytest.raises(LifespanError, match=error) as raised:
            await lifespan.shutdown()
        if mode == "shutdown-raises":
            assert isinstance(raised.value.__cause__, OSError)
            assert caplog.records == []  # the traceback travels with the LifespanError
        else:
            assert raised.value.__cause__ is None
            assert [record.getMessage() for record in caplog.records] == [
                "ASGI lifespan shutdown failed; the application reported:\ncould not flush"
            ]

    asyncio.run(main())


def test_app_that_ends_its_lifespan_early_makes_shutdown_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    lifespan = run_lifespan("returns-early")

    async def main() -> None:
        await lifespan.startup()
        lifespan._attempt.messages.put_nowait({"type": "lifespan.shutdown"})  # type: ignore[union-attr]
        await asyncio.sleep(0.01)
        await lifespan.shutdown()  # the task is done: nothing to wait for

    asyncio.run(main())
    assert not lifespan.started


def test_exception_in_lifespan_after_startup_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    lifespan = run_lifespan("shutdown-raises")

    async def main() -> None:
        await lifespan.startup()
        lifespan._attempt.messages.put_nowait({"type": "lifespan.shutdown"})  # type: ignore[union-attr]
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert caplog.records[0].getMessage() == "Exception in ASGI lifespan after startup"


def test_close_is_idempotent_and_cancels_leftover_tasks(lambda_context: LambdaContextStub) -> None:
    finished: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def background() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                finished.append("cancelled")

        asyncio.get_running_loop().create_task(background())
        await responder(200, [], b"")(scope, receive, send)

    handler = LambdaAdapter(app, lifespan="off")
    handler(make_http_v2_event(), lambda_context)
    handler.close()
    handler.close()
    assert finished == ["cancelled"]
    LambdaAdapter(app).close()  # never used: nothing to close


def test_shutdown_runs_when_the_process_exits(tmp_path: Path) -> None:
    script = tmp_path / "function.py"
    script.write_text(
        textwrap.dedent(
            """
            from contextlib import asynccontextmanager
            from starlette.applications import Starlette
            from adapter import LambdaAdapter
            from tests.adapter.builders import make_http_v2_event

            @asynccontextmanager
            async def lifespan(app):
                print("startup", flush=True)
                yield
                print("shutdown", flush=True)

            handler = LambdaAdapter(Starlette(lifespan=lifespan))
            print(handler(make_http_v2_event(), None)["statusCode"], flush=True)
            """
        )
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.stdout.split() == ["startup", "404", "shutdown"]
