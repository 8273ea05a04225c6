"""Direct invocations: the payload in, typed if asked; the result out; errors under names a state machine matches."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import pytest

from adapter import ConfigurationError
from adapter.exceptions import InvalidPayload, MalformedEvent
from adapter.triggers import TaskError, Triggers

State = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Chunk:
    task: str
    rows: list[dict[str, str]]


@dataclasses.dataclass(frozen=True)
class Summary:
    created: int
    failed: list[int]


def test_a_dataclass_payload_and_result(triggers: Triggers, invoke: Any) -> None:
    @triggers.on_invoke(match={"task": "import"}, payload=Chunk)
    def import_chunk(chunk: Chunk, state: State) -> Summary:
        return Summary(created=len(chunk.rows), failed=[])

    assert invoke({"task": "import", "rows": [{"url": "https://example.com"}]}) == {"created": 1, "failed": []}


def test_a_payload_the_dataclass_refuses_is_invalid(triggers: Triggers, invoke: Any) -> None:
    triggers.on_invoke(payload=Chunk)(lambda chunk, state: None)
    with pytest.raises(InvalidPayload) as error:
        invoke({"task": "import", "rows": [], "extra": 1})
    assert str(error.value).startswith("the payload for <lambda> is not a valid Chunk: TypeError: ")
    assert "extra" in str(error.value)
    with pytest.raises(
        InvalidPayload,
        match=r"^the payload for <lambda> is not a valid Chunk: TypeError: expected a JSON object, got list$",
    ):
        invoke(["not", "an", "object"])
    assert issubclass(InvalidPayload, MalformedEvent)


def test_any_parsing_callable(triggers: Triggers, invoke: Any) -> None:
    def positive(value: Any) -> int:
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{value!r} is not a positive integer")
        return value

    triggers.on_invoke(payload=positive)(lambda number, state: number * 2)
    assert invoke(21) == 42
    with pytest.raises(
        InvalidPayload, match=r"^the payload for <lambda> is not a valid positive: ValueError: -1 is not"
    ):
        invoke(-1)


def test_the_first_matching_handler_takes_the_payload(triggers: Triggers, invoke: Any) -> None:
    triggers.on_invoke(match={"BatchInput": {"task": "import"}})(lambda payload, state: "import")
    triggers.on_invoke(match={"task": "export", "format": "csv"})(lambda payload, state: "export")
    triggers.on_invoke()(lambda payload, state: "anything else")

    assert invoke({"Items": [], "BatchInput": {"task": "import", "id": "x"}}) == "import"
    assert invoke({"BatchInput": "import"}) == "anything else"
    assert invoke({"BatchInput": {"task": "other"}}) == "anything else"
    assert invoke({"task": "export", "format": "csv"}) == "export"
    assert invoke({"task": "export", "format": "json"}) == "anything else"
    assert invoke("a string") == "anything else"
    assert invoke(None) == "anything else"


def test_task_errors_take_the_name_given(triggers: Triggers, invoke: Any) -> None:
    class ChunkRejected(TaskError):
        pass

    @triggers.on_invoke()
    def fail(payload: Any, state: State) -> None:
        if payload == "named":
            raise TaskError("chunk 7 has no rows", error="EmptyChunk")
        if payload == "subclass":
            raise ChunkRejected("too large")
        raise TaskError("plain")

    with pytest.raises(TaskError) as error:
        invoke("named")
    assert (type(error.value).__name__, str(error.value), error.value.error) == (
        "EmptyChunk",
        "chunk 7 has no rows",
        "EmptyChunk",
    )
    assert type(error.value) is TaskError.named("EmptyChunk")  # one class per name
    with pytest.raises(ChunkRejected) as rejected:
        invoke("subclass")
    assert (type(rejected.value).__name__, rejected.value.error) == ("ChunkRejected", "ChunkRejected")
    with pytest.raises(TaskError) as plain:
        invoke("plain")
    assert type(plain.value) is TaskError and plain.value.error == "TaskError"
    assert type(TaskError("same", error="TaskError")) is TaskError


@pytest.mark.parametrize("name", ["", "  ", "States.Timeout"])
def test_a_task_error_name_must_be_usable(name: str) -> None:
    with pytest.raises(
        ConfigurationError, match=r"an error name must be a non-empty string not starting with 'States\.'"
    ):
        TaskError("x", error=name)


def test_the_lambda_runtime_reports_the_chosen_name() -> None:
    """What the Python runtime sends Lambda for an exception: errorType from the class name
    (build_fault_result in awslambdaric's bootstrap.py), run in a fresh interpreter."""
    script = """
import json, sys
from adapter.triggers import TaskError
try:
    raise TaskError("3 rows are invalid", error="ImportRowsInvalid")
except Exception:
    etype, value, _ = sys.exc_info()
    print(json.dumps({"errorType": etype.__name__, "errorMessage": str(value)}))
"""
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == {"errorType": "ImportRowsInvalid", "errorMessage": "3 rows are invalid"}


@pytest.mark.parametrize(
    ("register", "message"),
    [
        pytest.param(
            lambda t: t.on_sqs(concurrency=0), "concurrency must be a positive integer, not 0", id="concurrency"
        ),
        pytest.param(lambda t: t.on_sqs(concurrency=True), "concurrency must be a positive integer", id="bool"),
        pytest.param(lambda t: t.on_sqs(fifo="message"), "fifo must be 'batch' or 'group', not 'message'", id="fifo"),
        pytest.param(
            lambda t: t.on_sqs(queue="")(print), "queue must be a non-empty string or None, not ''", id="empty"
        ),
        pytest.param(lambda t: t.on_s3(bucket=3)(print), "bucket must be a non-empty string or None, not 3", id="int"),
        pytest.param(lambda t: t.on_sns()("handler"), "a SNS handler must be a function, not 'handler'", id="function"),
        pytest.param(lambda t: t.on_invoke(match=["task"]), "match must be a mapping of payload members", id="match"),
        pytest.param(lambda t: t.on_invoke(payload="Chunk"), "payload must be a dataclass or a callable", id="payload"),
    ],
)
def test_bad_options_are_refused_when_registering(register: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        register(Triggers())


def test_decorators_return_the_function_itself() -> None:
    triggers = Triggers()

    def handle(payload: Any, state: State) -> str:
        return "called directly"

    assert triggers.on_invoke()(handle) is handle
    assert handle({}, {}) == "called directly"
    assert bool(triggers) and not Triggers()
