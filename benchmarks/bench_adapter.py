"""Microseconds per invocation: the direct ASGI call (the floor), LambdaAdapter, and Mangum.

Run: .venv/bin/python benchmarks/bench_adapter.py [--seconds 0.3]

Each case runs the same Starlette app on the same event. "direct" calls the app on the same kind of event
loop with a scope built beforehand, so what it leaves out is exactly the event-to-scope and response-to-dict
translation (and, for Mangum in its default mode, the lifespan it runs on every invocation).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import logging
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mangum import Mangum  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from adapter import LambdaAdapter  # noqa: E402
from adapter.sources import detect  # noqa: E402
from adapter.types import Message  # noqa: E402
from benchmarks.timing import measure  # noqa: E402

EVENTS = ROOT / "tests" / "events"
BINARY = bytes(range(256)) * 4096  # 1 MiB


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def echo_json(request: Request) -> Response:
    data = await request.json()
    return JSONResponse({"items": len(data["items"])})


async def binary(request: Request) -> Response:
    return Response(BINARY, media_type="application/octet-stream")


app = Starlette(routes=[Route("/hello", hello), Route("/json", echo_json, methods=["POST"]), Route("/binary", binary)])


PAYLOAD = json.dumps({"items": [{"id": i, "name": f"item-{i:05d}", "tags": ["a", "b"]} for i in range(2400)]})
CASES: dict[str, tuple[str, str, bytes | None]] = {
    "hello": ("GET", "/hello", None),
    "100 KB JSON body": ("POST", "/json", PAYLOAD.encode()),
    "1 MB binary response": ("GET", "/binary", None),
}


class Context:
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def rest_event(method: str, path: str, body: bytes | None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "voker/rest-v1-live-encoding-probe.json").read_text())
    event.update(httpMethod=method, path=path, multiValueQueryStringParameters=None, queryStringParameters=None)
    event["body"] = base64.b64encode(body).decode() if body else None
    event["isBase64Encoded"] = bool(body)
    return event


def http_v2_event(method: str, path: str, body: bytes | None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "voker/http-v2-live-encoding-probe.json").read_text())
    event.update(rawPath=path, rawQueryString="", queryStringParameters=None)
    event["requestContext"]["http"].update(method=method, path=path)
    event["body"] = base64.b64encode(body).decode() if body else None
    event["isBase64Encoded"] = bool(body)
    return event


def direct_call(loop: asyncio.AbstractEventLoop, event: dict[str, Any]) -> Callable[[], object]:
    """The floor: the app on a prebuilt scope, with the smallest receive and send that collect a response."""
    source = detect(event)
    scope, body = source.to_request(event, Context(), LambdaAdapter(app, lifespan="off").config)

    async def call() -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        return sent

    return lambda: loop.run_until_complete(call())


def import_cost_ms(module: str, runs: int) -> float:
    """Median milliseconds to import `module` in a fresh interpreter that has already imported Starlette."""
    code = (
        "import starlette.applications, time; t = time.perf_counter(); "
        f"import {module}; print((time.perf_counter() - t) * 1000)"
    )
    # Bytecode is written on the first run and read after, as in a deployment artifact that ships it.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, capture_output=True)
    samples = [
        float(subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, capture_output=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.3, help="time budget per measurement (default 0.3)")
    args = parser.parse_args()
    logging.getLogger("mangum").setLevel(logging.WARNING)

    loop = asyncio.new_event_loop()
    ours = LambdaAdapter(app)
    mangum_off = Mangum(app, lifespan="off")
    mangum_auto = Mangum(app)
    context = Context()
    # Mangum declares every attribute of the Lambda context object; the two it reads are here.
    mangum_context: Any = context

    print(f"Python {sys.version.split()[0]}; microseconds per invocation (best batch, contenders taken in turn)\n")
    header = f"{'case':<24}{'event':<9}{'direct':>9}{'ours':>9}{'Mangum off':>12}{'Mangum auto':>13}"
    header += f"{'ours-direct':>13}{'Mangum off-direct':>19}{'ours/Mangum overhead':>22}"
    print(header)
    for label, (method, path, body) in CASES.items():
        for kind, build in (("REST", rest_event), ("HTTP v2", http_v2_event)):
            event = build(method, path, body)
            assert ours(copy.deepcopy(event), context)["statusCode"] == 200
            assert mangum_off(copy.deepcopy(event), mangum_context)["statusCode"] == 200
            timings = measure(
                {
                    "direct": direct_call(loop, event),
                    "ours": partial(ours, event, context),
                    "mangum_off": partial(mangum_off, event, mangum_context),
                    "mangum_auto": partial(mangum_auto, event, mangum_context),
                },
                args.seconds,
            )
            direct, our, m_off, m_auto = timings.values()
            ratio = (our - direct) / (m_off - direct) if m_off > direct else float("nan")
            print(
                f"{label:<24}{kind:<9}{direct:>9.1f}{our:>9.1f}{m_off:>12.1f}{m_auto:>13.1f}"
                f"{our - direct:>13.1f}{m_off - direct:>19.1f}{ratio:>21.0%}"
            )
    ours.close()
    loop.close()

    runs = 15
    print(f"\nImport cost on top of Starlette, median of {runs} fresh interpreters (ms):")
    print(f"  adapter {import_cost_ms('adapter', runs):.1f}    mangum {import_cost_ms('mangum', runs):.1f}")


if __name__ == "__main__":
    main()
