"""Races that DynamoDB must settle, run in real threads against DynamoDB Local through uvicorn."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from tests.sample_app.conftest import create_link

T = TypeVar("T")


def at_once(base_url: str, clients: int, request: Callable[[httpx.Client, int], T]) -> list[T]:
    """Runs `request(client, n)` for n in range(clients), each in a thread with a client of its own, all released
    together by a barrier so that the requests overlap."""
    barrier = threading.Barrier(clients)

    def run(n: int) -> T:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            client.get("/health")  # connect first, so that the barrier releases requests rather than handshakes
            barrier.wait()
            return request(client, n)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(run, range(clients)))


def test_20_patches_from_the_same_version_one_wins(base_url: str, client: httpx.Client) -> None:
    code = create_link(client, "https://example.com/original")["code"]

    def patch(client: httpx.Client, n: int) -> httpx.Response:
        return client.patch(f"/links/{code}", json={"url": f"https://example.com/{n}"}, headers={"If-Match": '"1"'})

    responses = at_once(base_url, 20, patch)

    assert Counter(response.status_code for response in responses) == {200: 1, 412: 19}
    [winner] = [response.json() for response in responses if response.status_code == 200]
    stored = client.get(f"/links/{code}").json()
    assert stored == winner
    assert stored["version"] == 2
    assert stored["url"] != "https://example.com/original"


def test_50_concurrent_redirects_count_50_clicks(base_url: str, client: httpx.Client) -> None:
    code = create_link(client)["code"]

    responses = at_once(base_url, 50, lambda client, n: client.get(f"/r/{code}"))

    assert [response.status_code for response in responses] == [307] * 50
    link = client.get(f"/links/{code}").json()
    assert (link["clicks"], link["version"]) == (50, 1)


def test_a_create_retried_by_10_concurrent_clients_makes_one_link(empty_client: httpx.Client) -> None:
    base_url = str(empty_client.base_url).rstrip("/")

    def create(client: httpx.Client, n: int) -> httpx.Response:
        return client.post("/links", json={"url": "https://example.com/once"}, headers={"Idempotency-Key": "order-17"})

    responses = at_once(base_url, 10, create)

    assert [response.status_code for response in responses] == [201] * 10
    assert len({response.json()["code"] for response in responses}) == 1
    assert (
        sorted(response.headers.get("Idempotent-Replayed", "false") for response in responses)
        == ["false"] + ["true"] * 9
    )
    assert [link["url"] for link in empty_client.get("/links").json()["links"]] == ["https://example.com/once"]
