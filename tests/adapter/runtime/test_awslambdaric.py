"""The same events through AWS's runtime interface client (awslambdaric, the managed Python runtime's loop) and
through adapter.runtime, each in a process of its own against the Runtime API emulator: the same bytes come back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.adapter.builders import (
    make_alb_event,
    make_edge_event,
    make_function_url_event,
    make_http_v2_event,
    make_rest_event,
)
from tests.adapter.runtime.emulator import running

ROOT = Path(__file__).parents[3]

EVENTS: list[dict[str, Any]] = [
    make_function_url_event(path="/hello"),
    make_function_url_event(path="/cookies"),
    make_function_url_event(path="/unicode"),
    make_http_v2_event(path="/cookies"),
    make_rest_event(path="/cookies"),
    make_rest_event(path="/unicode"),
    make_alb_event(path="/hello"),
    make_edge_event(uri="/hello"),
    make_function_url_event(path="/missing"),
    make_rest_event(path="/boom"),
    make_rest_event(path="/broken-stream"),
    make_rest_event(path="/large"),
]


def answers(command: list[str]) -> list[tuple[str | None, str, bytes]]:
    """What the runtime started by `command` posts for each of EVENTS: the kind, the content type, the body."""
    with running() as api:
        environ = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT)}
        environ.pop("AWS_EXECUTION_ENV", None)
        process = subprocess.Popen(command, env=environ, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            outcomes = [api.invoke(event).wait() for event in EVENTS]
        finally:
            process.kill()
            process.communicate()
    return [(outcome.kind, outcome.headers.get("content-type", ""), outcome.body) for outcome in outcomes]


def test_buffered_answers_are_byte_for_byte_awslambdarics() -> None:
    theirs = answers([sys.executable, "-m", "awslambdaric", "tests.adapter.runtime.apps.handler"])
    ours = answers([sys.executable, "-m", "adapter.runtime", "tests.adapter.runtime.apps.handler"])

    assert [kind for kind, _, _ in ours] == ["response"] * len(EVENTS)
    assert ours == theirs
