"""The function's events besides HTTP requests: clicks from the queue, the expiry schedule, and import batches."""

from __future__ import annotations

import logging
from typing import Any

from adapter.tracing import xray_record_tracer
from adapter.triggers import ScheduledEvent, SQSRecord, Triggers
from sample_app.app import State
from sample_app.clicks import parse_click
from sample_app.imports import TASK, ImportBatch, import_batch
from sample_app.links import LinkNotFound

logger = logging.getLogger("sample_app")

triggers = Triggers(tracer=xray_record_tracer("links"))


@triggers.on_sqs(concurrency=10)
def count_click(record: SQSRecord, state: State) -> None:
    """Counts one click from the queue. A message that is not a click raises `PoisonClick`: it is reported as a
    batch item failure, and after the queue's maxReceiveCount it moves to the dead-letter queue."""
    click = parse_click(record.body)
    try:
        counted = state["store"].count_click(click.id, click.code)
    except LinkNotFound:
        # Deleted or expired since the redirect: nothing to count, and nothing to retry.
        logger.info("click %s on %r dropped: the link is gone", click.id, click.code)
        return
    if not counted:
        logger.info(
            "click %s on %r was counted before (message %s delivered again)", click.id, click.code, record.message_id
        )


@triggers.on_schedule()
def remove_expired_links(event: ScheduledEvent, state: State) -> None:
    removed = state["store"].remove_expired()
    logger.info("removed %d expired links", removed)


@triggers.on_invoke(match={"BatchInput": {"task": TASK}}, payload=ImportBatch.from_payload)
def import_links(batch: ImportBatch, state: State) -> dict[str, Any]:
    """One batch of a bulk import (the Distributed Map in template.yaml); the summary is the Map's result."""
    summary = import_batch(state["store"], batch)
    return {
        "import_id": summary.import_id,
        "created": summary.created,
        "skipped": summary.skipped,
        "failed": summary.failed,
    }
