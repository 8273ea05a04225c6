from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
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
from adapter.types import Receive, Scope, Send
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


def test_startup_failed_message_is_summarised() -> None:
    lifespan = run_lifespan("startup-failed")
    with pytest.raises(LifespanError, match=r"^ASGI lifespan startup failed: KeyError: 'TABLE'$"):
        asyncio.run(lifespan.startup())
    with pytest.raises(LifespanError, match=r"startup failed: no message given$"):
        asyncio.run(run_lifespan("startup-failed-silently").startup())


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
        with pytest.raises(LifespanError, match=error):
            await lifespan.shutdown()

    asyncio.run(main())


def test_app_that_ends_its_lifespan_early_makes_shutdown_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    lifespan = run_lifespan("returns-early")

    async def main() -> None:
        await lifespan.startup()
        await lifespan._messages.put({"type": "lifespan.shutdown"})  # type: ignore[union-attr]
        await asyncio.sleep(0.01)
        await lifespan.shutdown()  # the task is done: nothing to wait for

    asyncio.run(main())
    assert not lifespan.started


def test_exception_in_lifespan_after_startup_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    lifespan = run_lifespan("shutdown-raises")

    async def main() -> None:
        await lifespan.startup()
        await lifespan._messages.put({"type": "lifespan.shutdown"})  # type: ignore[union-attr]
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
