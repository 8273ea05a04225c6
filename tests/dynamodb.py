"""DynamoDB Local for the test suite (a pytest plugin, registered in tests/conftest.py).

`dynamodb_local` starts one in-memory DynamoDB Local per session, on a free port, and yields its endpoint URL.
`links_settings` gives each test a fresh, empty links table in it, so tests share nothing but the process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from sample_app.models import bind, create_table
from sample_app.settings import Settings
from scripts.dynamodb_local import DUMMY_CREDENTIALS, DynamoDBLocal, DynamoDBLocalError

REGION = "us-east-1"


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """The endpoint URL of a DynamoDB Local that runs for the whole session, with dummy credentials set."""
    # The credentials go into the process environment, where every botocore client (and `sam local`) finds them.
    saved = dict(os.environ)
    try:
        with DynamoDBLocal() as dynamodb:
            # Credentials and region only: each test's settings say which endpoint its app uses.
            os.environ.update(DUMMY_CREDENTIALS, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                os.environ.pop(name, None)
            yield dynamodb.endpoint_url
    except DynamoDBLocalError as error:
        pytest.fail(str(error), pytrace=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def links_settings(dynamodb_local: str) -> Iterator[Settings]:
    """Settings for a links table of this test's own, created empty and deleted afterwards."""
    settings = Settings(
        links_table=f"links-{uuid.uuid4().hex[:12]}", dynamodb_endpoint_url=dynamodb_local, aws_region=REGION
    )
    models = bind(settings)
    create_table(models)
    yield settings
    models.link.delete_table()
