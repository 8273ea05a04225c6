"""Typed views of the records that non-HTTP event sources deliver, read from the event as it came.

Each class wraps one record's dict (`raw`), checks on construction the fields it promises as plain attributes
(a missing or mistyped one raises `MalformedEvent` naming the record and the field), and decodes what costs
something only on first use, once: a Kinesis record's base64 data, a JSON body, a DynamoDB image.

Shapes, as documented by AWS:
- SQS: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event
- Kinesis: https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#services-kinesis-event-example
- DynamoDB Streams: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#services-ddb-event-example
- S3: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
- SNS: https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html#sns-sample-event
- EventBridge: https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote_plus

from adapter.exceptions import MalformedEvent

_UNSET: Any = object()
_T = TypeVar("_T")


def _require(raw: Mapping[str, Any], name: str, kind: type[_T], where: str) -> _T:
    value = raw.get(name)
    if not isinstance(value, kind):
        found = "missing" if name not in raw else f"{type(value).__name__} {value!r:.60}"
        raise MalformedEvent(f"{where}.{name} must be a {kind.__name__}, not {found}")
    return value


def _optional(raw: Mapping[str, Any], name: str, kind: type[_T], where: str) -> _T | None:
    if raw.get(name) is None:
        return None
    return _require(raw, name, kind, where)


def _arn_name(arn: str) -> str:
    """The resource name at the end of an ARN: `clicks` in arn:aws:sqs:us-east-1:123456789012:clicks."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _epoch(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def _iso(value: str) -> datetime.datetime:
    # AWS writes UTC times with a "Z" (2019-09-03T19:37:27.192Z), which fromisoformat reads since Python 3.11.
    return datetime.datetime.fromisoformat(value)


class Record:
    """What every record has: its source's name for it, the raw dict, and its position in the event."""

    __slots__ = ("index", "raw")
    #: The event source, as `UnsupportedEvent` and the logs name it.
    source: ClassVar[str]

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        self.raw: Mapping[str, Any] = raw
        #: The record's position in `Records` (0 for an event that is itself the record).
        self.index = index

    @property
    def where(self) -> str:
        return f"{self.source} Records[{self.index}]"

    @property
    def item_id(self) -> str:
        """What identifies the record in logs and traces; for batches, what `batchItemFailures` reports."""
        raise NotImplementedError


class SQSRecord(Record):
    """One SQS message.

    `body` is the message as sent; `json()` parses it once. `message_id` is the identifier that partial batch
    responses report, and stays the same when the message is delivered again.
    """

    __slots__ = ("_json", "attributes", "body", "message_id", "queue_arn")
    source = "SQS"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        where = self.where
        self.message_id = _require(raw, "messageId", str, where)
        self.body = _require(raw, "body", str, where)
        self.queue_arn = _require(raw, "eventSourceARN", str, where)
        self.attributes: Mapping[str, str] = _require(raw, "attributes", dict, where)
        self._json: Any = _UNSET

    @property
    def item_id(self) -> str:
        return self.message_id

    @property
    def queue_name(self) -> str:
        return _arn_name(self.queue_arn)

    @property
    def message_group_id(self) -> str | None:
        """The FIFO message group, or None for a standard queue."""
        return self.attributes.get("MessageGroupId")

    @property
    def receive_count(self) -> int:
        """How many times SQS has delivered the message, this delivery included."""
        return int(self.attributes.get("ApproximateReceiveCount", "1"))

    @property
    def sent_at(self) -> datetime.datetime | None:
        sent = self.attributes.get("SentTimestamp")
        return None if sent is None else _epoch(int(sent) / 1000)

    @property
    def message_attributes(self) -> Mapping[str, Any]:
        attributes: Mapping[str, Any] = self.raw.get("messageAttributes") or {}
        return attributes

    def json(self) -> Any:
        """The body parsed as JSON (once); `ValueError` if it is not JSON."""
        if self._json is _UNSET:
            self._json = json.loads(self.body)
        return self._json


class KinesisRecord(Record):
    """One Kinesis Data Streams record; `data` is base64-decoded on first use."""

    __slots__ = ("_data", "_json", "_kinesis", "partition_key", "sequence_number", "stream_arn")
    source = "Kinesis"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        where = self.where
        kinesis = self._kinesis = _require(raw, "kinesis", dict, where)
        self.sequence_number = _require(kinesis, "sequenceNumber", str, f"{where}.kinesis")
        self.partition_key = _require(kinesis, "partitionKey", str, f"{where}.kinesis")
        _require(kinesis, "data", str, f"{where}.kinesis")
        self.stream_arn = _require(raw, "eventSourceARN", str, where)
        self._data: bytes | None = None
        self._json: Any = _UNSET

    @property
    def item_id(self) -> str:
        return self.sequence_number

    @property
    def stream_name(self) -> str:
        return _arn_name(self.stream_arn)

    @property
    def shard_id(self) -> str | None:
        # eventID is "<shard id>:<sequence number>".
        event_id = self.raw.get("eventID")
        return event_id.split(":", 1)[0] if isinstance(event_id, str) and ":" in event_id else None

    @property
    def arrived_at(self) -> datetime.datetime | None:
        timestamp = self._kinesis.get("approximateArrivalTimestamp")
        return None if timestamp is None else _epoch(float(timestamp))

    @property
    def data(self) -> bytes:
        """The record's data as the producer put it; `MalformedEvent` if it is not base64."""
        if self._data is None:
            try:
                self._data = base64.b64decode(self._kinesis["data"], validate=True)
            except binascii.Error as error:
                raise MalformedEvent(f"{self.where}.kinesis.data is not base64: {error}") from None
        return self._data

    def json(self) -> Any:
        """The data parsed as JSON (once); `ValueError` if it is not JSON."""
        if self._json is _UNSET:
            self._json = json.loads(self.data)
        return self._json


class DynamoDBStreamRecord(Record):
    """One change from a DynamoDB stream. `keys`, `new_image` and `old_image` are the items as Python values
    (numbers as `Decimal`, binary as `bytes`, sets as `set`), converted on first use; `raw` keeps the typed form.
    """

    __slots__ = ("_images", "_stream", "event_name", "sequence_number", "stream_arn")
    source = "DynamoDB Streams"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        where = self.where
        self.event_name = _require(raw, "eventName", str, where)
        stream = self._stream = _require(raw, "dynamodb", dict, where)
        self.sequence_number = _require(stream, "SequenceNumber", str, f"{where}.dynamodb")
        self.stream_arn = _require(raw, "eventSourceARN", str, where)
        self._images: dict[str, dict[str, Any] | None] = {}

    @property
    def item_id(self) -> str:
        return self.sequence_number

    @property
    def table_name(self) -> str:
        # arn:aws:dynamodb:region:account:table/<name>/stream/<label>
        parts = self.stream_arn.split("/")
        return parts[1] if len(parts) > 2 else self.stream_arn

    @property
    def created_at(self) -> datetime.datetime | None:
        timestamp = self._stream.get("ApproximateCreationDateTime")
        return None if timestamp is None else _epoch(float(timestamp))

    @property
    def keys(self) -> dict[str, Any]:
        return self._image("Keys") or {}

    @property
    def new_image(self) -> dict[str, Any] | None:
        """The item after the change; None for REMOVE, and for streams that do not carry new images."""
        return self._image("NewImage")

    @property
    def old_image(self) -> dict[str, Any] | None:
        """The item before the change; None for INSERT, and for streams that do not carry old images."""
        return self._image("OldImage")

    def _image(self, name: str) -> dict[str, Any] | None:
        if name not in self._images:
            image = _optional(self._stream, name, dict, f"{self.where}.dynamodb")
            where = f"{self.where}.dynamodb.{name}"
            self._images[name] = None if image is None else {k: _attribute(v, f"{where}.{k}") for k, v in image.items()}
        return self._images[name]


def _attribute(value: Any, where: str) -> Any:
    """A value in DynamoDB's typed JSON ({"N": "3.5"}) as a Python value; the same mapping boto3's
    TypeDeserializer makes: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html"""
    if not isinstance(value, dict) or len(value) != 1:
        raise MalformedEvent(f"{where} must be a DynamoDB attribute value such as {{'S': 'text'}}, not {value!r:.60}")
    ((kind, data),) = value.items()
    try:
        if kind in ("S", "BOOL"):
            return data
        if kind == "N":
            return Decimal(data)
        if kind == "B":
            return base64.b64decode(data)
        if kind == "NULL":
            return None
        if kind == "SS":
            return set(data)
        if kind == "NS":
            return {Decimal(number) for number in data}
        if kind == "BS":
            return {base64.b64decode(item) for item in data}
        if kind == "L":
            return [_attribute(item, f"{where}[{index}]") for index, item in enumerate(data)]
        if kind == "M":
            return {key: _attribute(item, f"{where}.{key}") for key, item in data.items()}
    except (ArithmeticError, TypeError, ValueError, AttributeError) as error:
        raise MalformedEvent(f"{where} is not a valid {kind!r} value: {error}") from None
    raise MalformedEvent(f"{where} has an unknown DynamoDB type {kind!r}")


class S3Record(Record):
    """One S3 event notification. `key` is decoded: S3 sends it URL-encoded, with spaces as '+'."""

    __slots__ = ("_object", "bucket", "event_name", "key")
    source = "S3"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        where = self.where
        self.event_name = _require(raw, "eventName", str, where)
        s3 = _require(raw, "s3", dict, where)
        bucket = _require(s3, "bucket", dict, f"{where}.s3")
        self.bucket = _require(bucket, "name", str, f"{where}.s3.bucket")
        self._object = _require(s3, "object", dict, f"{where}.s3")
        self.key = unquote_plus(_require(self._object, "key", str, f"{where}.s3.object"))

    @property
    def item_id(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def size(self) -> int | None:
        """The object's size in bytes; None for deletions."""
        size = self._object.get("size")
        return None if size is None else int(size)

    @property
    def etag(self) -> str | None:
        etag: str | None = self._object.get("eTag")
        return etag

    @property
    def version_id(self) -> str | None:
        version: str | None = self._object.get("versionId")
        return version

    @property
    def event_time(self) -> datetime.datetime | None:
        time = self.raw.get("eventTime")
        return None if time is None else _iso(time)


class SNSMessage(Record):
    """One SNS notification; `message` is the text published, `json()` parses it once."""

    __slots__ = ("_json", "_sns", "message", "message_id", "topic_arn")
    source = "SNS"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        sns = self._sns = _require(raw, "Sns", dict, self.where)
        where = f"{self.where}.Sns"
        self.message_id = _require(sns, "MessageId", str, where)
        self.message = _require(sns, "Message", str, where)
        self.topic_arn = _require(sns, "TopicArn", str, where)
        self._json: Any = _UNSET

    @property
    def item_id(self) -> str:
        return self.message_id

    @property
    def topic_name(self) -> str:
        return _arn_name(self.topic_arn)

    @property
    def subject(self) -> str | None:
        subject: str | None = self._sns.get("Subject")
        return subject

    @property
    def message_attributes(self) -> Mapping[str, Any]:
        attributes: Mapping[str, Any] = self._sns.get("MessageAttributes") or {}
        return attributes

    @property
    def timestamp(self) -> datetime.datetime | None:
        timestamp = self._sns.get("Timestamp")
        return None if timestamp is None else _iso(timestamp)

    def json(self) -> Any:
        """The message parsed as JSON (once); `ValueError` if it is not JSON."""
        if self._json is _UNSET:
            self._json = json.loads(self.message)
        return self._json


class EventBridgeEvent(Record):
    """An EventBridge event: `source` and `detail_type` say what happened, `detail` carries the rest."""

    __slots__ = ("detail", "detail_type", "event_id", "event_source", "resources")
    source = "EventBridge"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        where = self.source
        self.event_id = _require(raw, "id", str, where)
        self.event_source = _require(raw, "source", str, where)
        self.detail_type = _require(raw, "detail-type", str, where)
        self.detail: dict[str, Any] = _require(raw, "detail", dict, where)
        resources: list[Any] = raw.get("resources") or []
        self.resources: list[str] = [resource for resource in resources if isinstance(resource, str)]

    @property
    def where(self) -> str:
        return self.source

    @property
    def item_id(self) -> str:
        return self.event_id

    @property
    def time(self) -> datetime.datetime | None:
        time = self.raw.get("time")
        return None if time is None else _iso(time)

    @property
    def account(self) -> str | None:
        account: str | None = self.raw.get("account")
        return account

    @property
    def region(self) -> str | None:
        region: str | None = self.raw.get("region")
        return region


class ScheduledEvent(EventBridgeEvent):
    """The event an EventBridge schedule rule sends: `rule_name` names the rule, `time` is the scheduled time."""

    __slots__ = ()
    source = "schedule"

    @property
    def rule_arn(self) -> str | None:
        return self.resources[0] if self.resources else None

    @property
    def rule_name(self) -> str | None:
        # arn:aws:events:region:account:rule/<name>, or rule/<bus>/<name> on a custom bus.
        arn = self.rule_arn
        return None if arn is None else _arn_name(arn)


def is_scheduled(event: Mapping[str, Any]) -> bool:
    """EventBridge's scheduled events: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html"""
    return event.get("detail-type") == "Scheduled Event" and event.get("source") == "aws.events"
