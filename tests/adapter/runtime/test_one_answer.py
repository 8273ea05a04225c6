"""Any application, one answer: generated ASGI applications, well-behaved and not, give the same response through
the classic handler, the runtime's buffered mode and its streamed mode, and every invocation gets exactly one
answer from the runtime, whose next invocation still works.

The applications are scripts of messages: starts with every kind of status and header list, bodies of every
type, in any order, split anywhere, with a Content-Length that is right, wrong or absent, ending complete, early
or with an exception; each send that is refused is either let through (the usual case) or swallowed, as a
hostile or careless application would. The number of examples comes from the hypothesis profile: `ci` by
default, `nightly` (scripts/fuzz-engine) for many more.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter import LambdaAdapter
from adapter.runtime import Runtime
from adapter.runtime.client import RuntimeClient
from adapter.types import Receive, Scope, Send
from tests.adapter.builders import make_function_url_event
from tests.adapter.runtime.emulator import Outcome, RuntimeAPI, running

settings.register_profile("ci", max_examples=1000, deadline=None, derandomize=True)
settings.register_profile("nightly", max_examples=20000, deadline=None)
PROFILE = os.environ.get("ENGINE_FUZZ_PROFILE", "ci")

DELIMITER = b"\0" * 8
Step = tuple[Any, ...]

# The script the application plays on its next call, and whether it swallows what send() raises.
script: list[Step] = []
swallows = False


async def player(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    for step in script:
        if step[0] == "raise":
            raise ValueError("the application broke")
        if step[0] == "return":
            return
        message = step[1]
        if len(step) > 2:
            # Headers as a generator, made anew for each play: a generator can be read once.
            message = {**message, "headers": (pair for pair in message["headers"])}
        try:
            await send(message)
        except Exception:
            if not swallows:
                raise


STATUSES = st.sampled_from(
    [200, 201, 204, 302, 404, 500, 599, 100, HTTPStatus.OK, 99999, -5, 600, 99, "200", None, True]
)
GOOD_HEADERS = st.tuples(
    st.sampled_from([b"content-type", b"Content-Type", b"x-a", b"set-cookie", b"cache-control"]),
    st.sampled_from([b"text/plain", b"application/octet-stream", b"a=1; Path=/", b"1", b"S\xc3\xa3o", b"\xff"]),
)
BAD_HEADERS = st.sampled_from(
    [
        ("x-str", "value"),
        (b"x-int", 1),
        (b"only-name",),
        b"set-cookie: session=secret",
        None,
        [b"x-list", b"1"],
        (bytearray(b"x-bytearray"), memoryview(b"v")),
    ]
)
BODIES = st.one_of(
    st.binary(max_size=24),
    st.binary(max_size=8).map(bytearray),
    st.binary(max_size=8).map(lambda data: memoryview(data)),
    st.sampled_from(["text", 5, [b"x"], None]),
)
OTHER_MESSAGES = st.sampled_from(
    [
        {"type": "websocket.send", "text": "x"},
        {"no": "type"},
        {"type": "http.response.start"},  # no status
        {"type": "http.response.trailers", "headers": []},
        "not a mapping",
    ]
)


@st.composite
def start_steps(draw: st.DrawFn, body_size: int) -> Step:
    headers: list[Any] = draw(st.lists(st.one_of(GOOD_HEADERS, GOOD_HEADERS, BAD_HEADERS), max_size=4))
    length = draw(st.sampled_from(["right", "wrong", "absent"]))
    if length != "absent":
        size = body_size if length == "right" else body_size + draw(st.integers(1, 100))
        headers.append((b"content-length", str(size).encode()))
    form = draw(st.sampled_from(["list", "tuple", "generator", "missing"]))
    message: dict[str, Any] = {"type": "http.response.start", "status": draw(STATUSES)}
    if form == "list":
        message["headers"] = headers
    elif form == "tuple":
        message["headers"] = tuple(headers)
    elif form == "generator":
        message["headers"] = headers
        return ("send", message, "generator")
    return ("send", message)


def body_step(chunk: Any, more: Any) -> Step:
    message: dict[str, Any] = {"type": "http.response.body"}
    if chunk is not None:
        message["body"] = chunk
    if more is not None:
        message["more_body"] = more
    return ("send", message)


@st.composite
def scripts(draw: st.DrawFn) -> tuple[list[Step], bool]:
    bodies = draw(st.lists(st.tuples(BODIES, st.sampled_from([True, True, False, None, 1])), max_size=4))
    size = sum(len(bytes(chunk)) for chunk, _ in bodies if isinstance(chunk, bytes | bytearray | memoryview))
    steps: list[Step] = [body_step(chunk, more) for chunk, more in bodies]
    if draw(st.booleans()):
        steps.insert(0, draw(start_steps(size)))
    else:
        steps.insert(draw(st.integers(0, len(steps))), draw(start_steps(size)))
    if draw(st.integers(0, 4)) == 0:
        steps.insert(draw(st.integers(0, len(steps))), ("send", draw(OTHER_MESSAGES)))
    if draw(st.integers(0, 3)) == 0:
        steps.insert(draw(st.integers(0, len(steps))), draw(st.sampled_from([("raise",), ("return",)])))
    return steps, draw(st.integers(0, 4)) == 0


class Paths:
    def __init__(self, api: RuntimeAPI) -> None:
        self.api = api
        self.classic = LambdaAdapter(player, lifespan="off")
        self.buffered = Runtime(LambdaAdapter(player, lifespan="off"), RuntimeClient(api.address))
        self.streamed = Runtime(LambdaAdapter(player, lifespan="off"), RuntimeClient(api.address), stream=True)

    def serve(self, runtime: Runtime, event: dict[str, Any]) -> Outcome:
        outcome = self.api.invoke(event)
        runtime.handle(runtime.client.next())
        outcome.wait(5)
        answers = [entry for entry in self.api.log if entry[1] == outcome.request_id]
        assert answers == [(outcome.kind, outcome.request_id)], answers  # exactly one /response or /error
        return outcome

    def close(self) -> None:
        self.classic.close()
        self.buffered.shutdown()
        self.streamed.shutdown()


@pytest.fixture(scope="module")
def paths() -> Iterator[Paths]:
    with running() as api:
        both = Paths(api)
        yield both
        both.close()


def whole(result: dict[str, Any]) -> tuple[int, dict[str, str], list[str], bytes]:
    body = result["body"]
    raw = base64.b64decode(body) if result["isBase64Encoded"] else body.encode()
    return result["statusCode"], result["headers"], result.get("cookies", []), raw


def without_length(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name != "content-length"}


@settings(
    settings.get_profile(PROFILE), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(scripts())
def test_every_path_gives_the_same_answer(paths: Paths, generated: tuple[list[Step], bool]) -> None:
    global script, swallows
    steps, swallows = generated
    event = make_function_url_event(path="/")

    script = steps
    classic = paths.classic(event, None)  # nothing escapes: no exception, whatever the application did
    script = steps
    buffered = paths.serve(paths.buffered, event)
    script = steps
    streamed = paths.serve(paths.streamed, event)

    status, headers, cookies, body = whole(classic)
    assert 100 <= status <= 599
    assert buffered.kind == "response" and buffered.json() == classic
    assert streamed.kind == "response" and streamed.streamed
    prelude, delimiter, streamed_body = streamed.body.partition(DELIMITER)
    assert delimiter == DELIMITER
    head = json.loads(prelude)
    assert (head["statusCode"], head.get("cookies", []), streamed_body) == (status, cookies, body)
    # Framing aside: a streamed response cut short keeps the Content-Length its prelude already carried, and says
    # it was cut short with the error trailers instead.
    assert without_length(head["headers"]) == without_length(headers)
    if streamed.trailers:
        # Cut short: the buffered answer lost the Content-Length its shorter body no longer matches.
        assert set(streamed.trailers) == {"lambda-runtime-function-error-type", "lambda-runtime-function-error-body"}
        assert "content-length" not in headers
    else:
        # Complete, or replaced by the adapter's 500: the very same headers.
        assert head["headers"] == headers


def test_the_runtimes_serve_on_after_the_generated_applications(paths: Paths) -> None:
    global script, swallows
    script, swallows = (
        [("send", {"type": "http.response.start", "status": 201}), ("send", {"type": "http.response.body"})],
        False,
    )
    for runtime in (paths.buffered, paths.streamed):
        outcome = paths.serve(runtime, make_function_url_event(path="/"))
        assert outcome.kind == "response"
        assert b'"statusCode": 201' in outcome.body
