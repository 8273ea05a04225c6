"""The runtime in buffered mode against the Runtime API emulator: the same responses as the classic handler,
the invocation's headers in the context and the environment, and every failure posted where Lambda expects it."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest

from adapter import LambdaAdapter
from adapter.runtime import Runtime
from adapter.runtime.client import RuntimeAPIError, RuntimeClient
from tests.adapter.builders import make_alb_event, make_function_url_event, make_http_v2_event, make_rest_event
from tests.adapter.runtime import apps
from tests.adapter.runtime.conftest import MakeRuntime, serve_one
from tests.adapter.runtime.emulator import FUNCTION_ARN, RuntimeAPI
from tests.conftest import LambdaContextStub


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(make_function_url_event(path="/cookies"), id="function-url"),
        pytest.param(make_http_v2_event(path="/cookies"), id="http-api"),
        pytest.param(make_rest_event(path="/cookies"), id="rest"),
        pytest.param(make_alb_event(path="/cookies"), id="alb"),
        pytest.param(make_function_url_event(path="/missing"), id="not-found"),
        pytest.param(make_rest_event(path="/boom"), id="app-error"),
        pytest.param(make_rest_event(path="/broken-stream"), id="broken-stream"),
        pytest.param(make_rest_event(path="/large"), id="too-large"),
    ],
)
def test_responses_are_the_classic_handlers(api: RuntimeAPI, make_runtime: MakeRuntime, event: dict[str, Any]) -> None:
    classic = LambdaAdapter(apps.app)
    try:
        expected = classic(json.loads(json.dumps(event)), LambdaContextStub())
    finally:
        classic.close()

    outcome = serve_one(make_runtime(), api, event)

    assert outcome.kind == "response"
    assert outcome.headers["content-type"] == "application/json"
    assert not outcome.streamed
    assert outcome.json() == expected


def test_invocation_headers_reach_the_context_and_the_environment(
    api: RuntimeAPI, make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "links")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    runtime = make_runtime()

    outcome = serve_one(runtime, api, make_function_url_event(path="/echo", method="POST", body="hi"), timeout=30)
    seen = json.loads(outcome.json()["body"])

    assert seen["request_id"] == outcome.request_id
    assert seen["function_name"] == "links"
    assert seen["memory"] == "512"  # a string, as the managed runtime gives it
    assert seen["arn"] == FUNCTION_ARN
    assert 25_000 < seen["remaining_ms"] <= 30_000
    assert seen["trace"].startswith("Root=1-5759e988")
    assert seen["body"] == "hi"
    assert seen["state"] is True  # the lifespan ran at the first request

    # An invocation without a trace id takes the previous one's away.
    outcome = serve_one(runtime, api, make_function_url_event(path="/echo"), trace_id=None)
    assert json.loads(outcome.json()["body"])["trace"] is None
    assert "_X_AMZN_TRACE_ID" not in os.environ


def test_an_event_of_no_known_shape_is_an_error(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    outcome = serve_one(make_runtime(), api, {"hello": "world"})

    assert outcome.kind == "error"
    assert outcome.headers["lambda-runtime-function-error-type"] == "UnsupportedEvent"
    error = outcome.json()
    assert error["errorType"] == "UnsupportedEvent"
    assert "matches no supported shape" in error["errorMessage"]
    assert error["requestId"] == outcome.request_id
    assert error["stackTrace"]
    cause = json.loads(outcome.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "UnsupportedEvent"


@pytest.mark.parametrize(
    ("body", "headers", "error_type", "message"),
    [
        pytest.param(b"{not json", {}, "Runtime.UnmarshalError", "Unable to unmarshal input", id="event"),
        pytest.param(
            b"{}",
            {"Lambda-Runtime-Client-Context": "{broken"},
            "Runtime.LambdaContextUnmarshalError",
            "Unable to parse Lambda-Runtime-Client-Context JSON",
            id="client-context",
        ),
        pytest.param(
            b"{}",
            {"Lambda-Runtime-Cognito-Identity": "[1]"},
            "Runtime.LambdaContextUnmarshalError",
            "Lambda-Runtime-Cognito-Identity must be a JSON object, not list",
            id="cognito-identity",
        ),
    ],
)
def test_garbage_from_the_runtime_api_is_an_invocation_error(
    api: RuntimeAPI,
    make_runtime: MakeRuntime,
    body: bytes,
    headers: dict[str, str],
    error_type: str,
    message: str,
) -> None:
    outcome = serve_one(make_runtime(), api, body, headers=headers)

    assert outcome.kind == "error"
    assert outcome.json()["errorType"] == error_type
    assert message in outcome.json()["errorMessage"]
    assert outcome.json()["stackTrace"] == []


def test_the_context_carries_the_mobile_sdk_headers(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> str:
        seen.update(
            identity=(context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id),
            client=context.client_context.client.app_title,
            custom=context.client_context.custom,
            text=repr(context),
        )
        return "ok"

    headers = {
        "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"}),
        "Lambda-Runtime-Client-Context": json.dumps({"client": {"app_title": "links"}, "custom": {"a": 1}}),
    }
    outcome = serve_one(make_runtime(handler), api, {}, headers=headers)

    assert outcome.json() == "ok"
    assert seen["identity"] == ("id", "pool")
    assert seen["client"] == "links"
    assert seen["custom"] == {"a": 1}
    assert "aws_request_id=" in seen["text"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"action": "bytes"}, b"\x00raw", id="bytes"),
        pytest.param({"word": "caf\u00e9"}, None, id="json"),
    ],
)
def test_plain_handlers_run_as_the_managed_runtime_runs_them(
    api: RuntimeAPI, make_runtime: MakeRuntime, event: dict[str, Any], expected: bytes | None
) -> None:
    outcome = serve_one(make_runtime(apps.plain), api, event)

    assert outcome.kind == "response"
    if expected is not None:
        assert outcome.body == expected
        assert outcome.headers["content-type"] == "application/unknown"
    else:
        # python3.11's managed runtime escapes non-ASCII characters.
        assert b"caf\\u00e9" in outcome.body
        assert outcome.json() == {"echo": event, "request_id": outcome.request_id}


def test_python312_and_later_keep_non_ascii_characters(
    api: RuntimeAPI, make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    outcome = serve_one(make_runtime(apps.plain), api, {"word": "caf\u00e9"})

    assert "caf\u00e9".encode() in outcome.body


@pytest.mark.parametrize(
    ("event", "error_type", "message"),
    [
        pytest.param({"action": "raise"}, "KeyError", "'missing'", id="raises"),
        pytest.param(
            {"action": "unserialisable"},
            "Runtime.MarshalError",
            "Unable to marshal response: Object of type object is not JSON serializable",
            id="unserialisable",
        ),
    ],
)
def test_plain_handler_failures_are_errors(
    api: RuntimeAPI,
    make_runtime: MakeRuntime,
    caplog: pytest.LogCaptureFixture,
    event: dict[str, Any],
    error_type: str,
    message: str,
) -> None:
    outcome = serve_one(make_runtime(apps.plain), api, event)

    assert outcome.kind == "error"
    assert outcome.json()["errorType"] == error_type
    assert outcome.json()["errorMessage"] == message
    assert outcome.headers["lambda-runtime-function-error-type"] == error_type
    assert f"[ERROR] {error_type}: {message} [{outcome.request_id}]" in caplog.text


def test_non_http_events_go_to_the_adapters_triggers(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    from adapter.triggers import Triggers

    triggers = Triggers()

    @triggers.on_invoke()
    def task(payload: Any, state: Any) -> dict[str, Any]:
        return {"got": payload, "started": state.get("started")}

    outcome = serve_one(make_runtime(LambdaAdapter(apps.app, triggers=triggers)), api, {"job": 1})

    assert outcome.json() == {"got": {"job": 1}, "started": True}


def test_a_kept_alive_connection_the_server_dropped_is_opened_again(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    api.drop_connection_after_next = True

    outcome = serve_one(runtime, api, make_function_url_event(path="/hello"))

    assert outcome.json()["body"] == "hello"


def test_a_retried_answer_that_was_already_recorded_is_logged_and_the_loop_goes_on(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    # The first POST reached the Runtime API, which recorded it, and the connection dropped before its answer:
    # the retry on a new connection is refused with 403 (InvalidStateTransition), and nothing is lost.
    runtime = make_runtime()
    api.drop_connection_after_post = True
    first = serve_one(runtime, api, make_function_url_event(path="/hello"))
    assert first.json()["body"] == "hello"
    assert [entry for entry in api.log if entry[1] == first.request_id] == [("response", first.request_id)]
    assert "was retried on a new connection and answered 403: the first attempt was recorded" in caplog.text
    assert serve_one(runtime, api, make_function_url_event(path="/hello")).json()["body"] == "hello"


def test_a_refused_error_post_on_a_retry_is_logged_too(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    api.drop_connection_after_post = True
    outcome = serve_one(runtime, api, {"not": "an http event"})
    assert outcome.kind == "error"
    assert serve_one(runtime, api, make_function_url_event(path="/hello")).json()["body"] == "hello"


def test_a_runtime_api_that_refuses_a_post_is_fatal(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    outcome = api.invoke(make_function_url_event(path="/hello"))
    invocation = runtime.client.next()
    runtime.client.post_response(outcome.request_id, b'"first"')

    with pytest.raises(RuntimeAPIError, match=r"answered 403: .*InvalidStateTransition"):
        runtime.handle(invocation)


def test_a_runtime_api_that_is_gone_is_fatal(api: RuntimeAPI) -> None:
    client = RuntimeClient(api.address)
    api.shutdown_all()
    with pytest.raises(RuntimeAPIError, match="failed: ConnectionRefusedError"):
        client.next()
    client.close()


@pytest.mark.parametrize("address", ["", "localhost", "localhost:http", ":9001"])
def test_a_bad_runtime_api_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="AWS_LAMBDA_RUNTIME_API must be host:port"):
        RuntimeClient(address)


def test_a_negative_deadline_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="deadline_margin must be 0 or more"):
        Runtime(apps.plain, RuntimeClient("127.0.0.1:9"), deadline_margin=-1)


def test_errors_are_logged_with_the_request_id(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    outcome = serve_one(make_runtime(), api, make_rest_event(path="/boom"))

    assert outcome.json()["statusCode"] == 500
    # Starlette's error middleware answered 500 itself, then raised.
    assert f"Exception in ASGI application after its response was complete [{outcome.request_id}]" in caplog.text
    assert "ValueError: the handler broke" in caplog.text


def test_a_failure_after_the_answer_left_is_only_logged(
    api: RuntimeAPI, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    from adapter.runtime.loop import _Answer

    runtime = make_runtime()
    outcome = api.invoke({"job": 1})
    invocation = runtime.client.next()
    answer = _Answer(runtime, invocation.request_id)
    answer.send_result({"done": True})
    answer.fail(ValueError("too late"))  # a second answer would be refused, and end the runtime

    assert outcome.wait().json() == {"done": True}
    assert [entry for entry in api.log if entry[1] == outcome.request_id] == [("response", outcome.request_id)]
    assert f"Exception after the invocation was answered [{outcome.request_id}]" in caplog.text
