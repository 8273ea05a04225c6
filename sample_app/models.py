"""The links table and the PynamoDB models that read and write it.

One table holds two kinds of items, told apart by `kind`, both keyed by the string attribute `code`:

- a link: `code` is the short code (letters, digits, `-` and `_`, so it can never contain `#`);
- an idempotency record: `code` is `idempotency#<Idempotency-Key>`. It remembers the first result of a
  create for 24 hours (DynamoDB's TTL deletes it later: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html);
- a click record: `code` is `click#<click id>`, written with the count of a click that came through the queue,
  so that a message delivered again is not counted again; TTL deletes it after SQS's longest retention.

Every kind keeps its expiry in `expires_at`, the table's TTL attribute: a link may have one too. TTL deletes an
expired item within days, not at once, so the app treats an expired link as gone, and a schedule removes them.

The classes below describe the items; `bind(settings)` makes the subclasses the app uses, whose Meta names
the table, endpoint and region from the settings. The app can then be built twice in one process (tests do,
against separate tables) without one rebinding the other's models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.connection import Connection
from pynamodb.models import Model

from sample_app.settings import Settings

LINK = "link"
IDEMPOTENCY = "idempotency"
IDEMPOTENCY_KEY_PREFIX = "idempotency#"
CLICK = "click"
CLICK_KEY_PREFIX = "click#"


class Link(Model):
    """A short link. `version` is PynamoDB's optimistic lock: every save or update made through this class
    is conditional on the version it read, and increments it (https://pynamodb.readthedocs.io/en/stable/optimistic_locking.html)."""

    class Meta:
        table_name = "links"

    code = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=LINK)
    url = UnicodeAttribute()
    clicks = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    version = VersionAttribute()
    # When the link stops redirecting; None: never.
    expires_at = TTLAttribute(null=True)


class LinkClicks(Model):
    """The click counter of a link: the same items as `Link`, seen without the version attribute.

    PynamoDB's `Model.update` always increments a model's version attribute, or sets it to 1 when the instance
    was not read first (https://github.com/pynamodb/PynamoDB/issues/1247). Counting a click through `Link`
    would therefore bump the version (and fail every PATCH of a link that is being followed) or reset it.
    Through this class, a click is one atomic `ADD clicks 1` that leaves `version` alone.
    """

    class Meta:
        table_name = "links"

    code = UnicodeAttribute(hash_key=True)
    url = UnicodeAttribute()
    clicks = NumberAttribute(default=0)


class ClickRecord(Model):
    """A click counted from the queue, written in the same transaction as the count."""

    class Meta:
        table_name = "links"

    key = UnicodeAttribute(hash_key=True, attr_name="code")
    kind = UnicodeAttribute(default=CLICK)
    link_code = UnicodeAttribute()
    expires_at = TTLAttribute()


class IdempotencyRecord(Model):
    """The first result of `POST /links` for one Idempotency-Key, written in the same transaction as the link."""

    class Meta:
        table_name = "links"

    key = UnicodeAttribute(hash_key=True, attr_name="code")
    kind = UnicodeAttribute(default=IDEMPOTENCY)
    # A digest of the request that used the key: the same key with another request is refused.
    fingerprint = UnicodeAttribute()
    link_code = UnicodeAttribute()
    link_url = UnicodeAttribute()
    link_created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


@dataclass(frozen=True)
class Models:
    """The model classes bound to one table and endpoint, and a connection for their transactions."""

    settings: Settings
    link: type[Link]
    link_clicks: type[LinkClicks]
    idempotency: type[IdempotencyRecord]
    click: type[ClickRecord]
    connection: Connection


_M = TypeVar("_M", bound=Model)

# Client settings for an API: API Gateway gives up after 29 s, so a request must not wait 15 s to connect and
# 30 s to read as PynamoDB's defaults allow. Each call is still retried up to three times by botocore.
# https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
_CLIENT_SETTINGS: dict[str, Any] = {
    "connect_timeout_seconds": 2,
    "read_timeout_seconds": 5,
    "max_retry_attempts": 3,
    # As many pooled connections as Starlette runs endpoints in threads at once (anyio's default limit).
    "max_pool_connections": 40,
}


def bind(settings: Settings) -> Models:
    """Subclasses of the models that talk to `settings.links_table` at `settings.dynamodb_endpoint_url`."""
    meta = {
        "table_name": settings.links_table,
        "region": settings.aws_region,
        "host": settings.dynamodb_endpoint_url,
        "billing_mode": "PAY_PER_REQUEST",
        **_CLIENT_SETTINGS,
    }

    def bound(model: type[_M]) -> type[_M]:
        namespace = {"Meta": type("Meta", (), meta), "__module__": model.__module__, "__qualname__": model.__qualname__}
        return cast("type[_M]", type(model.__name__, (model,), namespace))

    link, link_clicks, idempotency, click = bound(Link), bound(LinkClicks), bound(IdempotencyRecord), bound(ClickRecord)
    # PynamoDB gives each model class a botocore client of its own, and creating one costs 100-300 ms of CPU
    # (botocore loads DynamoDB's service model), in every Lambda cold start. These classes share a table, key
    # schema and endpoint, so they share the first one's connection, and transactions go through it too.
    table = link._get_connection()
    link_clicks._connection = idempotency._connection = click._connection = table
    return Models(
        settings=settings,
        link=link,
        link_clicks=link_clicks,
        idempotency=idempotency,
        click=click,
        connection=table.connection,
    )


def create_table(models: Models) -> bool:
    """Creates the table if it is missing, with TTL on `expires_at`; True if it was created.

    In AWS the table belongs to the deployment (template.yaml), not to the app: this is for DynamoDB Local.
    """
    if models.link.exists():
        return False
    # Link has the TTL attribute too, and PynamoDB's create_table turns TTL on for a model that has one.
    models.link.create_table(wait=True, ignore_update_ttl_errors=False)
    return True
