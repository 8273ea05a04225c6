from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from adapter import LambdaAdapter
from adapter.triggers import Triggers
from adapter.types import Receive, Scope, Send
from tests.adapter.conftest import echo_app
from tests.conftest import LambdaContextStub, load_event


class CountingLifespanApp:
    """The echo app, counting its lifespan startups and putting a shared client object in the state."""

    def __init__(self) -> None:
        self.startups = 0
        # A list: JSON-serialisable (the echo app returns the state), and compared by identity in the tests.
        self.client: list[str] = ["client"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.startups += 1
            scope["state"]["client"] = self.client
        await echo_app(scope, receive, send)


@pytest.fixture
def app() -> CountingLifespanApp:
    return CountingLifespanApp()


@pytest.fixture
def triggers() -> Triggers:
    return Triggers()


@pytest.fixture
def invoke(app: CountingLifespanApp, triggers: Triggers) -> Iterator[Any]:
    """Calls a LambdaAdapter over `app` with `triggers`, as the Lambda runtime would."""
    adapter = LambdaAdapter(app, triggers=triggers)

    def call(event: Any) -> Any:
        return adapter(event, LambdaContextStub())

    yield call
    adapter.close()


def sqs_batch(count: int, *, queue: str = "clicks", fifo_groups: list[str] | None = None) -> dict[str, Any]:
    """An SQS event of `count` messages (bodies "0", "1", ...), from the recorded one in tests/events/."""
    template = load_event("powertools-python/sqs-event.json")["Records"][0]
    records = []
    for n in range(count):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{n}"
        record["body"] = str(n)
        record["eventSourceARN"] = f"arn:aws:sqs:us-east-2:123456789012:{queue}"
        if fifo_groups is not None:
            record["attributes"]["MessageGroupId"] = fifo_groups[n]
        records.append(record)
    return {"Records": records}


def stream_batch(name: str, count: int) -> dict[str, Any]:
    """A Kinesis ("kinesis") or DynamoDB Streams ("dynamodb") event of `count` records, sequence numbers 100...."""
    source = (
        "powertools-python/kinesis-event.json" if name == "kinesis" else "powertools-python/dynamodb-streams-event.json"
    )
    template = load_event(source)["Records"][0]
    records = []
    for n in range(count):
        record = copy.deepcopy(template)
        if name == "kinesis":
            record["kinesis"]["sequenceNumber"] = str(100 + n)
        else:
            record["dynamodb"]["SequenceNumber"] = str(100 + n)
            record["eventSourceARN"] = (
                "arn:aws:dynamodb:us-west-2:123456789012:table/links/stream/2026-01-01T00:00:00.000"
            )
        records.append(record)
    return {"Records": records}
