"""The code of the README's "Queues, streams, schedules and direct invocations" section, run as written there.

Each snippet is the exact text of a README code block; the Python ones run with `exec`, one after the other in
one namespace as a reader would paste them, and the YAML one is checked against template.yaml.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.conftest import LambdaContextStub, load_event
from tests.template.cfn import FUNCTION, load_template, properties

APP = """
import json
from dataclasses import dataclass
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from adapter import LambdaAdapter
from adapter.triggers import ScheduledEvent, SQSRecord, TaskError, Triggers


@asynccontextmanager
async def lifespan(app):
    yield {"clicks": {}}  # in a real app: the database client, opened once per execution environment


app = Starlette(lifespan=lifespan)
triggers = Triggers()


@triggers.on_sqs(queue="clicks", concurrency=10)
async def count_click(record: SQSRecord, state: dict) -> None:
    click = record.json()  # a body that is not JSON raises: this message is reported as failed
    state["clicks"][click["code"]] = state["clicks"].get(click["code"], 0) + 1


@triggers.on_schedule()
def nightly(event: ScheduledEvent, state: dict) -> None:  # plain functions run in a worker thread
    state["clicks"].clear()


@dataclass
class Chunk:
    rows: list


@triggers.on_invoke(match={"task": "import"}, payload=lambda p: Chunk(rows=p["rows"]))
def import_chunk(chunk: Chunk, state: dict) -> dict:
    if not chunk.rows:
        raise TaskError("the chunk has no rows", error="EmptyChunk")  # Lambda's errorType: "EmptyChunk"
    return {"imported": len(chunk.rows)}


handler = LambdaAdapter(app, triggers=triggers)
"""

TEMPLATE = """
Events:
  ClickBatches:
    Type: SQS
    Properties:
      Queue: !GetAtt ClicksQueue.Arn
      BatchSize: 10
      FunctionResponseTypes: [ReportBatchItemFailures]
"""

STATE_MACHINE = """
{
  "Type": "Task",
  "Resource": "arn:aws:states:::lambda:invoke",
  "Parameters": {"FunctionName": "links", "Payload": {"task": "import", "rows.$": "$.rows"}},
  "OutputPath": "$.Payload",
  "Catch": [{"ErrorEquals": ["EmptyChunk"], "Next": "NothingToImport"}]
}
"""

SNIPPETS = {"python": [APP], "yaml": [TEMPLATE], "json": [STATE_MACHINE]}


@pytest.fixture
def namespace() -> Any:
    names: dict[str, Any] = {}
    exec(APP, names)
    yield names
    names["handler"].close()


def sqs_event(*bodies: str, queue: str = "clicks") -> dict[str, Any]:
    template = load_event("aws-lambda-web-adapter/sqs-event.json")["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record.update(messageId=f"m-{n}", body=body, eventSourceARN=f"arn:aws:sqs:us-east-1:123456789012:{queue}")
        records.append(record)
    return {"Records": records}


def test_the_example_counts_clicks_and_reports_the_bad_message(namespace: dict[str, Any]) -> None:
    handler = namespace["handler"]
    response = handler(sqs_event('{"code": "a"}', "not json", '{"code": "a"}'), LambdaContextStub())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    # The schedule handler sees the same state as the queue's: the lifespan's, started once.
    assert handler(load_event("sam-cli/eventbridge-scheduled.json"), LambdaContextStub()) is None
    assert handler(sqs_event('{"code": "b"}'), LambdaContextStub()) == {"batchItemFailures": []}


def test_the_example_imports_and_names_its_error(namespace: dict[str, Any]) -> None:
    handler = namespace["handler"]
    assert handler({"task": "import", "rows": [1, 2]}, LambdaContextStub()) == {"imported": 2}
    with pytest.raises(namespace["TaskError"]) as error:
        handler({"task": "import", "rows": []}, LambdaContextStub())
    assert type(error.value).__name__ == "EmptyChunk"


def test_the_template_snippet_is_the_sample_apps_event() -> None:
    class Loader(yaml.SafeLoader):
        pass

    def get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        assert isinstance(node, yaml.ScalarNode)
        return {"Fn::GetAtt": str(loader.construct_scalar(node)).split(".")}

    Loader.add_constructor("!GetAtt", get_att)
    snippet = yaml.load(TEMPLATE, Loader=Loader)["Events"]["ClickBatches"]
    event = properties(load_template(), FUNCTION)["Events"]["ClickBatches"]
    assert snippet["Type"] == event["Type"]
    assert snippet["Properties"].items() <= event["Properties"].items()


def test_the_state_machine_snippet_catches_the_named_error() -> None:
    import json

    task = json.loads(STATE_MACHINE)
    assert task["Catch"][0]["ErrorEquals"] == ["EmptyChunk"]
    assert task["Parameters"]["Payload"]["task"] == "import"
