"""Work after the response: Starlette's background tasks and `after_response()` run once the response has reached
the Runtime API, before the next invocation is fetched, and no later than the deadline."""

from __future__ import annotations

import logging
import threading

import pytest

from adapter.runtime import after_response
from tests.adapter.builders import make_function_url_event
from tests.adapter.runtime import apps
from tests.adapter.runtime.conftest import MakeRuntime, serve_one
from tests.adapter.runtime.emulator import Outcome, RuntimeAPI


def release_once_received(outcome: Outcome) -> threading.Thread:
    """Releases the application once the emulator holds the invocation's response."""

    def release() -> None:
        if outcome.done.wait(10):
            apps.gates.note("response received")
        apps.gates.release.set()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_background_tasks_run_after_the_response_and_before_the_next_invocation(
    api: RuntimeAPI, make_runtime: MakeRuntime
) -> None:
    runtime = make_runtime()
    outcome = api.invoke(make_function_url_event(path="/background"))
    invocation = runtime.client.next()
    thread = release_once_received(outcome)

    runtime.handle(invocation)
    thread.join()

    assert outcome.json()["body"] == "queued"
    # The background task was still waiting (released only once the response had arrived), and had finished when
    # the invocation ended, before anything asked for the next one.
    journal = apps.gates.journal
    assert sorted(journal) == sorted(
        ["startup", "background started", "response received", "background finished released=True"]
    )
    assert journal.index("response received") < journal.index("background finished released=True")
    assert api.log == [("next", None), ("response", outcome.request_id)]


def test_after_response_callbacks_run_in_order_and_survive_each_others_failures(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = serve_one(make_runtime(), api, make_function_url_event(path="/hooked"))

    assert outcome.json()["body"] == "hooked"
    assert apps.gates.journal == ["startup", "async hook one", "sync hook two"]
    assert f"Exception in work queued with after_response() [{outcome.request_id}]" in caplog.text
    assert "RuntimeError: the hook broke" in caplog.text


def test_plain_handlers_can_queue_work_too(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(apps.plain)
    outcome = serve_one(runtime, api, {"action": "later"})
    serve_one(runtime, api, {"action": "later"})

    assert outcome.json()["echo"] == {"action": "later"}
    assert apps.gates.journal == ["plain hook", "plain hook"]


def test_a_callback_returning_an_awaitable_is_awaited(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    async def note() -> None:
        apps.gates.note("awaited")

    def handler(event: object, context: object) -> str:
        # A plain function that hands back a coroutine, as a functools.partial over an async function does.
        after_response(lambda: note())
        return "ok"

    serve_one(make_runtime(handler), api, {})

    assert apps.gates.journal == ["awaited"]


def test_after_response_outside_the_runtime_is_refused() -> None:
    with pytest.raises(RuntimeError, match="there is none here; under uvicorn or the classic handler"):
        after_response(print)
    with pytest.raises(TypeError, match="after_response\\(\\) takes a callable, not 42"):
        after_response(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/slow-background", "/slow-hook"])
def test_work_after_the_response_stops_at_the_deadline(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.ERROR)
    outcome = serve_one(make_runtime(deadline_margin=0.5), api, make_function_url_event(path=path), timeout=1.0)

    assert outcome.json()["body"] == "sent"
    assert "still running at the invocation's deadline; cancelled it" in caplog.text
    assert "sleep" in caplog.text  # where it was: asyncio.sleep
