"""The README's "Lambda runtime mode" blocks, run: the apps served by adapter.runtime against the Runtime API
emulator, the command line and `run()` in processes of their own, the SAM snippet against template.yaml.

tests/test_readme.py checks that the README's blocks are these, character for character.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from adapter.runtime import Runtime
from adapter.runtime.client import RuntimeClient
from tests.adapter.builders import make_function_url_event
from tests.adapter.runtime.emulator import RuntimeAPI, running
from tests.template.cfn import STREAM_FUNCTION, load_template, properties

ROOT = Path(__file__).parents[3]

SECTION = "Lambda runtime mode: streaming, work after the response, graceful shutdown"

SNIPPETS: dict[str, list[str]] = {
    "yaml": [
        """\
Environment:
  Variables:
    AWS_LAMBDA_EXEC_WRAPPER: /var/task/adapter/runtime/bootstrap
    ADAPTER_RUNTIME_STREAM: "true"
FunctionUrlConfig:
  AuthType: NONE
  InvokeMode: RESPONSE_STREAM
""",
    ],
    "sh": [
        """\
python -m adapter.runtime sample_app.handler.handler
""",
    ],
    "python": [
        r"""
from adapter.runtime import run

run("sample_app.handler.handler", stream=True, deadline_margin=1.0)
""",
        r"""
import asyncio

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from adapter import LambdaAdapter


async def ticks(request):
    async def events():
        for n in range(3):
            yield f"data: tick {n}\n\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/ticks", ticks)])
handler = LambdaAdapter(app)
""",
        r"""
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapter import LambdaAdapter
from adapter.runtime import after_response

sent = []


def send_receipt(order_id: str) -> None:
    sent.append(order_id)


async def flush_metrics() -> None:
    pass


async def create_order(request):
    after_response(flush_metrics)
    return JSONResponse({"id": "o-1"}, status_code=201, background=BackgroundTask(send_receipt, "o-1"))


app = Starlette(routes=[Route("/orders", create_order, methods=["POST"])])
handler = LambdaAdapter(app)
""",
    ],
}
YAML, SHELL = SNIPPETS["yaml"][0], SNIPPETS["sh"][0]
RUN, TICKS, ORDERS = SNIPPETS["python"]


def served(snippet: str, event: dict[str, Any], **options: Any) -> tuple[dict[str, Any], Any]:
    """Runs the snippet, then serves one event with its handler through the runtime; returns the snippet's
    namespace and the outcome."""
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "<readme>", "exec"), namespace)
    with running() as api:
        runtime = Runtime(namespace["handler"], RuntimeClient(api.address), **options)
        try:
            outcome = api.invoke(event)
            runtime.handle(runtime.client.next())
            outcome.wait()
        finally:
            runtime.shutdown()
    return namespace, outcome


def test_the_ticks_stream() -> None:
    _, outcome = served(TICKS, make_function_url_event(path="/ticks"), stream=True)

    prelude, _, body = outcome.body.partition(b"\0" * 8)
    assert json.loads(prelude)["headers"]["content-type"] == "text/event-stream; charset=utf-8"
    assert body == b"data: tick 0\n\ndata: tick 1\n\ndata: tick 2\n\n"
    assert outcome.chunks[1:] == [b"data: tick 0\n\n", b"data: tick 1\n\n", b"data: tick 2\n\n"]


def test_the_order_is_answered_then_its_receipt_sent() -> None:
    namespace, outcome = served(ORDERS, make_function_url_event(path="/orders", method="POST"))

    assert outcome.json()["statusCode"] == 201
    assert namespace["sent"] == ["o-1"]


def test_the_sam_snippet_is_the_streaming_functions_settings() -> None:
    snippet = yaml.safe_load(YAML)
    function = properties(load_template(), STREAM_FUNCTION)
    variables = function["Environment"]["Variables"]
    assert {name: variables[name] for name in snippet["Environment"]["Variables"]} == snippet["Environment"][
        "Variables"
    ]
    assert function["FunctionUrlConfig"] == snippet["FunctionUrlConfig"]


def serve_until_sigterm(command: list[str], api: RuntimeAPI) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT)}
    environ["ADAPTER_RUNTIME_GRACEFUL_SHUTDOWN"] = "false"
    process = subprocess.Popen(command, env=environ, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        outcome = api.invoke(make_function_url_event(path="/health"))
        outcome.wait(60)
        with api.condition:
            api.condition.wait_for(lambda: api.log.count(("next", None)) == 2, timeout=20)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
            process.communicate()
    assert outcome.kind == "response", output
    return subprocess.CompletedProcess(command, process.returncode, output)


def test_the_command_line_and_run_serve_the_sample_app(dynamodb_local: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", dynamodb_local)
    monkeypatch.setenv("LINKS_TABLE", "readme")
    for command in (
        ["sh", "-c", "exec " + SHELL.replace("python ", f"{sys.executable} ", 1)],
        [sys.executable, "-c", RUN],
    ):
        with running() as api:
            result = serve_until_sigterm(command, api)
        assert result.returncode == 0, result.stdout
