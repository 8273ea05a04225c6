"""POST /links with an Idempotency-Key: a retried create answers with the first result."""

from __future__ import annotations

import datetime

import httpx
import pytest

from sample_app.links import IDEMPOTENCY_WINDOW
from sample_app.models import IDEMPOTENCY_KEY_PREFIX, bind
from sample_app.settings import Settings
from tests.sample_app.conftest import assert_problem, unique


def post(client: httpx.Client, key: str, **body: str) -> httpx.Response:
    return client.post("/links", json={"url": "https://example.com/once", **body}, headers={"Idempotency-Key": key})


def test_a_retry_returns_the_first_result(client: httpx.Client) -> None:
    key = unique("key")
    first = post(client, key)
    retry = post(client, key)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_without_a_key_each_post_is_a_new_link(client: httpx.Client) -> None:
    codes = {client.post("/links", json={"url": "https://example.com/twice"}).json()["code"] for _ in range(2)}

    assert len(codes) == 2


def test_the_replay_is_the_first_result_even_after_the_link_changed(client: httpx.Client) -> None:
    key = unique("key")
    first = post(client, key).json()
    client.patch(f"/links/{first['code']}", json={"url": "https://example.com/moved"}, headers={"If-Match": '"1"'})
    client.get(f"/r/{first['code']}")

    assert post(client, key).json() == first
    assert client.get(f"/links/{first['code']}").json()["version"] == 2


def test_a_retry_with_a_custom_code_is_a_replay_not_a_conflict(client: httpx.Client) -> None:
    key, code = unique("key"), unique("custom")
    first = post(client, key, code=code)
    retry = post(client, key, code=code)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()


def test_a_taken_custom_code_is_409_with_a_key_too(client: httpx.Client) -> None:
    code = unique("taken")
    client.post("/links", json={"url": "https://example.com/first", "code": code})

    assert_problem(post(client, unique("key"), code=code), 409, "is taken")


def test_the_same_key_with_another_request_is_422(client: httpx.Client) -> None:
    key = unique("key")
    first = post(client, key)

    response = client.post("/links", json={"url": "https://example.com/other"}, headers={"Idempotency-Key": key})

    assert_problem(response, 422, "first used with a different request")
    assert client.get(first.headers["Location"]).json()["url"] == "https://example.com/once"


def test_a_quoted_key_is_the_same_key(client: httpx.Client) -> None:
    # The IETF draft sends the key as a structured-field string, in quotes; Stripe's clients send it bare.
    key = unique("key")
    first = post(client, f'"{key}"')

    assert post(client, key).json() == first.json()


@pytest.mark.parametrize("key", [b"", b'""', b"has space", "é".encode(), b"x" * 256])
def test_an_invalid_key_is_400(client: httpx.Client, key: bytes) -> None:
    response = client.post("/links", json={"url": "https://example.com"}, headers=[(b"Idempotency-Key", key)])

    assert_problem(response, 400, "Idempotency-Key must be 1 to 255 visible ASCII characters")


def test_an_expired_record_is_a_new_create(client: httpx.Client, module_links_settings: Settings) -> None:
    key = unique("key")
    first = post(client, key).json()
    # Age the record past the window, as if DynamoDB's TTL had not deleted it yet (which can take days).
    models = bind(module_links_settings)
    record = models.idempotency.get(IDEMPOTENCY_KEY_PREFIX + key)
    record.expires_at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    record.save()

    again = post(client, key)

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["code"] != first["code"]
    assert post(client, key).json() == again.json()
    expires_at = models.idempotency.get(IDEMPOTENCY_KEY_PREFIX + key).expires_at
    assert expires_at > datetime.datetime.now(datetime.UTC) + IDEMPOTENCY_WINDOW - datetime.timedelta(minutes=1)
