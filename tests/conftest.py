from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The DynamoDB Local session fixture lives in its own plugin module so that every test package can use it.
pytest_plugins = ["tests.dynamodb"]

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A copy of a recorded event from tests/events/, e.g. `load_event("voker/rest-v1-live-encoding-probe.json")`."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


@dataclass
class LambdaContextStub:
    """The attributes of the Lambda context object that the adapter and the apps read."""

    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_name: str = "links"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:links"
    memory_limit_in_mb: int = 512
    log_group_name: str = "/aws/lambda/links"
    log_stream_name: str = "2026/11/26/[$LATEST]abcdef"
    remaining_ms: int = 15_000
    identity: Any = None
    client_context: Any = None
    calls: list[str] = field(default_factory=list)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> LambdaContextStub:
    return LambdaContextStub()


@pytest.fixture(autouse=True)
def clean_environ() -> Iterator[None]:
    """Each test starts with the environment it found, so a test that plays Lambda leaves nothing behind."""
    saved = dict(os.environ)
    for name in ("_X_AMZN_TRACE_ID", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT", "AWS_XRAY_DAEMON_ADDRESS"):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)
