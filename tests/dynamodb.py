"""DynamoDB Local for the test suite (a pytest plugin, registered in tests/conftest.py).

`dynamodb_local` starts one in-memory DynamoDB Local per session, on a free port, and yields its endpoint URL.
`links_settings` gives a test a fresh, empty links table in it; `module_links_settings` one per module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sample_app.models import bind, create_table
from sample_app.settings import Settings
from scripts.dynamodb_local import DynamoDBLocal, DynamoDBLocalError, use_dynamodb_local

REGION = "us-east-1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that uses DynamoDB Local `dynamodb`, so `-m "not dynamodb"` runs the others alone."""
    for item in items:
        if "dynamodb_local" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dynamodb)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """The endpoint URL of a DynamoDB Local that runs for the whole session, with dummy credentials set."""
    # The credentials go into the process environment, where every botocore client (and `sam local`) finds them.
    saved = dict(os.environ)
    try:
        with DynamoDBLocal() as dynamodb:
            # Credentials and region only: each test's settings say which endpoint its app uses.
            use_dynamodb_local(os.environ, endpoint_url=None, region=REGION)
            yield dynamodb.endpoint_url
    except DynamoDBLocalError as error:
        pytest.fail(str(error), pytrace=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def fresh_table(endpoint_url: str) -> Iterator[Settings]:
    """Settings for a new, empty links table in the DynamoDB Local at `endpoint_url`; deleted afterwards."""
    settings = Settings(
        links_table=f"links-{uuid.uuid4().hex[:12]}", dynamodb_endpoint_url=endpoint_url, aws_region=REGION
    )
    models = bind(settings)
    create_table(models)
    try:
        yield settings
    finally:
        models.link.delete_table()


@pytest.fixture
def links_settings(dynamodb_local: str) -> Iterator[Settings]:
    """Settings for a links table of this test's own."""
    with fresh_table(dynamodb_local) as settings:
        yield settings


@pytest.fixture(scope="module")
def module_links_settings(dynamodb_local: str) -> Iterator[Settings]:
    """Settings for a links table that the tests of one module share (each test then uses codes of its own)."""
    with fresh_table(dynamodb_local) as settings:
        yield settings
