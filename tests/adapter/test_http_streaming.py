"""`StreamingHTTPCycle`: the application's messages handed to a sink as they come, with the checks of the
buffered cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from adapter.http import StreamingHTTPCycle
from adapter.types import Message


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.calls.append(("start", status, list(headers)))

    def write(self, chunk: bytes, more: bool) -> None:
        self.calls.append(("write", chunk, more))


def play(*messages: Message) -> list[tuple[Any, ...]]:
    sink = Recorder()

    async def main() -> None:
        cycle = StreamingHTTPCycle(b"", sink)
        for message in messages:
            await cycle.send(message)

    asyncio.run(main())
    return sink.calls


def test_each_message_reaches_the_sink_as_it_is_sent() -> None:
    calls = play(
        {"type": "http.response.start", "status": 200},
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body"},
    )
    assert calls == [("start", 200, []), ("write", b"a", True), ("write", b"", False)]


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        pytest.param(
            [{"type": "http.response.start", "status": 200}] * 2, "sent 'http.response.start' twice", id="two-starts"
        ),
        pytest.param([{"type": "http.response.body"}], "'http.response.body' before 'http.response.start'", id="early"),
        pytest.param(
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body"},
                {"type": "http.response.body"},
            ],
            "after the response was complete",
            id="late",
        ),
        pytest.param([{"type": "websocket.send"}], "unexpected message type 'websocket.send'", id="other"),
    ],
)
def test_out_of_order_messages_are_refused(messages: list[Message], error: str) -> None:
    with pytest.raises(RuntimeError, match=error):
        play(*messages)


def test_a_disconnect_waits_for_the_end_of_the_response() -> None:
    sink = Recorder()

    async def main() -> list[str]:
        cycle = StreamingHTTPCycle(b"in", sink)
        assert (await cycle.receive())["body"] == b"in"
        waiting = asyncio.ensure_future(cycle.receive())
        await asyncio.sleep(0)
        assert not waiting.done()
        await cycle.send({"type": "http.response.start", "status": 204})
        await cycle.send({"type": "http.response.body", "body": b""})
        return [(await waiting)["type"]]

    assert asyncio.run(main()) == ["http.disconnect"]
