"""`serve`'s gateway on a loopback port, in a thread of this process, in front of a handler from
tests/adapter/local/handlers.py; the environment variables the runtime sets are undone afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.local.events import Gateway
from adapter.local.gateway import GatewayServer, running
from adapter.local.runtime import FunctionConfig, FunctionRuntime
from sample_app.settings import Settings
from tests.helpers import free_port

Serve = Callable[..., AbstractContextManager[httpx.Client]]


@contextmanager
def serving(
    handler: str = "tests.adapter.local.handlers.handler",
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


@contextmanager
def serving_template(settings: Settings, prefix: str, *options: str) -> Iterator[str]:
    """`python -m adapter serve --template template.yaml` in a process of its own, on its own table; yields the
    base URL (ending in `prefix`) once `/health` answers."""
    root = Path(__file__).resolve().parents[3]
    port = free_port()
    environ = {**os.environ, "LINKS_TABLE": settings.links_table}
    environ["DYNAMODB_ENDPOINT_URL"] = settings.dynamodb_endpoint_url or ""
    command = [sys.executable, "-m", "adapter", "serve", "--template", "template.yaml", *options, "--port", str(port)]
    with subprocess.Popen(command, cwd=root, env=environ, stderr=subprocess.PIPE, text=True) as server:
        url = f"http://127.0.0.1:{port}{prefix}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:  # pragma: no cover - a failure
                    raise RuntimeError("serve did not start")
                time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait(10)
            assert server.stderr is not None
            server.stderr.close()
