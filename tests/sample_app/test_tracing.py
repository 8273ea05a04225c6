"""The sample app's traces, as the X-Ray daemon would receive them on a loopback UDP socket: under uvicorn, and
through `sample_app.handler.handler` in a fresh interpreter with the environment Lambda sets (as a cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.tracing.testing import DaemonSink, assemble, isolated_xray_recorder, walk
from sample_app.app import create_app
from sample_app.settings import Settings
from tests.conftest import load_event
from tests.sample_app.conftest import serve

ROOTS = [f"1-6a5145a8-{n:024x}" for n in range(1, 4)]
PARENTS = [f"{n:016x}" for n in range(1, 4)]
SECRETS = ("s3cr3t-cookie", "s3cr3t-token", "example.com/private")


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonSink]:
    with isolated_xray_recorder(), DaemonSink() as sink:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", sink.address)
        yield sink


def dynamodb_calls(entity: dict[str, Any]) -> list[dict[str, Any]]:
    return [child for child in walk(entity) if child is not entity and child["name"] == "dynamodb"]


def by_trace(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {document["trace_id"]: document for document in assemble(documents)}


def test_under_uvicorn_each_request_is_a_segment_with_its_dynamodb_calls(
    sink: DaemonSink, links_settings: Settings
) -> None:
    with serve(create_app(links_settings)) as url, httpx.Client(base_url=url) as client:

        def traced(n: int) -> dict[str, str]:
            return {"X-Amzn-Trace-Id": f"Root={ROOTS[n]};Parent={PARENTS[n]};Sampled=1"}

        created = client.post("/links", json={"url": "https://example.com/private", "code": "trace"}, headers=traced(0))
        found = client.get("/links/trace", headers={**traced(1), "Cookie": "session=s3cr3t-cookie"})
        missing = client.get("/links/nope", headers={**traced(2), "Authorization": "Bearer s3cr3t-token"})
    segments = by_trace(sink.receive(3, timeout=10))

    assert [created.status_code, found.status_code, missing.status_code] == [201, 200, 404]
    assert [response.headers["X-Amzn-Trace-Id"] for response in (created, found, missing)] == [
        f"Root={root}" for root in ROOTS
    ]
    create, get, not_found = (segments[root] for root in ROOTS)
    assert [segment["parent_id"] for segment in (create, get, not_found)] == PARENTS
    assert create["annotations"] == {"method": "POST", "route": "/links", "status": 201}
    assert get["annotations"] == {"method": "GET", "route": "/links/{code}", "status": 200}
    assert not_found["annotations"] == {"method": "GET", "route": "/links/{code}", "status": 404}
    assert not_found["error"] is True
    assert get["http"]["request"]["url"] == f"{url}/links/trace"
    for segment in (create, get, not_found):
        calls = dynamodb_calls(segment)
        assert calls, segment
        assert {call["aws"]["table_name"] for call in calls} == {links_settings.links_table}
        assert all(call["parent_id"] == segment["id"] for call in calls)
        assert not any(secret in json.dumps(segment) for secret in SECRETS[:2])
    assert [call["aws"]["operation"] for call in dynamodb_calls(get)] == ["GetItem"]


# The same requests through the Lambda handler, in a fresh interpreter: the environment is set before the app is
# imported, as Lambda sets it before its init phase, and the trace header changes before each invocation.
LAMBDA_SCRIPT = """
import json, os, sys
from tests.conftest import LambdaContextStub
from sample_app.handler import handler

invocations = json.load(sys.stdin)
responses = []
for number, invocation in enumerate(invocations):
    os.environ["_X_AMZN_TRACE_ID"] = invocation["trace"]
    context = LambdaContextStub(aws_request_id=f"request-{number}")
    responses.append(handler(invocation["event"], context))
handler.close()
with open(sys.argv[1], "w") as results:
    json.dump(responses, results)
"""


def rest_event(method: str, path: str, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) event on the stage `live`."""
    event = load_event("voker/rest-v1-live-encoding-probe.json")
    event_headers = {"Host": event["headers"]["Host"], "User-Agent": "probe/1.0", **headers}
    if body is not None:
        event_headers["Content-Type"] = "application/json"
    event.update(
        path=path,
        httpMethod=method,
        headers=event_headers,
        multiValueHeaders={key: [value] for key, value in event_headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        pathParameters={"proxy": path.lstrip("/")},
        body=None if body is None else json.dumps(body),
        isBase64Encoded=False,
    )
    event["requestContext"].update(path=f"/live{path}", httpMethod=method)
    return event


LAMBDA_REQUESTS = [
    rest_event("POST", "/links", {"url": "https://example.com/private", "code": "trace"}),
    rest_event("GET", "/links/trace", Cookie="session=s3cr3t-cookie"),
    rest_event("GET", "/links/nope", Authorization="Bearer s3cr3t-token"),
]


def run_in_lambda(
    settings: Settings, tmp_path: Path, events: list[dict[str, Any]], **environ: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Invokes `sample_app.handler.handler` once per event, each in a trace of its own (ROOTS, PARENTS);
    returns the responses and the lines the process wrote to standard output (its logs)."""
    invocations = [
        {"event": event, "trace": f"Root={ROOTS[n]};Parent={PARENTS[n]};Sampled=1"} for n, event in enumerate(events)
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_LAMBDA_", "_X_AMZN"))}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME="links",
        LAMBDA_TASK_ROOT=str(Path.cwd()),
        DYNAMODB_ENDPOINT_URL=settings.dynamodb_endpoint_url or "",
        LINKS_TABLE=settings.links_table,
        AWS_REGION=settings.aws_region,
        **environ,
    )
    results = tmp_path / "responses.json"
    process = subprocess.run(
        [sys.executable, "-c", LAMBDA_SCRIPT, str(results)],
        input=json.dumps(invocations),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    responses: list[dict[str, Any]] = json.loads(results.read_text())
    return responses, process.stdout.splitlines()


def test_in_lambda_each_invocation_is_a_subsegment_of_its_trace(
    sink: DaemonSink, links_settings: Settings, tmp_path: Path
) -> None:
    responses, _ = run_in_lambda(links_settings, tmp_path, LAMBDA_REQUESTS, AWS_XRAY_DAEMON_ADDRESS=sink.address)
    documents = sink.receive(timeout=10, quiet=0.5)
    requests = by_trace(documents)

    assert [response["statusCode"] for response in responses] == [201, 200, 404]
    # The lifespan startup's call to DynamoDB, made during init outside any invocation, is not traced.
    assert sorted(requests) == ROOTS
    for root, parent in zip(ROOTS, PARENTS, strict=True):
        request = requests[root]
        assert (request["type"], request["name"], request["parent_id"]) == ("subsegment", "links", parent)
        calls = dynamodb_calls(request)
        assert calls and all(call["trace_id"] == root for call in calls)
        assert all(call["parent_id"] == request["id"] for call in calls)
        assert {call["aws"]["table_name"] for call in calls} == {links_settings.links_table}
        assert not any(secret in json.dumps(request) for secret in SECRETS[:2])
    get = requests[ROOTS[1]]
    assert get["http"]["request"] == {
        "method": "GET",
        "url": "https://5h7pqvr9u4.execute-api.us-west-2.amazonaws.com/live/links/trace",
        "client_ip": "68.8.83.18",
        "user_agent": "probe/1.0",
    }
    assert get["annotations"] == {"method": "GET", "route": "/links/{code}", "status": 200}
    assert requests[ROOTS[2]]["error"] is True
    assert requests[ROOTS[2]]["annotations"]["status"] == 404
