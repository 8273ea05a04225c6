"""Helpers for testing traced applications against what the X-Ray daemon would really receive.

`DaemonSink` is a UDP socket on loopback: point `AWS_XRAY_DAEMON_ADDRESS` at its `address` and the SDK's emitter
sends it the same datagrams it sends the daemon. `isolated_xray_recorder()` gives a test the SDK's global recorder
and botocore as they were before it, since `XRayMiddleware` configures the one and patches the other.
"""

from __future__ import annotations

import importlib
import json
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

__all__ = ["DaemonSink", "assemble", "isolated_xray_recorder", "walk"]

# The daemon's protocol: a header line, then one segment document, in each datagram
# (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-daemon).
PROTOCOL_HEADER = b'{"format":"json","version":1}'


class DaemonSink:
    """A UDP socket on 127.0.0.1 that collects the segment documents sent to it."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.address = f"{host}:{port}"

    def receive(self, count: int | None = None, *, timeout: float = 2.0, quiet: float = 0.2) -> list[dict[str, Any]]:
        """The documents received: `count` of them (waiting up to `timeout` seconds), or with `count=None` every
        one that arrives until none has for `quiet` seconds."""
        documents: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while count is None or len(documents) < count:
            # A timeout of 0 would make the socket non-blocking: wait at least a millisecond.
            self._socket.settimeout(quiet if count is None else max(deadline - time.monotonic(), 0.001))
            try:
                datagram = self._socket.recv(65536)
            except TimeoutError:
                break
            documents.append(parse_datagram(datagram))
        return documents

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> DaemonSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def parse_datagram(datagram: bytes) -> dict[str, Any]:
    """The segment document in one datagram sent to the daemon."""
    header, _, body = datagram.partition(b"\n")
    if header != PROTOCOL_HEADER:
        raise ValueError(f"not an X-Ray daemon datagram: {datagram[:80]!r}")
    document: dict[str, Any] = json.loads(body)
    return document


def assemble(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The received documents as trees: a subsegment sent on its own (as the SDK streams them, and always in
    Lambda) goes back under its parent. Returns the roots: segments, and subsegments whose parent was not received
    (in Lambda, the function's segment that Lambda itself records)."""
    documents = [dict(document) for document in documents]
    by_id: dict[str, dict[str, Any]] = {}
    for document in documents:
        for entity in walk(document):
            by_id[entity["id"]] = entity
    roots = []
    for document in documents:
        parent = by_id.get(document.get("parent_id", "")) if document.get("type") == "subsegment" else None
        if parent is None:
            roots.append(document)
        else:
            parent.setdefault("subsegments", []).append(document)
    return roots


def walk(entity: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`entity` and every subsegment under it, depth first."""
    yield entity
    for child in entity.get("subsegments", ()):
        yield from walk(child)


@contextmanager
def isolated_xray_recorder() -> Iterator[Any]:
    """The SDK's global recorder, restored on exit as it was on entry, and botocore unpatched if it was then."""
    from aws_xray_sdk.core import patcher, xray_recorder

    from adapter.tracing.xray import current_entities

    client = importlib.import_module("botocore.client")
    endpoint = importlib.import_module("botocore.endpoint")
    was_patched = hasattr(client, "_xray_enabled")
    saved = dict(vars(xray_recorder))
    threshold = xray_recorder.streaming_threshold
    emitter = xray_recorder.emitter
    address = (emitter._ip, emitter._port)
    entities = current_entities.set(())
    try:
        yield xray_recorder
    finally:
        current_entities.reset(entities)
        vars(xray_recorder).clear()
        vars(xray_recorder).update(saved)
        xray_recorder.streaming_threshold = threshold
        # set_daemon_address would read AWS_XRAY_DAEMON_ADDRESS again; the saved address is what was in force.
        emitter._ip, emitter._port = address
        if not was_patched and hasattr(client, "_xray_enabled"):
            # What wrapt.wrap_function_wrapper put on the classes, the SDK's own marks, then its registry.
            for owner, name in ((client.BaseClient, "_make_api_call"), (endpoint.Endpoint, "prepare_request")):
                setattr(owner, name, vars(owner)[name].__wrapped__)
            delattr(client, "_xray_enabled")
            patcher._PATCHED_MODULES.discard("botocore")
