from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapter import LambdaAdapter
from adapter.types import ASGIApp, Receive, Scope, Send

AdapterFactory = Callable[..., LambdaAdapter]


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request with a JSON description of the ASGI scope and body it received."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started"] = True
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    described = {
        "type": scope["type"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("ascii"),
        "root_path": scope["root_path"],
        "query_string": scope["query_string"].decode("ascii"),
        "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]],
        "server": list(scope["server"]) if scope["server"] else None,
        "client": list(scope["client"]) if scope["client"] else None,
        "body": base64.b64encode(body).decode("ascii"),
        "state": scope.get("state"),
    }
    payload = json.dumps(described).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def responder(status: int, headers: list[tuple[bytes, bytes]], *chunks: bytes) -> ASGIApp:
    """An app that answers every request with the given status, headers and body chunks."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("lifespan is not supported")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})
        if not chunks:
            await send({"type": "http.response.body", "body": b""})

    return app


def leaves_a_waiter(seen: list[str], *, raises: bool) -> ASGIApp:
    """An app that starts a task waiting on `receive()` for the disconnect, then raises or returns without
    answering; the task notes the message type it gets in `seen`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def clean_up() -> None:
            seen.append((await receive())["type"])

        asyncio.get_running_loop().create_task(clean_up())
        await asyncio.sleep(0)
        if raises:
            raise RuntimeError("boom")

    return app


@pytest.fixture
def make_adapter() -> Iterator[AdapterFactory]:
    """Builds adapters and closes them after the test, so their event loops do not outlive it."""
    adapters: list[LambdaAdapter] = []

    def make(app: ASGIApp = echo_app, **options: Any) -> LambdaAdapter:
        adapter = LambdaAdapter(app, **options)
        adapters.append(adapter)
        return adapter

    yield make
    for adapter in adapters:
        adapter.close()
