"""The typed records, built from the real events in tests/events/ and from broken copies of them."""

from __future__ import annotations

import base64
import datetime
from decimal import Decimal
from typing import Any

import pytest

from adapter.exceptions import MalformedEvent
from adapter.triggers import (
    DynamoDBStreamRecord,
    EventBridgeEvent,
    KinesisRecord,
    Record,
    S3Record,
    ScheduledEvent,
    SNSMessage,
    SQSRecord,
)
from tests.conftest import load_event

UTC = datetime.UTC


def first(name: str) -> dict[str, Any]:
    record: dict[str, Any] = load_event(name)["Records"][0]
    return record


def test_sqs_record_from_the_powertools_event() -> None:
    records = [
        SQSRecord(raw, index) for index, raw in enumerate(load_event("powertools-python/sqs-event.json")["Records"])
    ]
    plain, with_json = records
    assert plain.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d" == plain.item_id
    assert plain.body == "Test message."
    assert plain.queue_arn == "arn:aws:sqs:us-east-2:123456789012:my-queue"
    assert plain.queue_name == "my-queue"
    assert plain.message_group_id is None
    assert plain.receive_count == 1
    assert plain.sent_at == datetime.datetime(2018, 12, 17, 21, 37, 29, 183000, tzinfo=UTC)
    assert plain.message_attributes["testAttr"]["stringValue"] == "100"
    assert plain.where == "SQS Records[0]"
    assert with_json.json() == {"message": "foo1"}
    assert with_json.json() is with_json.json()  # parsed once
    assert with_json.message_attributes == {}
    with pytest.raises(ValueError):
        plain.json()


def test_sqs_record_without_optional_attributes() -> None:
    raw = first("aws-lambda-web-adapter/sqs-event.json")
    del raw["messageAttributes"]
    raw["attributes"] = {}
    record = SQSRecord(raw)
    assert (record.receive_count, record.sent_at, record.message_attributes) == (1, None, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"messageId": 7}, "SQS Records[0].messageId must be a str, not int 7", id="wrong-type"),
        pytest.param({"body": None}, "SQS Records[0].body must be a str, not NoneType None", id="null"),
        pytest.param({"attributes": []}, "SQS Records[0].attributes must be a dict, not list []", id="list"),
    ],
)
def test_sqs_record_with_a_bad_field_names_it(change: dict[str, Any], message: str) -> None:
    raw = first("aws-lambda-go/sqs-event.json") | change
    with pytest.raises(MalformedEvent) as error:
        SQSRecord(raw)
    assert str(error.value) == message


def test_a_missing_field_is_named_missing() -> None:
    raw = first("aws-lambda-go/sqs-event.json")
    del raw["eventSourceARN"]
    with pytest.raises(MalformedEvent, match=r"^SQS Records\[3\]\.eventSourceARN must be a str, not missing$"):
        SQSRecord(raw, 3)


def test_kinesis_record_decodes_its_data_once() -> None:
    raw = first("powertools-python/kinesis-event.json")
    record = KinesisRecord(raw)
    assert record.sequence_number == "49590338271490256608559692538361571095921575989136588898" == record.item_id
    assert record.partition_key == "1"
    assert record.stream_name == "lambda-stream"
    assert record.shard_id == "shardId-000000000006"
    assert record.arrived_at == datetime.datetime.fromtimestamp(1545084650.987, UTC)
    assert record.data == b"Hello, this is a test."
    assert record.data is record.data


def test_kinesis_record_json_and_missing_optional_fields() -> None:
    raw = first("aws-lambda-go/kinesis-event.json")
    raw["kinesis"]["data"] = base64.b64encode(b'{"clicks": 3}').decode()
    del raw["kinesis"]["approximateArrivalTimestamp"], raw["eventID"]
    record = KinesisRecord(raw)
    assert record.json() == {"clicks": 3}
    assert record.json() is record.json()
    assert (record.arrived_at, record.shard_id) == (None, None)


def test_kinesis_data_that_is_not_base64_is_malformed() -> None:
    raw = first("aws-lambda-go/kinesis-event.json")
    raw["kinesis"]["data"] = "not base64!"
    record = KinesisRecord(raw)
    with pytest.raises(MalformedEvent, match=r"Kinesis Records\[0\]\.kinesis\.data is not base64"):
        _ = record.data


def test_kinesis_record_without_its_kinesis_member() -> None:
    raw = first("aws-lambda-go/kinesis-event.json")
    raw["kinesis"] = "x"
    with pytest.raises(MalformedEvent, match=r"^Kinesis Records\[0\]\.kinesis must be a dict, not str 'x'$"):
        KinesisRecord(raw)


def test_dynamodb_record_converts_every_attribute_type() -> None:
    raw = load_event("aws-lambda-go/dynamodb-streams-event.json")["Records"][1]
    record = DynamoDBStreamRecord(raw, 1)
    assert record.event_name == "INSERT"
    assert record.sequence_number == "1405400000000002063282832" == record.item_id
    assert record.table_name == "Example-Table"
    assert record.created_at == datetime.datetime(2016, 12, 2, 1, 27, tzinfo=UTC)
    assert record.keys == {"val": "data", "key": "binary"}
    assert record.old_image is None
    image = record.new_image
    assert image is not None
    assert image["Binary"] == b"\x00\x01*A"
    assert image["Boolean"] is True
    assert image["BinarySet"] == {b"\x00\x01*A"}
    assert image["List"] == ["Cookies", "Coffee", Decimal("3.14159")]
    assert image["Map"] == {"Name": "Joe", "Age": Decimal(35)}
    assert image["FloatNumber"] == Decimal("123.45")
    assert image["NumberSet"] == {Decimal(1234), Decimal("567.8")}
    assert image["Null"] is None
    assert image["StringSet"] == {"Giraffe", "Zebra"}
    assert image["EmptyStringSet"] == set()
    assert record.new_image is image  # converted once


def test_dynamodb_record_with_old_image_and_odd_arn() -> None:
    raw = load_event("powertools-python/dynamodb-streams-event.json")["Records"][1]
    record = DynamoDBStreamRecord(raw)
    assert record.old_image == {"Message": "New item!", "Id": Decimal(101)}
    assert record.table_name == "source_arn"  # the fixture's placeholder ARN, kept whole
    assert record.created_at is None
    del raw["dynamodb"]["Keys"]
    assert DynamoDBStreamRecord(raw).keys == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"N": "x"}, "NewImage.a is not a valid 'N' value", id="bad-number"),
        pytest.param({"Q": "1"}, "NewImage.a has an unknown DynamoDB type 'Q'", id="unknown-type"),
        pytest.param("text", "NewImage.a must be a DynamoDB attribute value", id="not-typed"),
        pytest.param({"L": [{"S": "ok"}, 3]}, r"NewImage.a\[1\] must be a DynamoDB attribute value", id="in-list"),
        pytest.param({"M": {"b": {}}}, "NewImage.a.b must be a DynamoDB attribute value", id="in-map"),
    ],
)
def test_dynamodb_image_with_a_bad_value(value: Any, message: str) -> None:
    raw = first("powertools-python/dynamodb-streams-event.json")
    raw["dynamodb"]["NewImage"] = {"a": value}
    record = DynamoDBStreamRecord(raw)
    with pytest.raises(MalformedEvent, match=message):
        _ = record.new_image


def test_s3_record_decodes_the_key() -> None:
    record = S3Record(first("aws-lambda-go/s3-event.json"))
    assert (record.bucket, record.key, record.item_id) == (
        "sourcebucket",
        "Happy Face.jpg",
        "s3://sourcebucket/Happy Face.jpg",
    )
    assert (record.event_name, record.size, record.etag, record.version_id) == (
        "ObjectCreated:Put",
        1024,
        "d41d8cd98f00b204e9800998ecf8427e",
        "version",
    )
    assert record.event_time == datetime.datetime(1970, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)


def test_s3_deletion_has_no_size() -> None:
    raw = first("powertools-python/s3-event.json")
    raw["eventName"] = "ObjectRemoved:Delete"
    del raw["s3"]["object"]["size"], raw["s3"]["object"]["eTag"], raw["eventTime"]
    record = S3Record(raw)
    assert (record.size, record.etag, record.version_id, record.event_time) == (None, None, None, None)
    raw["s3"]["bucket"] = {}
    with pytest.raises(MalformedEvent, match=r"^S3 Records\[0\]\.s3\.bucket\.name must be a str, not missing$"):
        S3Record(raw)


def test_sns_message() -> None:
    record = SNSMessage(first("powertools-python/sns-event.json"))
    assert record.message_id == "95df01b4-ee98-5cb9-9903-4c221d41eb5e" == record.item_id
    assert (record.message, record.subject, record.topic_name) == ("Hello from SNS!", "TestInvoke", "sns-lambda")
    assert record.message_attributes["Test"] == {"Type": "String", "Value": "TestString"}
    assert record.timestamp == datetime.datetime(2019, 1, 2, 12, 45, 7, tzinfo=UTC)
    raw = first("aws-lambda-go/sns-event.json")
    raw["Sns"].update(Message='{"a": 1}', Subject=None, Timestamp=None)
    del raw["Sns"]["MessageAttributes"]
    record = SNSMessage(raw)
    assert record.json() == {"a": 1} and record.json() is record.json()
    assert (record.subject, record.timestamp, record.message_attributes) == (None, None, {})
    raw["Sns"] = None
    with pytest.raises(MalformedEvent, match=r"^SNS Records\[0\]\.Sns must be a dict, not NoneType None$"):
        SNSMessage(raw)


def test_eventbridge_event() -> None:
    event = EventBridgeEvent(load_event("powertools-python/eventbridge-event.json"))
    assert (event.event_id, event.event_source, event.detail_type) == (
        "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "aws.ec2",
        "EC2 Instance State-change Notification",
    )
    assert event.detail == {"instance_id": "i-1234567890abcdef0", "state": "terminated"}
    assert (event.account, event.region, event.where, event.item_id) == (
        "111122223333",
        "us-west-1",
        "EventBridge",
        event.event_id,
    )
    assert event.time == datetime.datetime(2017, 12, 22, 18, 43, 48, tzinfo=UTC)
    raw = load_event("powertools-python/eventbridge-event.json")
    del raw["time"], raw["account"], raw["region"], raw["resources"]
    bare = EventBridgeEvent(raw)
    assert (bare.time, bare.account, bare.region, bare.resources) == (None, None, None, [])
    raw["detail"] = "x"
    with pytest.raises(MalformedEvent, match=r"^EventBridge\.detail must be a dict, not str 'x'$"):
        EventBridgeEvent(raw)


@pytest.mark.parametrize("name", ["aws-lambda-dotnet/eventbridge-scheduled.json", "sam-cli/eventbridge-scheduled.json"])
def test_scheduled_event_names_its_rule(name: str) -> None:
    event = ScheduledEvent(load_event(name))
    assert event.rule_name in ("my-schedule", "ExampleRule")
    assert event.rule_arn == f"arn:aws:events:us-east-1:123456789012:rule/{event.rule_name}"
    assert event.time == datetime.datetime(1970, 1, 1, tzinfo=UTC)


def test_scheduled_event_without_resources() -> None:
    raw = load_event("sam-cli/eventbridge-scheduled.json")
    raw["resources"] = []
    assert (ScheduledEvent(raw).rule_arn, ScheduledEvent(raw).rule_name) == (None, None)


def test_the_base_record_has_no_identifier() -> None:
    class Bare(Record):
        __slots__ = ()
        source = "bare"

    with pytest.raises(NotImplementedError):
        _ = Bare({}).item_id
