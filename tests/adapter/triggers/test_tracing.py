"""X-Ray: each record handled in a sampled Lambda invocation is a subsegment, with the AWS calls made for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from adapter import LambdaAdapter
from adapter.tracing import xray_record_tracer
from adapter.tracing.testing import DaemonSink, assemble, isolated_xray_recorder, walk
from adapter.triggers import SQSRecord, TaskError, Triggers
from tests.adapter.triggers.conftest import CountingLifespanApp, sqs_batch
from tests.conftest import LambdaContextStub

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


class Item(Model):
    class Meta:
        table_name = "trigger-tracing-items"
        region = "eu-west-1"
        host = ""  # DynamoDB Local's, set by the fixture

    key = UnicodeAttribute(hash_key=True)


@pytest.fixture
def items(dynamodb_local: str) -> type[Item]:
    Item.Meta.host = dynamodb_local
    if not Item.exists():
        Item.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    return Item


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonSink]:
    with isolated_xray_recorder(), DaemonSink() as sink:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", sink.address)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "links")
        monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
        yield sink


def invoke(adapter: LambdaAdapter, event: Any, sampled: str = "1") -> Any:
    os.environ["_X_AMZN_TRACE_ID"] = f"Root={ROOT};Parent={PARENT};Sampled={sampled}"
    return adapter(event, LambdaContextStub())


def test_each_record_is_a_subsegment_holding_its_own_dynamodb_calls(sink: DaemonSink, items: type[Item]) -> None:
    triggers = Triggers(tracer=xray_record_tracer("links"))

    @triggers.on_sqs(concurrency=5)
    def store(record: SQSRecord, state: dict[str, Any]) -> None:
        if record.body == "2":
            raise ValueError("poison")
        items(record.body).save()
        items.get(record.body)

    adapter = LambdaAdapter(CountingLifespanApp(), triggers=triggers)
    response = invoke(adapter, sqs_batch(4))
    documents = sink.receive()
    adapter.close()

    assert response == {"batchItemFailures": [{"itemIdentifier": "message-2"}]}
    records = [document for document in documents if document["name"] == "SQS store"]
    assert len(records) == 4
    by_id = {record["annotations"]["record"]: record for record in records}
    assert sorted(by_id) == ["message-0", "message-1", "message-2", "message-3"]
    for record in records:
        assert (record["trace_id"], record["parent_id"], record["type"]) == (ROOT, PARENT, "subsegment")
        assert record["annotations"]["source"] == "SQS" and record["annotations"]["handler"] == "store"
    assert by_id["message-2"]["fault"] is True
    assert by_id["message-2"]["cause"]["exceptions"][0]["type"] == "ValueError"
    # Each DynamoDB call sits under the record it was made for, though it was made in a worker thread.
    for n in (0, 1, 3):
        roots = assemble([by_id[f"message-{n}"], *(d for d in documents if d["name"] == "dynamodb")])
        [tree] = [root for root in roots if root["name"] == "SQS store"]
        calls = [entity["aws"]["operation"] for entity in walk(tree) if entity["name"] == "dynamodb"]
        assert sorted(calls) == ["GetItem", "PutItem"]
    assert not [entity for entity in walk(by_id["message-2"]) if entity["name"] == "dynamodb"]


def test_a_direct_invocation_is_one_subsegment(sink: DaemonSink) -> None:
    triggers = Triggers(tracer=xray_record_tracer("links", enabled=True))

    @triggers.on_invoke()
    async def fail(payload: Any, state: dict[str, Any]) -> None:
        raise TaskError("no rows", error="EmptyChunk")

    adapter = LambdaAdapter(CountingLifespanApp(), triggers=triggers)
    with pytest.raises(TaskError):
        invoke(adapter, {"rows": []})
    [document] = sink.receive(1)
    adapter.close()
    assert document["name"] == "direct invocation fail"
    assert document["annotations"] == {"source": "direct invocation", "record": "payload", "handler": "fail"}
    assert document["cause"]["exceptions"][0]["type"] == "EmptyChunk"


def test_an_unsampled_invocation_sends_nothing(sink: DaemonSink) -> None:
    triggers = Triggers(tracer=xray_record_tracer("links"))
    triggers.on_sqs()(lambda record, state: None)
    adapter = LambdaAdapter(CountingLifespanApp(), triggers=triggers)
    assert invoke(adapter, sqs_batch(2), sampled="0") == {"batchItemFailures": []}
    adapter.close()
    assert [walk(document) for document in sink.receive()] == []


def test_off_outside_lambda_or_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert xray_record_tracer("links") is None
    assert xray_record_tracer("links", enabled=False) is None
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "links")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("AWS_XRAY_SDK_ENABLED", "false")
    assert xray_record_tracer("links") is None


def test_off_it_does_not_import_the_sdk() -> None:
    code = (
        "import sys; from adapter.tracing import xray_record_tracer; from adapter.triggers import Triggers; "
        "Triggers(tracer=xray_record_tracer('links')); print('aws_xray_sdk' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"
