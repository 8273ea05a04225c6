"""What the app does with links in DynamoDB, one method per operation. Synchronous, like PynamoDB: the routes
call these methods in a worker thread.

Every write that could lose data is a single conditional request, so DynamoDB itself settles races:
creating a code that exists, replacing a link someone else changed, counting clicks, and retried creates.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TableDoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from sample_app.models import CLICK_KEY_PREFIX, IDEMPOTENCY_KEY_PREFIX, LINK, Link, Models

# How long a create remembers its Idempotency-Key, as Stripe does: https://docs.stripe.com/api/idempotent_requests
IDEMPOTENCY_WINDOW = datetime.timedelta(hours=24)
# How long a click counted from the queue is remembered: longer than SQS keeps a message (14 days at most), so a
# message delivered again always finds its record. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-quotas.html
CLICK_MEMORY = datetime.timedelta(days=15)

# DynamoDB's own error codes for a request it could not serve right now, rather than one that is wrong:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
}


class LinkNotFound(Exception):
    pass


class CodeTaken(Exception):
    pass


class VersionMismatch(Exception):
    """The link exists, at another version than the client's If-Match."""

    def __init__(self, current: Link) -> None:
        super().__init__(f"link {current.code!r} is at version {current.version}")
        self.current = current


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first used with another request."""


class IdempotencyKeyBusy(Exception):
    """Other requests with the same Idempotency-Key kept the transaction from settling."""


class ServiceUnavailable(Exception):
    """A service the app depends on could not serve the request.

    `str()` is the log line, with the endpoint and the cause; `public_detail` is what the client is told.
    """

    def __init__(self, message: str, public_detail: str) -> None:
        super().__init__(message)
        self.public_detail = public_detail


class DynamoDBUnavailable(ServiceUnavailable):
    """DynamoDB could not serve the request: unreachable, throttling, or the table is missing."""


class ClickConflict(Exception):
    """Other transactions on the same link kept a click from being counted; the message is to be retried."""


@dataclass(frozen=True)
class Created:
    link: Link
    # True when an Idempotency-Key matched an earlier create, whose result this is.
    replayed: bool


@dataclass(frozen=True)
class Page:
    links: list[Link]
    # The code to resume after, or None on the last page.
    after: str | None


class LinkStore:
    def __init__(self, models: Models) -> None:
        self.models = models
        self.Link = models.link

    # ---- health -----------------------------------------------------------------------------------------

    def table_status(self) -> str:
        """The table's status (ACTIVE, UPDATING, ...), from DescribeTable."""
        with self._dynamodb_errors():
            description = self.Link.describe_table()
        status: str = description["TableStatus"]
        return status

    # ---- reads ------------------------------------------------------------------------------------------

    def get(self, code: str) -> Link:
        """The link as last written: a strongly consistent read, so the ETag a client gets after a PATCH is the
        new one, not a stale one that would fail its next PATCH (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html)."""
        with self._dynamodb_errors():
            try:
                link = self.Link.get(code, consistent_read=True)
            except DoesNotExist:
                raise LinkNotFound(code) from None
        # TTL deletes an expired item days later at the earliest: until then it is there, and gone for the app.
        if link.expires_at is not None and link.expires_at <= _now():
            raise LinkNotFound(code)
        return link

    def page(self, limit: int, after: str | None) -> Page:
        """Up to `limit` links after the code `after`, in the table's order (that of the hashed codes).

        A Scan reads at most `limit + 1` items per request here, never the whole table: the extra item tells
        whether another page exists, so the last page does not come with a cursor to an empty one.
        The filter skips idempotency records; DynamoDB applies it after reading, which is why the iterator may
        need a second request to fill the page (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.FilterExpression).
        """
        start = None if after is None else {"code": {"S": after}}
        unexpired = self.Link.expires_at.does_not_exist() | (self.Link.expires_at > _now())
        with self._dynamodb_errors():
            results = self.Link.scan(
                filter_condition=(self.Link.kind == LINK) & unexpired,
                limit=limit,
                page_size=limit + 1,
                last_evaluated_key=start,
            )
            links = list(results)
            more = results.last_evaluated_key is not None
        # The next page starts after the last link returned. DynamoDB's LastEvaluatedKey can be the key of an
        # idempotency record that the filter dropped, and the client has no business seeing that.
        return Page(links, links[-1].code if more and links else None)

    # ---- writes -----------------------------------------------------------------------------------------

    def create(self, url: str, code: str | None, idempotency_key: str | None) -> Created:
        """A new link with `code`, or a random one; 409 material (CodeTaken) if `code` exists.

        With an Idempotency-Key, the link and a record of it are written in one transaction, each on condition
        that it does not exist yet. Of concurrent retries exactly one transaction commits; the others find the
        record and return the link it names, so every retry answers with the same link.
        """
        if idempotency_key is None:
            return Created(self._create(url, code), replayed=False)
        return self._create_idempotently(url, code, idempotency_key)

    def _create(self, url: str, code: str | None) -> Link:
        for attempt_code in _codes(code):
            link = self.Link(code=attempt_code, url=url, created_at=_now())
            with self._dynamodb_errors():
                try:
                    # PutItem would silently replace an existing link: the condition makes it fail instead.
                    link.save(condition=self.Link.code.does_not_exist())
                except PynamoDBException as error:
                    if error.cause_response_code != "ConditionalCheckFailedException":
                        raise
                    continue
            return link
        if code is not None:
            raise CodeTaken(code)
        raise RuntimeError("every random code drawn was taken")

    def _create_idempotently(self, url: str, code: str | None, idempotency_key: str) -> Created:
        Record = self.models.idempotency
        key = IDEMPOTENCY_KEY_PREFIX + idempotency_key
        fingerprint = _fingerprint(url, code)
        codes = _codes(code)
        attempt_code = next(codes)
        for attempt in range(8):
            now = _now()
            link = self.Link(code=attempt_code, url=url, created_at=now)
            record = Record(
                key=key,
                fingerprint=fingerprint,
                link_code=link.code,
                link_url=url,
                link_created_at=now,
                expires_at=now + IDEMPOTENCY_WINDOW,
            )
            with self._dynamodb_errors():
                try:
                    with TransactWrite(connection=self.models.connection) as transaction:
                        transaction.save(link, condition=self.Link.code.does_not_exist())
                        # An expired record that DynamoDB's TTL has not deleted yet (it can take days) is free.
                        transaction.save(record, condition=Record.key.does_not_exist() | (Record.expires_at < now))
                    return Created(link, replayed=False)
                except TransactWriteError as error:
                    link_reason, record_reason = _cancellation_reasons(error)
                if record_reason == "ConditionalCheckFailed":
                    replayed = self._replay(key, fingerprint, now)
                    if replayed is not None:
                        return Created(replayed, replayed=True)
                elif link_reason == "ConditionalCheckFailed":
                    if code is not None:
                        raise CodeTaken(code)
                    attempt_code = next(codes, "")
                    if not attempt_code:
                        raise RuntimeError("every random code drawn was taken")
                    continue
            # TransactionConflict: another transaction on the same items was in flight. Wait a little (with
            # jitter, so the retries spread out) and try again; the record is likely there by then.
            # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise IdempotencyKeyBusy(idempotency_key)

    def _replay(self, key: str, fingerprint: str, now: datetime.datetime) -> Link | None:
        """The link an unexpired record names, as it was first returned; None if the record is gone."""
        try:
            record = self.models.idempotency.get(key, consistent_read=True)
        except DoesNotExist:
            return None
        if record.expires_at < now:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        return self.Link(
            code=record.link_code, url=record.link_url, created_at=record.link_created_at, clicks=0, version=1
        )

    def update_url(self, code: str, url: str, versions: frozenset[int] | None) -> Link:
        """Replaces the target of `code`, if its version is one of `versions` (None: any version).

        One UpdateItem, conditional on the version: of concurrent updates from the same version, one succeeds
        and the others fail, so none is lost (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate).
        """
        condition = self.Link.code.exists()
        if versions is not None:
            if not versions:
                raise VersionMismatch(self.get(code))
            condition &= self.Link.version.is_in(*versions)
        # A version on the instance makes PynamoDB add `ADD version 1` to the update; the value itself is not
        # used, since the condition above, rather than PynamoDB's own, says which versions may be replaced.
        link = self.Link(code=code, version=0)
        with self._dynamodb_errors():
            try:
                link.update(actions=[self.Link.url.set(url)], condition=condition, add_version_condition=False)
            except PynamoDBException as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                raise VersionMismatch(self.get(code)) from None
        return link

    def delete(self, code: str, versions: frozenset[int] | None) -> None:
        condition = self.Link.code.exists()
        if versions is not None:
            if not versions:
                raise VersionMismatch(self.get(code))
            condition &= self.Link.version.is_in(*versions)
        with self._dynamodb_errors():
            try:
                self.Link(code=code).delete(condition=condition, add_version_condition=False)
            except PynamoDBException as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                raise VersionMismatch(self.get(code)) from None

    def click(self, code: str) -> str:
        """Counts a click on `code` and returns its target URL: one atomic `ADD clicks 1`, so concurrent clicks
        all count (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.AtomicCounters)."""
        Clicks = self.models.link_clicks
        link = Clicks(code=code)
        with self._dynamodb_errors():
            try:
                link.update(actions=[Clicks.clicks.add(1)], condition=self._live(code))
            except PynamoDBException as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                raise LinkNotFound(code) from None
        return link.url

    def _live(self, code: str) -> Any:
        """The condition that `code` is a link that has not expired."""
        return (
            self.Link.code.exists()
            & (self.Link.kind == LINK)
            & (self.Link.expires_at.does_not_exist() | (self.Link.expires_at > _now()))
        )

    def count_click(self, click_id: str, code: str) -> bool:
        """Counts a click that came through the queue, once: True if counted now, False if it was counted before.

        The count (`ADD clicks 1`) and a record keyed by the click's id are one transaction, the record on
        condition that it does not exist: a message delivered again (SQS delivers at least once) finds its record
        and counts nothing. A click on a link that is gone or expired is dropped (LinkNotFound).
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-apis-txwriteitems
        """
        Clicks, Record = self.models.link_clicks, self.models.click
        key = CLICK_KEY_PREFIX + click_id
        for attempt in range(5):
            now = _now()
            record = Record(key=key, link_code=code, expires_at=now + CLICK_MEMORY)
            with self._dynamodb_errors():
                try:
                    with TransactWrite(connection=self.models.connection) as transaction:
                        transaction.update(
                            Clicks(code=code), actions=[Clicks.clicks.add(1)], condition=self._live(code)
                        )
                        transaction.save(record, condition=Record.key.does_not_exist())
                    return True
                except TransactWriteError as error:
                    link_reason, record_reason = _cancellation_reasons(error)
            if record_reason == "ConditionalCheckFailed":
                return False
            if link_reason == "ConditionalCheckFailed":
                raise LinkNotFound(code)
            # TransactionConflict: another click on the same link was being counted at the same moment.
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise ClickConflict(f"the click {click_id} on {code!r} kept conflicting with other transactions")

    def existing(self, codes: list[str]) -> dict[str, Link]:
        """The items at `codes`, read consistently: BatchGetItem, 100 keys a request, with the keys DynamoDB left
        unprocessed asked again (PynamoDB's batch_get)."""
        with self._dynamodb_errors():
            return {link.code: link for link in self.Link.batch_get(codes, consistent_read=True)}

    def put_all(self, links: list[Link]) -> None:
        """Writes `links` with BatchWriteItem, 25 puts a request, retrying the items DynamoDB left unprocessed with
        backoff (PynamoDB's batch_write): https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
        The puts are unconditional: callers write only codes they found free."""
        with self._dynamodb_errors(), self.Link.batch_write() as writes:
            for link in links:
                writes.save(link)

    def remove_expired(self) -> int:
        """Deletes the links whose expiry has passed; returns how many. Each delete is conditional on the expiry
        it read, so a link whose expiry was changed meanwhile stays."""
        now = _now()
        removed = 0
        with self._dynamodb_errors():
            for link in self.Link.scan(filter_condition=(self.Link.kind == LINK) & (self.Link.expires_at <= now)):
                try:
                    self.Link(code=link.code).delete(condition=self.Link.expires_at <= now, add_version_condition=False)
                except PynamoDBException as error:
                    if error.cause_response_code != "ConditionalCheckFailedException":
                        raise
                    continue
                removed += 1
        return removed

    # ---- errors -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _dynamodb_errors(self) -> Iterator[None]:
        """Turns the errors that mean "DynamoDB cannot serve this now" into DynamoDBUnavailable."""
        try:
            yield
        except (PynamoDBException, BotoCoreError) as error:
            unavailable = self._unavailable(error)
            if unavailable is None:
                raise
            raise unavailable from error

    def _unavailable(self, error: Exception) -> DynamoDBUnavailable | None:
        settings = self.models.settings
        where = settings.dynamodb_endpoint
        cause = error.cause if isinstance(error, PynamoDBException) else error
        code = error.cause_response_code if isinstance(error, PynamoDBException) else None
        if isinstance(cause, BotoCoreError):
            # No connection, a timeout, or no credentials: the request never reached DynamoDB.
            return DynamoDBUnavailable(
                f"DynamoDB unreachable at {where}: {cause}",
                "DynamoDB is unreachable, so links cannot be read or written right now; retry in a moment.",
            )
        # DescribeTable's ResourceNotFoundException comes as TableDoesNotExist, without the code.
        if code == "ResourceNotFoundException" or isinstance(error, TableDoesNotExist):
            return DynamoDBUnavailable(
                f"DynamoDB table {settings.links_table!r} does not exist at {where}",
                "The links table does not exist in DynamoDB.",
            )
        if code in _THROTTLED:
            return DynamoDBUnavailable(
                f"DynamoDB at {where} refused the request for now ({code}): {cause}",
                "DynamoDB is busy, so links cannot be read or written right now; retry in a moment.",
            )
        return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _codes(code: str | None) -> Iterator[str]:
    """`code` itself, or fresh random codes: 8 URL-safe characters (48 bits) rarely collide, and a collision
    only means drawing again."""
    if code is not None:
        yield code
        return
    for _ in range(5):
        yield secrets.token_urlsafe(6)


def _fingerprint(url: str, code: str | None) -> str:
    return hashlib.sha256(json.dumps({"url": url, "code": code}, sort_keys=True).encode()).hexdigest()


def _cancellation_reasons(error: TransactWriteError) -> list[str | None]:
    """Why DynamoDB cancelled a two-item transaction, one reason per item (None: that item was fine), when every
    reason is one the caller settles (a condition failed, or a concurrent transaction on the same item); else the
    error, raised again. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
    """
    if error.cause_response_code != "TransactionCanceledException":
        raise error
    reasons = [reason.code if reason else None for reason in error.cancellation_reasons]
    if not set(reasons) <= {None, "ConditionalCheckFailed", "TransactionConflict"}:
        raise error
    return reasons
