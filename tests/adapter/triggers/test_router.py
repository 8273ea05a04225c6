"""Events reach the handler registered for their source, through LambdaAdapter, with the lifespan state."""

from __future__ import annotations

import asyncio
import threading
from contextvars import ContextVar
from typing import Any

import pytest

from adapter import ConfigurationError, LambdaAdapter, MalformedEvent, UnsupportedEvent
from adapter.triggers import (
    DynamoDBStreamRecord,
    EventBridgeEvent,
    KinesisRecord,
    S3Record,
    ScheduledEvent,
    SNSMessage,
    SQSRecord,
    Triggers,
)
from tests.adapter.builders import make_edge_event, make_rest_event
from tests.adapter.triggers.conftest import CountingLifespanApp, sqs_batch, stream_batch
from tests.conftest import LambdaContextStub, load_event

State = dict[str, Any]


def test_http_and_trigger_invocations_share_one_lifespan(
    app: CountingLifespanApp, triggers: Triggers, invoke: Any
) -> None:
    seen: list[Any] = []

    @triggers.on_sqs()
    async def handle(record: SQSRecord, state: State) -> None:
        seen.append(state["client"])

    first = invoke(sqs_batch(2))
    response = invoke(make_rest_event(path="/hello"))
    again = invoke(sqs_batch(1))

    assert first == again == {"batchItemFailures": []}
    assert response["statusCode"] == 200
    assert app.startups == 1
    # The same client object the application opened at startup, in every record.
    assert seen == [app.client] * 3


def test_a_trigger_invocation_first_starts_the_lifespan(
    app: CountingLifespanApp, triggers: Triggers, invoke: Any
) -> None:
    @triggers.on_schedule()
    def tick(event: ScheduledEvent, state: State) -> None:
        assert state["client"] is app.client

    assert invoke(load_event("sam-cli/eventbridge-scheduled.json")) is None
    assert invoke(load_event("sam-cli/eventbridge-scheduled.json")) is None
    assert app.startups == 1


def test_with_lifespan_off_handlers_get_an_empty_state(app: CountingLifespanApp) -> None:
    triggers = Triggers()
    states: list[Any] = []
    triggers.on_sns()(lambda message, state: states.append(state))
    adapter = LambdaAdapter(app, lifespan="off", triggers=triggers)
    adapter(load_event("powertools-python/sns-event.json"), None)
    adapter.close()
    assert states == [{}] and app.startups == 0


def test_http_events_still_reach_the_app(triggers: Triggers, invoke: Any) -> None:
    triggers.on_invoke()(lambda payload, state: "direct")
    assert invoke(make_rest_event(path="/x"))["statusCode"] == 200
    assert invoke(make_edge_event(uri="/y"))["status"] == "200"
    with pytest.raises(UnsupportedEvent, match="WebSocket"):
        invoke(load_event("aws-lambda-go/websocket-message.json"))
    # An event with a requestContext of no known shape is left to the HTTP sources, which name what they saw.
    with pytest.raises(UnsupportedEvent, match="matches no supported shape"):
        invoke({"requestContext": {}})


def test_without_handlers_non_http_events_are_unsupported_as_before(make_adapter: Any) -> None:
    adapter = make_adapter(triggers=Triggers())
    with pytest.raises(UnsupportedEvent, match="matches no supported shape"):
        adapter(load_event("aws-lambda-go/sqs-event.json"), None)


def test_triggers_must_be_a_triggers_object(make_adapter: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"triggers must be an adapter\.triggers\.Triggers"):
        make_adapter(triggers={"sqs": print})


def test_each_source_reaches_its_handler(triggers: Triggers, invoke: Any) -> None:
    got: list[tuple[str, str]] = []

    @triggers.on_sqs()
    def sqs(record: SQSRecord, state: State) -> None:
        got.append(("sqs", record.body))

    @triggers.on_kinesis()
    def kinesis(record: KinesisRecord, state: State) -> None:
        got.append(("kinesis", record.data.decode()))

    @triggers.on_dynamodb()
    def dynamodb(record: DynamoDBStreamRecord, state: State) -> None:
        got.append(("dynamodb", record.event_name))

    @triggers.on_s3()
    def s3(record: S3Record, state: State) -> None:
        got.append(("s3", record.key))

    @triggers.on_sns()
    def sns(message: SNSMessage, state: State) -> None:
        got.append(("sns", message.message))

    @triggers.on_eventbridge()
    def eventbridge(event: EventBridgeEvent, state: State) -> None:
        got.append(("eventbridge", event.detail_type))

    @triggers.on_schedule()
    def schedule(event: ScheduledEvent, state: State) -> None:
        got.append(("schedule", str(event.rule_name)))

    assert invoke(load_event("aws-lambda-go/sqs-event.json")) == {"batchItemFailures": []}
    assert invoke(load_event("powertools-python/kinesis-event.json")) == {"batchItemFailures": []}
    assert invoke(load_event("powertools-python/dynamodb-streams-event.json")) == {"batchItemFailures": []}
    assert invoke(load_event("aws-lambda-go/s3-event.json")) is None
    assert invoke(load_event("aws-lambda-go/sns-event.json")) is None
    assert invoke(load_event("powertools-python/eventbridge-s3-object-created.json")) is None
    assert invoke(load_event("aws-lambda-dotnet/eventbridge-scheduled.json")) is None
    assert got == [
        ("sqs", "Message Body"),
        ("kinesis", "Hello, this is a test."),
        ("kinesis", "This is only a test."),
        ("dynamodb", "INSERT"),
        ("dynamodb", "MODIFY"),
        ("s3", "Happy Face.jpg"),
        ("sns", "Hello from SNS!"),
        ("eventbridge", "Object Created"),
        ("schedule", "my-schedule"),
    ]


def test_filters_pick_the_handler(triggers: Triggers, invoke: Any) -> None:
    got: list[str] = []
    triggers.on_sqs(queue="orders")(lambda record, state: got.append("orders"))
    triggers.on_sqs(queue="arn:aws:sqs:us-east-2:123456789012:clicks")(lambda record, state: got.append("clicks"))
    triggers.on_kinesis(stream="lambda-stream")(lambda record, state: got.append("stream"))
    triggers.on_dynamodb(table="links")(lambda record, state: got.append("table"))
    triggers.on_s3(bucket="sourcebucket")(lambda record, state: got.append("bucket"))
    triggers.on_sns(topic="sns-lambda")(lambda record, state: got.append("topic"))
    triggers.on_eventbridge(source="aws.s3", detail_type="Object Created")(lambda event, state: got.append("s3 event"))
    triggers.on_eventbridge(source="aws.ec2")(lambda event, state: got.append("ec2 event"))
    triggers.on_schedule(rule="ExampleRule")(lambda event, state: got.append("example rule"))
    triggers.on_schedule(rule="arn:aws:events:us-east-1:123456789012:rule/my-schedule")(
        lambda event, state: got.append("my schedule")
    )

    invoke(sqs_batch(1, queue="clicks"))
    invoke(sqs_batch(1, queue="orders"))
    invoke(load_event("powertools-python/kinesis-event.json"))
    invoke(stream_batch("dynamodb", 1))
    invoke(load_event("aws-lambda-go/s3-event.json"))
    invoke(load_event("powertools-python/sns-event.json"))
    invoke(load_event("powertools-python/eventbridge-s3-object-created.json"))
    invoke(load_event("powertools-python/eventbridge-event.json"))
    invoke(load_event("sam-cli/eventbridge-scheduled.json"))
    invoke(load_event("aws-lambda-dotnet/eventbridge-scheduled.json"))
    assert got == [
        "clicks",
        "orders",
        "stream",
        "stream",
        "table",
        "bucket",
        "topic",
        "s3 event",
        "ec2 event",
        "example rule",
        "my schedule",
    ]


def test_an_unrouted_event_names_its_source_and_the_handlers(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_sqs(queue="clicks")
    def record_clicks(record: SQSRecord, state: State) -> None: ...

    @triggers.on_invoke(match={"task": "import"})
    def import_links(payload: Any, state: State) -> None: ...

    handlers = "SQS(queue='clicks') -> record_clicks; direct invocation(match={'task': 'import'}) -> import_links"
    with pytest.raises(UnsupportedEvent) as error:
        invoke(sqs_batch(1, queue="orders"))
    assert str(error.value) == f"no handler takes this SQS event (queue 'orders'); handlers: {handlers}"
    with pytest.raises(UnsupportedEvent) as error:
        invoke(load_event("powertools-python/kinesis-event.json"))
    assert str(error.value) == f"no handler takes this Kinesis event (stream 'lambda-stream'); handlers: {handlers}"
    with pytest.raises(UnsupportedEvent) as error:
        invoke(load_event("sam-cli/eventbridge-scheduled.json"))
    assert (
        str(error.value)
        == f"no handler takes this scheduled EventBridge event (rule 'ExampleRule'); handlers: {handlers}"
    )
    with pytest.raises(UnsupportedEvent, match=r"^no handler takes this direct invocation \(payload: task\); it is"):
        invoke({"task": "export"})
    with pytest.raises(UnsupportedEvent, match=r"^no handler takes this direct invocation \(payload: list\)"):
        invoke([1, 2])


def test_an_unrouted_schedule_without_a_rule_names_the_event(triggers: Triggers, invoke: Any) -> None:
    triggers.on_schedule(rule="nightly")(lambda event, state: None)
    event = load_event("sam-cli/eventbridge-scheduled.json")
    event["resources"] = []
    with pytest.raises(UnsupportedEvent, match=r"scheduled EventBridge event \(schedule\); handlers: schedule"):
        invoke(event)


def test_records_of_an_unknown_service_are_unsupported(triggers: Triggers, invoke: Any) -> None:
    triggers.on_sqs()(lambda record, state: None)
    with pytest.raises(UnsupportedEvent) as error:
        invoke({"Records": [{"eventSource": "aws:kafka"}]})
    assert str(error.value) == (
        "the event's records come from 'aws:kafka', which no handler type covers; handlers: SQS() -> <lambda>"
    )
    with pytest.raises(UnsupportedEvent, match="records come from None"):
        invoke({"Records": [{"body": "x"}]})


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"Records": "x"}, id="records-not-a-list"),
        pytest.param({"Records": []}, id="records-empty"),
        pytest.param({"Records": [None]}, id="record-not-an-object"),
    ],
)
def test_records_that_are_not_a_list_of_objects_are_malformed(triggers: Triggers, invoke: Any, event: Any) -> None:
    triggers.on_sqs()(lambda record, state: None)
    with pytest.raises(MalformedEvent, match=r"^the event's Records must be a non-empty list of objects, not "):
        invoke(event)


@pytest.mark.parametrize(
    ("name", "record", "broken", "message"),
    [
        ("sqs", "aws-lambda-go/sqs-event.json", {"body": 1}, r"SQS Records\[1\]\.body must be a str, not int 1"),
        (
            "kinesis",
            "aws-lambda-go/kinesis-event.json",
            {"kinesis": {}},
            r"Kinesis Records\[1\]\.kinesis\.sequenceNumber",
        ),
        (
            "dynamodb",
            "aws-lambda-go/dynamodb-streams-event.json",
            {"dynamodb": []},
            r"Streams Records\[1\]\.dynamodb must",
        ),
        ("s3", "aws-lambda-go/s3-event.json", {"s3": {"bucket": {"name": "b"}}}, r"S3 Records\[1\]\.s3\.object must"),
        ("sns", "aws-lambda-go/sns-event.json", {"Sns": {"MessageId": "m"}}, r"SNS Records\[1\]\.Sns\.Message must"),
    ],
)
def test_garbage_records_of_each_source_are_malformed(
    triggers: Triggers, invoke: Any, name: str, record: str, broken: dict[str, Any], message: str
) -> None:
    handled: list[Any] = []
    for register in (
        triggers.on_sqs(),
        triggers.on_kinesis(),
        triggers.on_dynamodb(),
        triggers.on_s3(),
        triggers.on_sns(),
    ):
        register(lambda item, state: handled.append(item))
    good = load_event(record)["Records"][0]
    with pytest.raises(MalformedEvent, match=message):
        invoke({"Records": [good, good | broken]})
    # The event is refused whole, before any record is handled.
    assert handled == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"detail": None}, r"^EventBridge\.detail must be a dict, not NoneType None$", id="detail"),
        pytest.param({"id": 5}, r"^EventBridge\.id must be a str, not int 5$", id="id"),
    ],
)
def test_garbage_eventbridge_events_are_malformed(
    triggers: Triggers, invoke: Any, change: dict[str, Any], message: str
) -> None:
    triggers.on_eventbridge()(lambda event, state: None)
    with pytest.raises(MalformedEvent, match=message):
        invoke(load_event("powertools-python/eventbridge-event.json") | change)


def test_sync_handlers_run_in_a_worker_thread_with_the_callers_context(triggers: Triggers, invoke: Any) -> None:
    variable: ContextVar[str] = ContextVar("variable", default="unset")
    threads: list[tuple[str, str]] = []

    @triggers.on_invoke(match={"sync": True})
    def sync(payload: Any, state: State) -> str:
        threads.append((threading.current_thread().name, variable.get()))
        return "sync"

    @triggers.on_invoke()
    async def asynchronous(payload: Any, state: State) -> str:
        variable.set("set in the loop")
        threads.append((threading.current_thread().name, variable.get()))
        return await asynchronous_result()

    async def asynchronous_result() -> str:
        await asyncio.sleep(0)
        return "async"

    assert invoke({"sync": True}) == "sync"
    assert invoke({}) == "async"
    (sync_thread, sync_value), (async_thread, _) = threads
    assert async_thread == threading.main_thread().name
    assert sync_thread != threading.main_thread().name and sync_value == "unset"


def test_a_plain_function_returning_a_coroutine_is_awaited(triggers: Triggers, invoke: Any) -> None:
    async def answer(payload: Any) -> int:
        return 42

    triggers.on_invoke()(lambda payload, state: answer(payload))
    assert invoke({}) == 42


def test_close_ends_the_worker_threads(app: CountingLifespanApp) -> None:
    triggers = Triggers()
    triggers.on_invoke()(lambda payload, state: threading.current_thread())
    adapter = LambdaAdapter(app, triggers=triggers)
    worker = adapter({}, LambdaContextStub())
    assert worker.is_alive()
    adapter.close()
    assert not worker.is_alive()
