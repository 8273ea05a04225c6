"""The sample app under a real uvicorn server, against a fresh table in DynamoDB Local, for each test."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from sample_app.app import create_app
from sample_app.settings import Settings


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """`app` under uvicorn (lifespan included) on a loopback port, in a thread of its own; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def base_url(module_links_settings: Settings) -> Iterator[str]:
    """The app on a table that the module's tests share: each test creates links of its own."""
    with serve(create_app(module_links_settings)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture
def empty_client(links_settings: Settings) -> Iterator[httpx.Client]:
    """A client of an app whose table is this test's alone, and empty."""
    with serve(create_app(links_settings)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def unique(prefix: str = "code") -> str:
    """A link code no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int, detail_contains: str = "") -> dict[str, Any]:
    """`response` is an RFC 9457 problem with `status`; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"] == "about:blank"
    assert problem["title"] == HTTPStatus(status).phrase
    assert detail_contains in problem["detail"]
    return problem


def create_link(client: httpx.Client, url: str = "https://example.com/page", **fields: str) -> dict[str, Any]:
    """Creates a link through the API and returns its JSON."""
    response = client.post("/links", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link
