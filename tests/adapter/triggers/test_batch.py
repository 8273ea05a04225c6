"""Partial batch responses: which records are reported, in which order records are handled, and how many at once."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from adapter.exceptions import BatchFailed
from adapter.triggers import KinesisRecord, SQSRecord, Triggers
from tests.adapter.triggers.conftest import sqs_batch, stream_batch
from tests.conftest import load_event

State = dict[str, Any]


class Poison(Exception):
    pass


def failures(*ids: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": item} for item in ids]}


def test_one_poison_message_is_the_only_one_reported(
    triggers: Triggers, invoke: Any, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []

    @triggers.on_sqs()
    async def handle(record: SQSRecord, state: State) -> None:
        if record.body == "3":
            raise Poison("cannot parse")
        handled.append(record.body)

    assert invoke(sqs_batch(10)) == failures("message-3")
    assert sorted(handled) == ["0", "1", "2", "4", "5", "6", "7", "8", "9"]
    [line] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert line.getMessage() == "SQS handler handle failed on record message-3 [c6af9ac6-7b61-11e6-9a41-93e812345678]"
    assert line.exc_info is not None and line.exc_info[0] is Poison


def test_every_failure_of_a_standard_queue_is_reported_in_the_events_order(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_sqs(concurrency=3)
    def handle(record: SQSRecord, state: State) -> None:
        # Later messages fail first: the report still follows the event's order.
        time.sleep(0.001 * (10 - int(record.body)))
        if int(record.body) % 3 == 0:
            raise Poison(record.body)

    assert invoke(sqs_batch(10)) == failures("message-0", "message-3", "message-6", "message-9")


def test_a_standard_queue_is_handled_concurrently_within_the_bound(triggers: Triggers, invoke: Any) -> None:
    running = peak = 0

    @triggers.on_sqs(concurrency=4)
    async def handle(record: SQSRecord, state: State) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    assert invoke(sqs_batch(10)) == failures()
    assert peak == 4


def test_sync_handlers_of_a_standard_queue_run_in_several_threads(triggers: Triggers, invoke: Any) -> None:
    # Every handler waits until all five are running: they can only all get there from threads of their own.
    barrier = threading.Barrier(5, timeout=10)

    @triggers.on_sqs(concurrency=5)
    def handle(record: SQSRecord, state: State) -> None:
        barrier.wait()

    assert invoke(sqs_batch(5)) == failures()


def test_a_fifo_batch_stops_at_the_first_failure(triggers: Triggers, invoke: Any) -> None:
    handled: list[str] = []

    @triggers.on_sqs(concurrency=10)
    async def handle(record: SQSRecord, state: State) -> None:
        if record.body == "2":
            raise Poison(record.body)
        handled.append(record.body)

    event = sqs_batch(6, queue="clicks.fifo", fifo_groups=["a", "b", "a", "b", "c", "a"])
    # The failed message and every later one, whatever their group, as AWS advises for FIFO queues.
    assert invoke(event) == failures("message-2", "message-3", "message-4", "message-5")
    assert handled == ["0", "1"]


def test_a_fifo_batch_by_group_stops_only_the_failed_group(triggers: Triggers, invoke: Any) -> None:
    handled: list[str] = []

    @triggers.on_sqs(fifo="group")
    async def handle(record: SQSRecord, state: State) -> None:
        await asyncio.sleep(0.001 * (6 - int(record.body)))
        if record.body == "2":
            raise Poison(record.body)
        handled.append(record.body)

    event = sqs_batch(6, queue="clicks.fifo", fifo_groups=["a", "b", "a", "b", "c", "a"])
    assert invoke(event) == failures("message-2", "message-5")
    # Each group in its order; groups b and c went on.
    assert [body for body in handled if body in ("1", "3")] == ["1", "3"]
    assert sorted(handled) == ["0", "1", "3", "4"]


def test_a_fifo_queue_is_told_by_its_name_too(triggers: Triggers, invoke: Any) -> None:
    handled: list[str] = []

    @triggers.on_sqs()
    def handle(record: SQSRecord, state: State) -> None:
        if record.body == "0":
            raise Poison(record.body)
        handled.append(record.body)

    assert invoke(sqs_batch(3, queue="orders.fifo")) == failures("message-0", "message-1", "message-2")
    assert handled == []


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_a_stream_batch_reports_the_failed_record_and_every_later_one(
    triggers: Triggers, invoke: Any, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []

    def handle(record: Any, state: State) -> None:
        if record.sequence_number == "103":
            raise Poison(record.sequence_number)
        handled.append(record.sequence_number)

    triggers.on_kinesis()(handle)
    triggers.on_dynamodb()(handle)
    assert invoke(stream_batch(source, 6)) == failures("103", "104", "105")
    assert handled == ["100", "101", "102"]
    label = "Kinesis" if source == "kinesis" else "DynamoDB Streams"
    assert (
        f"2 {label} records after a failed one were not handled, and are reported as failures to keep their order"
        in caplog.text
    )


def test_whole_batch_mode_fails_the_invocation(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_sqs(report_failures=False)
    def handle(record: SQSRecord, state: State) -> None:
        if record.body in ("1", "4"):
            raise Poison(f"bad {record.body}")

    with pytest.raises(BatchFailed) as error:
        invoke(sqs_batch(5))
    assert str(error.value) == ("2 of 5 SQS records failed in handle (Poison: bad 1); records: message-1, message-4")
    assert isinstance(error.value.__cause__, Poison)
    assert invoke(sqs_batch(1)) == failures()


def test_whole_batch_mode_lists_a_few_records(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_kinesis(report_failures=False)
    def handle(record: KinesisRecord, state: State) -> None:
        raise Poison(record.sequence_number)

    with pytest.raises(
        BatchFailed,
        match=r"^7 of 7 Kinesis records failed in handle \(Poison: 100\); records: 100, 101, 102, 103, 104, \.\.\.$",
    ):
        invoke(stream_batch("kinesis", 7))


@pytest.mark.parametrize("name", ["aws-lambda-go/s3-event.json", "powertools-python/sns-event.json"])
def test_an_asynchronous_source_fails_the_invocation_with_the_handlers_error(
    triggers: Triggers, invoke: Any, name: str
) -> None:
    def handle(record: Any, state: State) -> None:
        raise Poison(record.item_id)

    triggers.on_s3()(handle)
    triggers.on_sns()(handle)
    with pytest.raises(Poison):
        invoke(load_event(name))


def test_an_eventbridge_handlers_error_fails_the_invocation(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_eventbridge()
    async def handle(event: Any, state: State) -> None:
        raise Poison(event.detail_type)

    with pytest.raises(Poison, match="EC2 Instance State-change Notification"):
        invoke(load_event("powertools-python/eventbridge-event.json"))


def test_cancellation_is_not_a_record_failure(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_sqs()
    async def handle(record: SQSRecord, state: State) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        invoke(sqs_batch(2))
