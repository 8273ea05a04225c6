"""Clicks through a queue: `GET /r/{code}` publishes a click, and the queue's handler counts it once.

With `CLICKS_QUEUE_URL` set, a redirect no longer writes to DynamoDB: it reads the link and sends one small
message, and a burst of clicks on a popular link becomes batches the queue's handler counts at its own pace.
Each click carries an id of its own, made when it is published; the handler counts a click id once
(`LinkStore.count_click`), so neither SQS delivering a message again nor botocore sending it again after a
timeout counts a click twice.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from botocore.session import get_session  # type: ignore[import-untyped]

from sample_app import inputs
from sample_app.links import ServiceUnavailable
from sample_app.settings import Settings


class QueueUnavailable(ServiceUnavailable):
    """The clicks queue could not take the message."""


class PoisonClick(ValueError):
    """A message that is not a click: it will never count, and goes to the dead-letter queue after its retries."""


@dataclass(frozen=True)
class Click:
    id: str
    code: str
    at: datetime.datetime


def click_message(code: str, now: datetime.datetime | None = None) -> str:
    """The body of the message for one click on `code`."""
    at = now or datetime.datetime.now(datetime.UTC)
    return json.dumps({"id": uuid.uuid4().hex, "code": code, "at": at.isoformat()})


def parse_click(body: str) -> Click:
    """The click in a message body; `PoisonClick` says what is wrong with one that is not."""
    try:
        fields: Any = json.loads(body)
    except ValueError as error:
        raise PoisonClick(f"the message is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise PoisonClick("the message is not a JSON object")
    click_id, code, at = fields.get("id"), fields.get("code"), fields.get("at")
    if not isinstance(click_id, str) or not 1 <= len(click_id) <= 64 or not inputs.is_code(click_id):
        raise PoisonClick(f"the click id {click_id!r} is not 1 to 64 letters, digits, '-' or '_'")
    if not isinstance(code, str) or not inputs.is_code(code):
        raise PoisonClick(f"the link code {code!r} is not a code")
    try:
        when = datetime.datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise PoisonClick(f"the click time {at!r} is not an ISO 8601 time with a UTC offset")
    return Click(click_id, code, when)


class ClickQueue:
    """Publishes clicks to the SQS queue at `settings.clicks_queue_url`."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.clicks_queue_url
        # A redirect waits for the send: short timeouts, and botocore's retries, as for DynamoDB (models.py).
        config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
        self._client: Any = get_session().create_client(
            "sqs", region_name=settings.aws_region, endpoint_url=settings.sqs_endpoint_url, config=config
        )

    def publish(self, code: str) -> None:
        try:
            self._client.send_message(QueueUrl=self.url, MessageBody=click_message(code))
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(
                f"SQS queue {self.url} did not take a click: {error}",
                "The click could not be recorded right now; retry in a moment.",
            ) from error

    def close(self) -> None:
        self._client.close()
