"""The live click feed (server-sent events): under uvicorn, and through adapter.runtime streaming a Function URL
response against the Runtime API emulator, where each event leaves as it is produced."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from adapter import LambdaAdapter
from adapter.runtime import Runtime
from adapter.runtime.client import RuntimeClient
from sample_app import routes
from sample_app.app import create_app
from sample_app.settings import Settings
from tests.adapter.builders import make_function_url_event
from tests.adapter.runtime.emulator import running
from tests.sample_app.conftest import assert_problem, create_link, unique


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "CLICK_FEED_POLL_SECONDS", 0.05)


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, object]]]:
    """(event, data) pairs from a text/event-stream."""
    name, data = "message", ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and data:
            yield name, json.loads(data)
            name, data = "message", ""


def test_the_feed_follows_the_count(client: httpx.Client) -> None:
    code = create_link(client, code=unique("feed"))["code"]

    with client.stream("GET", f"/links/{code}/clicks", params={"seconds": 3}) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        feed = events(response.iter_lines())
        assert next(feed) == ("clicks", {"code": code, "clicks": 0})
        assert client.get(f"/r/{code}").status_code == 307
        assert next(feed) == ("clicks", {"code": code, "clicks": 1})
        assert client.delete(f"/links/{code}").status_code == 204
        assert next(feed) == ("gone", {})


def test_the_feed_ends_after_its_seconds(client: httpx.Client) -> None:
    code = create_link(client, code=unique("feed"))["code"]

    response = client.get(f"/links/{code}/clicks", params={"seconds": 1})

    assert response.text == f'retry: 50\nevent: clicks\ndata: {{"code": "{code}", "clicks": 0}}\n\n'


@pytest.mark.parametrize("seconds", ["0", "26", "soon", "-1"])
def test_bad_seconds_are_a_problem(client: httpx.Client, seconds: str) -> None:
    response = client.get("/links/anything/clicks", params={"seconds": seconds})
    assert_problem(response, 400, "seconds must be a whole number from 1 to 25")


def test_a_feed_of_no_link_is_not_found(client: httpx.Client) -> None:
    assert_problem(client.get(f"/links/{unique('absent')}/clicks"), 404, "There is no link")


def test_streamed_from_lambda_each_event_leaves_when_it_is_sent(links_settings: Settings) -> None:
    adapter = LambdaAdapter(create_app(links_settings))
    adapter.startup()
    code = unique("feed")
    store = adapter._lifespan.state["store"]
    store.create("https://example.com/", code, None)
    with running() as api:
        runtime = Runtime(adapter, RuntimeClient(api.address), stream=True)
        try:
            outcome = api.invoke(make_function_url_event(path=f"/links/{code}/clicks", query="seconds=3"))
            invocation = runtime.client.next()

            def click_once_the_first_event_is_out() -> None:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not any(b"event: clicks" in c for c in outcome.chunks):
                    time.sleep(0.01)
                seen.append(not outcome.done.is_set())
                store.click(code)

            seen: list[bool] = []
            thread = threading.Thread(target=click_once_the_first_event_is_out)
            thread.start()
            runtime.handle(invocation)
            thread.join()
            outcome.wait()
        finally:
            runtime.shutdown()

    assert seen == [True]  # the first event was out while the feed went on
    prelude, _, body = outcome.body.partition(b"\0" * 8)
    assert json.loads(prelude)["headers"]["content-type"] == "text/event-stream; charset=utf-8"
    assert list(events(iter(body.decode().split("\n")))) == [
        ("clicks", {"code": code, "clicks": 0}),
        ("clicks", {"code": code, "clicks": 1}),
    ]
