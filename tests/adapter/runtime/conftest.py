"""The Runtime API emulator on a loopback port, and runtimes in this process that talk to it; the application's
gates are reset for each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapter import LambdaAdapter
from adapter.runtime import Runtime
from adapter.runtime.client import RuntimeClient
from tests.adapter.runtime import apps
from tests.adapter.runtime.emulator import Outcome, RuntimeAPI, running

MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def api() -> Iterator[RuntimeAPI]:
    with running() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh_gates() -> Iterator[apps.Gates]:
    apps.gates = apps.Gates()
    yield apps.gates
    apps.gates.release.set()


@pytest.fixture
def make_runtime(api: RuntimeAPI) -> Iterator[MakeRuntime]:
    """Runtimes whose adapters (a new `LambdaAdapter` over the test app unless given a handler) and
    connections are closed after the test."""
    runtimes: list[Runtime] = []

    def make(handler: Any = None, **options: Any) -> Runtime:
        runtime = Runtime(handler or LambdaAdapter(apps.app), RuntimeClient(api.address), **options)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.shutdown()


def serve_one(runtime: Runtime, api: RuntimeAPI, event: Any, **options: Any) -> Outcome:
    """Queues `event`, lets the runtime fetch and handle it, and returns what it posted."""
    outcome = api.invoke(event, **options)
    runtime.handle(runtime.client.next())
    return outcome.wait()
