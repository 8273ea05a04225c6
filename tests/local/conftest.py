"""`serve`'s gateway on a loopback port, in a thread of this process, in front of a handler from
tests/local/handlers.py; the environment variables the runtime sets are undone afterwards."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from adapter.local.events import Gateway
from adapter.local.gateway import GatewayServer, running
from adapter.local.runtime import FunctionConfig, FunctionRuntime

Serve = Callable[..., AbstractContextManager[httpx.Client]]


@contextmanager
def serving(
    handler: str = "tests.local.handlers.handler",
    format: str = "rest",
    *,
    timeout: float = 3.0,
    gateway_options: dict[str, Any] | None = None,
    runtime_options: dict[str, Any] | None = None,
    environment: dict[str, str] | None = None,
    **server_options: Any,
) -> Iterator[httpx.Client]:
    saved = dict(os.environ)
    config = FunctionConfig(handler, name="links", timeout=timeout, memory=256, environment=environment)
    runtime = FunctionRuntime(config, **(runtime_options or {}))
    try:
        runtime.start()
        server = GatewayServer(("127.0.0.1", 0), Gateway(format, **(gateway_options or {})), runtime, **server_options)
        with running(server) as url, httpx.Client(base_url=url, timeout=20) as client:
            yield client
    finally:
        runtime.close()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def serve() -> Serve:
    return serving
