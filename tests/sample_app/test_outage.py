"""DynamoDB out of reach: 503 problems with one log line each, and recovery once it is back.

These tests stop and start a DynamoDB Local of their own, so the session's instance keeps serving the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pynamodb.connection import Connection

from sample_app.app import create_app
from sample_app.models import bind, create_table
from sample_app.settings import Settings
from scripts.dynamodb_local import DynamoDBLocal
from tests.dynamodb import REGION
from tests.sample_app.conftest import assert_problem, create_link, serve

UNREACHABLE = "DynamoDB is unreachable, so links cannot be read or written right now; retry in a moment."


@pytest.fixture
def own_dynamodb(dynamodb_local: str, tmp_path: Path) -> Iterator[DynamoDBLocal]:
    """A DynamoDB Local for this test alone (not started), keeping its data on disk across a restart.
    Requesting `dynamodb_local` sets the dummy credentials."""
    dynamodb = DynamoDBLocal(db_path=tmp_path / "dynamodb")
    try:
        yield dynamodb
    finally:
        dynamodb.stop()


def requests_of_every_route(code: str) -> list[tuple[str, str, dict[str, object]]]:
    return [
        ("GET", "/health", {}),
        ("GET", "/", {}),
        ("POST", "/", {"data": {"url": "https://example.com/form"}}),
        ("POST", "/links", {"json": {"url": "https://example.com/new"}}),
        ("POST", "/links", {"json": {"url": "https://example.com/new"}, "headers": {"Idempotency-Key": "k1"}}),
        ("GET", "/links", {}),
        ("GET", f"/links/{code}", {}),
        ("PATCH", f"/links/{code}", {"json": {"url": "https://example.com/b"}, "headers": {"If-Match": '"1"'}}),
        ("DELETE", f"/links/{code}", {}),
        ("GET", f"/r/{code}", {}),
    ]


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def test_the_app_rides_out_dynamodb_being_down(own_dynamodb: DynamoDBLocal, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(dynamodb_endpoint_url=own_dynamodb.endpoint_url, aws_region=REGION)

    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        # It starts while DynamoDB is down, saying so once, and answers 503 ...
        [startup_line] = error_lines(caplog)
        assert startup_line.startswith(f"DynamoDB unreachable at {own_dynamodb.endpoint_url}: Could not connect")
        assert_problem(client.get("/health"), 503, UNREACHABLE)

        # ... until DynamoDB is up.
        own_dynamodb.start()
        create_table(bind(settings))
        assert client.get("/health").json()["table"]["status"] == "ACTIVE"
        link = create_link(client, "https://example.com/kept")

        # DynamoDB stops: every route answers 503 with exactly one log line, naming what failed and where.
        own_dynamodb.stop()
        for method, path, options in requests_of_every_route(link["code"]):
            caplog.clear()
            response = client.request(method, path, **options)  # type: ignore[arg-type]
            assert_problem(response, 503, UNREACHABLE)
            assert response.headers["Retry-After"] == "1"
            [line] = error_lines(caplog)
            assert line.startswith(f"DynamoDB unreachable at {own_dynamodb.endpoint_url}: Could not connect"), line

        # It is back, with its data: the app recovers without a restart.
        own_dynamodb.start()
        assert client.get("/health").json()["table"]["status"] == "ACTIVE"
        assert client.get(f"/links/{link['code']}").json() == link
        assert client.get(f"/r/{link['code']}").status_code == 307


def test_a_missing_table_is_503_and_says_which(dynamodb_local: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(links_table="no-such-table", dynamodb_endpoint_url=dynamodb_local, aws_region=REGION)

    with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        caplog.clear()
        assert_problem(client.get("/health"), 503, "The links table does not exist in DynamoDB.")
        assert error_lines(caplog) == [f"DynamoDB table 'no-such-table' does not exist at {dynamodb_local}"]
        assert_problem(client.get("/links/abc"), 503, "The links table does not exist in DynamoDB.")


def test_another_table_in_its_place_is_a_500_problem(dynamodb_local: str, caplog: pytest.LogCaptureFixture) -> None:
    # LINKS_TABLE naming a table with another key schema: not an outage, a mistake that only a deploy can fix.
    connection = Connection(region=REGION, host=dynamodb_local)
    name = f"other-{uuid.uuid4().hex[:12]}"
    connection.create_table(
        name,
        attribute_definitions=[{"attribute_name": "pk", "attribute_type": "S"}],
        key_schema=[{"attribute_name": "pk", "key_type": "HASH"}],
        billing_mode="PAY_PER_REQUEST",
    )
    settings = Settings(links_table=name, dynamodb_endpoint_url=dynamodb_local, aws_region=REGION)
    try:
        with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
            response = client.get("/links/abc")
    finally:
        connection.delete_table(name)

    assert_problem(response, 500, "The server failed to handle this request; the error is logged.")
    assert "abc" not in response.text
    assert any(record.exc_info for record in caplog.records), "the traceback is logged"
