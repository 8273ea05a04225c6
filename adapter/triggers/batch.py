"""Running a handler over the records of one event, and what Lambda is told about the ones that failed.

For SQS, Kinesis and DynamoDB Streams the answer is a partial batch response, `{"batchItemFailures": [...]}`,
which the event source mapping reads only when its `FunctionResponseTypes` includes `ReportBatchItemFailures`
(without it, a batch whose function returns is deleted or checkpointed whole: failed records are lost):
- SQS reports message ids, and retries just those messages
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting).
  A FIFO queue must not see a message handled before an earlier one of its group, so the docs ask the function
  to stop at the first failure and report it with every message after it.
- Kinesis and DynamoDB Streams report sequence numbers; Lambda checkpoints before the lowest one reported and
  retries from there (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html,
  https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html). Records are handled in
  order, and the first failure ends the batch: it and every later record are reported, none handled out of order.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

from adapter.exceptions import BatchFailed
from adapter.triggers.records import Record

logger = logging.getLogger("adapter")

Order = Literal["concurrent", "ordered", "fifo-batch", "fifo-group"]


class RecordSpan(Protocol):
    """One handled record, current in its context from `RecordTracer.start` until `finish`."""

    def finish(self, error: BaseException | None) -> None:
        """Record the outcome and end the span; called once, in the context where it was started."""
        ...


class RecordTracer(Protocol):
    """Starts a span for each record (and each direct invocation) that a handler is given."""

    def start(self, source: str, item_id: str, handler: str) -> RecordSpan | None:
        """Start a span and make it current, or return None when it is not traced."""
        ...


class Handler:
    """A registered function: async ones run on the adapter's loop, sync ones in a worker thread with a copy of
    the context (as `asyncio.to_thread` does), so that blocking calls do not stall other records."""

    __slots__ = ("function", "is_async", "name")

    def __init__(self, function: Callable[[Any, Any], object]) -> None:
        self.function = function
        self.name = callable_name(function)
        self.is_async = inspect.iscoroutinefunction(function)

    async def __call__(self, item: Any, state: Any) -> Any:
        if self.is_async:
            return await self.function(item, state)  # type: ignore[misc]  # checked by iscoroutinefunction
        result, error = await asyncio.to_thread(_outcome, self.function, item, state)
        if error is not None:
            raise error
        if inspect.isawaitable(result):
            # A plain function that returned a coroutine (a lambda around an async function, a partial).
            result = await result
        return result


def _outcome(function: Callable[[Any, Any], object], item: Any, state: Any) -> tuple[Any, Exception | None]:
    """The function's result, or the exception it raised, carried back to the handler's coroutine as a value
    and raised there."""
    try:
        return function(item, state), None
    except Exception as error:
        return None, error


def callable_name(function: object) -> str:
    """A function's name for logs, traces and errors: its qualified name, without the "f.<locals>." of a function
    defined inside another."""
    name: str = getattr(function, "__qualname__", None) or repr(function)
    return name.rpartition("<locals>.")[2]


async def call_handler(handler: Handler, item: Any, record: Record, state: Any, tracer: RecordTracer | None) -> Any:
    """The handler's result for `item`, inside a span of `tracer` named after `record`."""
    span = None if tracer is None else tracer.start(record.source, record.item_id, handler.name)
    if span is None:
        return await handler(item, state)
    try:
        result = await handler(item, state)
    except Exception as error:
        span.finish(error)
        raise
    span.finish(None)
    return result


class Outcome:
    """What became of a batch: the records that failed or were left unhandled, in the event's order."""

    __slots__ = ("errors", "failed", "skipped")

    def __init__(self) -> None:
        self.failed: list[Record] = []
        self.errors: list[Exception] = []
        # Records not handled because an earlier one (in their order) failed; they count as failures.
        self.skipped: list[Record] = []

    def unsuccessful(self, records: Sequence[Record]) -> list[Record]:
        bad = {id(record) for record in (*self.failed, *self.skipped)}
        return [record for record in records if id(record) in bad]


async def run_records(
    handler: Handler,
    records: Sequence[Record],
    state: Any,
    *,
    order: Order,
    concurrency: int,
    tracer: RecordTracer | None,
    request_id: str,
) -> Outcome:
    """Hands each record to `handler` as `order` says, and collects which ones failed."""
    outcome = Outcome()

    async def attempt(record: Record) -> bool:
        try:
            await call_handler(handler, record, record, state, tracer)
        except Exception as error:
            logger.exception(
                "%s handler %s failed on record %s [%s]", record.source, handler.name, record.item_id, request_id
            )
            outcome.failed.append(record)
            outcome.errors.append(error)
            return False
        return True

    async def in_order(group: Sequence[Record]) -> None:
        for position, record in enumerate(group):
            if not await attempt(record):
                outcome.skipped.extend(group[position + 1 :])
                return

    if order == "ordered" or order == "fifo-batch" or len(records) == 1:
        await in_order(records)
    elif order == "fifo-group":
        groups: dict[str | None, list[Record]] = {}
        for record in records:
            groups.setdefault(record.raw.get("attributes", {}).get("MessageGroupId"), []).append(record)
        await _bounded([in_order(group) for group in groups.values()], concurrency)
    else:
        await _bounded([attempt(record) for record in records], concurrency)
    if outcome.skipped:
        logger.warning(
            "%d %s records after a failed one were not handled, and are reported as failures to keep their order [%s]",
            len(outcome.skipped),
            records[0].source,
            request_id,
        )
    return outcome


async def _bounded(work: list[Awaitable[Any]], limit: int) -> None:
    """Awaits every item, at most `limit` at a time, each in a task of its own (so in a context of its own)."""
    semaphore = asyncio.Semaphore(limit)

    async def run(item: Awaitable[Any]) -> None:
        async with semaphore:
            await item

    await asyncio.gather(*(run(item) for item in work))


def batch_response(outcome: Outcome, records: Sequence[Record]) -> dict[str, Any]:
    """The partial batch response: every record that failed or was not handled, by its identifier."""
    return {"batchItemFailures": [{"itemIdentifier": record.item_id} for record in outcome.unsuccessful(records)]}


def whole_batch_failure(outcome: Outcome, records: Sequence[Record], handler: Handler) -> BatchFailed:
    """The exception that fails the invocation, so that Lambda retries the whole event."""
    first = outcome.errors[0]
    unsuccessful = outcome.unsuccessful(records)
    ids = ", ".join(record.item_id for record in unsuccessful[:5]) + (", ..." if len(unsuccessful) > 5 else "")
    error = BatchFailed(
        f"{len(unsuccessful)} of {len(records)} {records[0].source} records failed in {handler.name}"
        f" ({type(first).__name__}: {first}); records: {ids}"
    )
    error.__cause__ = first
    return error
