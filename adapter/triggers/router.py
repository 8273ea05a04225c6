"""`Triggers`: the handlers of non-HTTP events, registered by decorators, and the dispatch of each event to one.

An event's source is told from its shape (`Records[0].eventSource`, EventBridge's `detail-type`); whatever is
neither HTTP nor one of those is a direct invocation. Among the handlers registered for a source, the first one
whose filters all match the event takes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from adapter.exceptions import ConfigurationError, MalformedEvent, UnsupportedEvent
from adapter.triggers.batch import (
    Handler,
    Order,
    RecordTracer,
    batch_response,
    call_handler,
    run_records,
    whole_batch_failure,
)
from adapter.triggers.direct import matches, parse_payload, payload_parser, result_value
from adapter.triggers.records import (
    DynamoDBStreamRecord,
    EventBridgeEvent,
    KinesisRecord,
    Record,
    S3Record,
    ScheduledEvent,
    SNSMessage,
    SQSRecord,
    is_scheduled,
)
from adapter.types import LambdaContext

logger = logging.getLogger("adapter")

Kind = Literal["sqs", "kinesis", "dynamodb", "s3", "sns", "eventbridge", "schedule", "direct"]

_SQSHandler = TypeVar("_SQSHandler", bound=Callable[[SQSRecord, Any], object])
_KinesisHandler = TypeVar("_KinesisHandler", bound=Callable[[KinesisRecord, Any], object])
_DynamoDBHandler = TypeVar("_DynamoDBHandler", bound=Callable[[DynamoDBStreamRecord, Any], object])
_S3Handler = TypeVar("_S3Handler", bound=Callable[[S3Record, Any], object])
_SNSHandler = TypeVar("_SNSHandler", bound=Callable[[SNSMessage, Any], object])
_EventBridgeHandler = TypeVar("_EventBridgeHandler", bound=Callable[[EventBridgeEvent, Any], object])
_ScheduleHandler = TypeVar("_ScheduleHandler", bound=Callable[[ScheduledEvent, Any], object])
_DirectHandler = TypeVar("_DirectHandler", bound=Callable[[Any, Any], object])

# The `eventSource` of the first record names the service: https://docs.aws.amazon.com/lambda/latest/dg/lambda-services.html
_RECORD_SOURCES: dict[str, Kind] = {
    "aws:sqs": "sqs",
    "aws:kinesis": "kinesis",
    "aws:dynamodb": "dynamodb",
    "aws:s3": "s3",
    "aws:sns": "sns",
}
_RECORD_CLASSES: dict[Kind, type[Record]] = {
    "sqs": SQSRecord,
    "kinesis": KinesisRecord,
    "dynamodb": DynamoDBStreamRecord,
    "s3": S3Record,
    "sns": SNSMessage,
}
_LABELS: dict[Kind, str] = {
    "sqs": "SQS",
    "kinesis": "Kinesis",
    "dynamodb": "DynamoDB Streams",
    "s3": "S3",
    "sns": "SNS",
    "eventbridge": "EventBridge",
    "schedule": "scheduled EventBridge",
    "direct": "direct invocation",
}


class Route:
    """One registered handler: the source it takes, its filters, and how its records are run."""

    __slots__ = ("concurrency", "fifo", "filters", "handler", "kind", "match", "parser", "report_failures")

    def __init__(
        self,
        kind: Kind,
        function: Callable[[Any, Any], object],
        filters: dict[str, str | None],
        *,
        concurrency: int = 1,
        fifo: str = "batch",
        report_failures: bool = True,
        parser: Callable[[Any], Any] | None = None,
        match: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(function):
            raise ConfigurationError(f"a {_LABELS[kind]} handler must be a function, not {function!r}")
        for name, value in filters.items():
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{name} must be a non-empty string or None, not {value!r}")
        self.kind: Kind = kind
        self.handler = Handler(function)
        # Only the filters given: None means "any".
        self.filters = {name: value for name, value in filters.items() if value is not None}
        self.concurrency = concurrency
        self.fifo = fifo
        self.report_failures = report_failures
        self.parser = parser
        self.match = match

    def accepts(self, values: Mapping[str, tuple[str, ...]]) -> bool:
        """Whether every filter equals one of the event's values for it (a name or an ARN)."""
        return all(expected in values.get(name, ()) for name, expected in self.filters.items())

    def describe(self) -> str:
        options = [f"{name}={value!r}" for name, value in self.filters.items()]
        if self.match is not None:
            options.append(f"match={dict(self.match)!r}")
        return f"{_LABELS[self.kind]}({', '.join(options)}) -> {self.handler.name}"


class Triggers:
    """Handlers for the events a function gets besides HTTP requests, given to `LambdaAdapter(app, triggers=...)`.

    ```python
    triggers = Triggers()

    @triggers.on_sqs(queue="clicks")
    async def count_click(record: SQSRecord, state: State) -> None: ...

    handler = LambdaAdapter(app, triggers=triggers)
    ```

    Each handler takes the record (or event, or payload) and the lifespan state, the same dict that requests see
    in `scope["state"]`: the clients the application opened at startup. Handlers may be `async` (run on the
    adapter's event loop) or plain functions (run in a worker thread). Decorators return the function unchanged.

    - `tracer`: a `RecordTracer` that gives each record its own span, such as
      `adapter.tracing.xray_record_tracer("service")`; None (the default) traces nothing.
    """

    def __init__(self, *, tracer: RecordTracer | None = None) -> None:
        self.tracer = tracer
        self.routes: list[Route] = []

    def __bool__(self) -> bool:
        return bool(self.routes)

    # ---- registration ---------------------------------------------------------------------------------------

    def on_sqs(
        self,
        *,
        queue: str | None = None,
        concurrency: int = 10,
        fifo: Literal["batch", "group"] = "batch",
        report_failures: bool = True,
    ) -> Callable[[_SQSHandler], _SQSHandler]:
        """Handle each message of SQS batches, from `queue` (a name or ARN) or any queue.

        - `concurrency`: how many messages of a standard queue's batch are handled at once.
        - `fifo`: on a FIFO queue messages are handled in order. `"batch"` (AWS's advice) stops the batch at the
          first failure; `"group"` stops only that message's group, and handles groups concurrently.
        - `report_failures`: True returns the failed message ids as a partial batch response, which needs
          `FunctionResponseTypes: [ReportBatchItemFailures]` on the event source mapping; False fails the whole
          invocation (`BatchFailed`) when any message fails, so the whole batch comes back.
        """
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive integer, not {concurrency!r}")
        if fifo not in ("batch", "group"):
            raise ConfigurationError(f"fifo must be 'batch' or 'group', not {fifo!r}")

        def register(function: _SQSHandler) -> _SQSHandler:
            filters = {"queue": queue}
            self.routes.append(
                Route("sqs", function, filters, concurrency=concurrency, fifo=fifo, report_failures=report_failures)
            )
            return function

        return register

    def on_kinesis(
        self, *, stream: str | None = None, report_failures: bool = True
    ) -> Callable[[_KinesisHandler], _KinesisHandler]:
        """Handle each record of Kinesis batches, in order, from `stream` (a name or ARN) or any stream.

        `report_failures` as for `on_sqs`: the first failed record and every later one are reported by
        sequence number.
        """
        return self._register("kinesis", {"stream": stream}, report_failures=report_failures)

    def on_dynamodb(
        self, *, table: str | None = None, report_failures: bool = True
    ) -> Callable[[_DynamoDBHandler], _DynamoDBHandler]:
        """Handle each change of DynamoDB stream batches, in order, from `table`'s stream or any.

        `report_failures` as for `on_kinesis`.
        """
        return self._register("dynamodb", {"table": table}, report_failures=report_failures)

    def on_s3(self, *, bucket: str | None = None) -> Callable[[_S3Handler], _S3Handler]:
        """Handle S3 event notifications for `bucket` or any bucket. S3 invokes asynchronously: an exception
        fails the invocation, and Lambda retries it."""
        return self._register("s3", {"bucket": bucket})

    def on_sns(self, *, topic: str | None = None) -> Callable[[_SNSHandler], _SNSHandler]:
        """Handle SNS notifications from `topic` (a name or ARN) or any topic; an exception fails the invocation."""
        return self._register("sns", {"topic": topic})

    def on_eventbridge(
        self, *, source: str | None = None, detail_type: str | None = None
    ) -> Callable[[_EventBridgeHandler], _EventBridgeHandler]:
        """Handle EventBridge events with this `source` and `detail_type` (each, or any)."""
        return self._register("eventbridge", {"source": source, "detail_type": detail_type})

    def on_schedule(self, *, rule: str | None = None) -> Callable[[_ScheduleHandler], _ScheduleHandler]:
        """Handle the events of an EventBridge schedule `rule` (its name or ARN), or of any schedule."""
        return self._register("schedule", {"rule": rule})

    def on_invoke(
        self, *, match: Mapping[str, Any] | None = None, payload: Callable[..., Any] | None = None
    ) -> Callable[[_DirectHandler], _DirectHandler]:
        """Handle direct invocations whose payload holds `match` (e.g. `{"task": "import"}`), or any payload.

        - `payload`: a dataclass, built from the payload's members, or a callable that parses the payload (such as
          a pydantic model's `model_validate`); the handler gets what it returns. A payload it refuses fails the
          invocation with `InvalidPayload`.

        The handler's return value is the invocation's result (a dataclass becomes a JSON object). An exception
        fails the invocation, reported under its class name: raise `TaskError(message, error="Name")` to choose
        the name a state machine's `Retry`/`Catch` matches.
        """
        if match is not None and not isinstance(match, Mapping):
            raise ConfigurationError(f"match must be a mapping of payload members, not {match!r}")
        parser = payload_parser(payload)

        def register(function: _DirectHandler) -> _DirectHandler:
            self.routes.append(Route("direct", function, {}, parser=parser, match=match))
            return function

        return register

    def _register(
        self, kind: Kind, filters: dict[str, str | None], *, report_failures: bool = True
    ) -> Callable[[_DirectHandler], _DirectHandler]:
        def register(function: _DirectHandler) -> _DirectHandler:
            self.routes.append(Route(kind, function, filters, report_failures=report_failures))
            return function

        return register

    # ---- dispatch -------------------------------------------------------------------------------------------

    def kind_of(self, event: Any) -> Kind | None:
        """The trigger source of `event` by its shape; None when it is not one (an HTTP request, or a shape the
        HTTP sources report on). Raises `UnsupportedEvent` for records of a service no handler type covers."""
        if not isinstance(event, dict):
            return "direct"
        records = event.get("Records")
        if records is not None:
            if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
                raise MalformedEvent(f"the event's Records must be a non-empty list of objects, not {records!r:.80}")
            first = records[0]
            if "cf" in first:
                return None  # Lambda@Edge: an HTTP request
            # SNS spells it EventSource.
            source = first.get("eventSource", first.get("EventSource"))
            kind = _RECORD_SOURCES.get(source) if isinstance(source, str) else None
            if kind is None:
                raise UnsupportedEvent(
                    f"the event's records come from {source!r}, which no handler type covers; handlers: "
                    f"{self.describe()}"
                )
            return kind
        if "detail-type" in event and "source" in event:
            return "schedule" if is_scheduled(event) else "eventbridge"
        if "requestContext" in event:
            return None
        return "direct"

    def describe(self) -> str:
        return "; ".join(route.describe() for route in self.routes) or "none"

    async def dispatch(self, kind: Kind, event: Any, context: LambdaContext | None, state: Any) -> Any:
        """Runs the event through the handler it is for, and returns what Lambda should answer."""
        request_id: str = getattr(context, "aws_request_id", "-")
        if kind == "direct":
            return await self._direct(event, state)
        if kind == "eventbridge" or kind == "schedule":
            item = (ScheduledEvent if kind == "schedule" else EventBridgeEvent)(event)
            route = self._route(kind, _event_values(item), item)
            await call_handler(route.handler, item, item, state, self.tracer)
            return None
        records = [_RECORD_CLASSES[kind](raw, index) for index, raw in enumerate(event["Records"])]
        route = self._route(kind, _record_values(records[0]), records[0])
        order = _order(route, records)
        outcome = await run_records(
            route.handler,
            records,
            state,
            order=order,
            concurrency=route.concurrency,
            tracer=self.tracer,
            request_id=request_id,
        )
        if kind == "s3" or kind == "sns":
            # Asynchronous sources take no partial answer: the failure fails the invocation, as it would without
            # the adapter, and Lambda's asynchronous retries apply.
            if outcome.errors:
                raise outcome.errors[0]
            return None
        if outcome.errors and not route.report_failures:
            raise whole_batch_failure(outcome, records, route.handler)
        return batch_response(outcome, records)

    async def _direct(self, payload: Any, state: Any) -> Any:
        for route in self.routes:
            if route.kind == "direct" and (route.match is None or matches(route.match, payload)):
                break
        else:
            keys = ", ".join(sorted(map(str, payload))[:12]) if isinstance(payload, dict) else type(payload).__name__
            raise UnsupportedEvent(
                f"no handler takes this direct invocation (payload: {keys or 'empty object'}); it is neither an HTTP"
                f" request nor an event of a known source; handlers: {self.describe()}"
            )
        item = payload if route.parser is None else parse_payload(route.parser, payload, route.handler.name)
        result = await call_handler(route.handler, item, _Invocation(payload), state, self.tracer)
        return result_value(result)

    def _route(self, kind: Kind, values: Mapping[str, tuple[str, ...]], first: Record) -> Route:
        for route in self.routes:
            if route.kind == kind and route.accepts(values):
                return route
        shown = ", ".join(f"{name} {names[0]!r}" for name, names in values.items() if names)
        raise UnsupportedEvent(
            f"no handler takes this {_LABELS[kind]} event ({shown or first.where}); handlers: {self.describe()}"
        )


class _Invocation(Record):
    """A direct invocation, named in traces and logs."""

    __slots__ = ()
    source = "direct invocation"

    @property
    def item_id(self) -> str:
        return "payload"


def _order(route: Route, records: list[Record]) -> Order:
    if route.kind != "sqs":
        return "ordered"
    first = records[0]
    assert isinstance(first, SQSRecord)
    # FIFO queues' names end in ".fifo", and their messages carry a MessageGroupId.
    if first.message_group_id is None and not first.queue_name.endswith(".fifo"):
        return "concurrent"
    return "fifo-group" if route.fifo == "group" else "fifo-batch"


def _record_values(record: Record) -> dict[str, tuple[str, ...]]:
    """What the filters of a record's source compare with: names, and ARNs."""
    if isinstance(record, SQSRecord):
        return {"queue": (record.queue_name, record.queue_arn)}
    if isinstance(record, KinesisRecord):
        return {"stream": (record.stream_name, record.stream_arn)}
    if isinstance(record, DynamoDBStreamRecord):
        return {"table": (record.table_name, record.stream_arn)}
    if isinstance(record, S3Record):
        return {"bucket": (record.bucket,)}
    assert isinstance(record, SNSMessage)
    return {"topic": (record.topic_name, record.topic_arn)}


def _event_values(event: EventBridgeEvent) -> dict[str, tuple[str, ...]]:
    if isinstance(event, ScheduledEvent):
        return {"rule": tuple(name for name in (event.rule_name, event.rule_arn) if name)}
    return {"source": (event.event_source,), "detail_type": (event.detail_type,)}
