"""Invocations per second through adapter.runtime and through awslambdaric (the managed Python runtime's loop)
calling the same LambdaAdapter, and the time to first byte of a streamed response.

Run: .venv/bin/python benchmarks/bench_runtime.py [--seconds 10] [--batch 200]

Each runtime runs in a process of its own against a Runtime API emulator of its own (tests/adapter/runtime/emulator.py,
a threading HTTP server in this process), serving the same app and the same Function URL event. Batches of
invocations are queued at once and timed until the last outcome has arrived, the contenders taken in turn; the
best batch of each counts. The emulator's own cost is in both figures, so the ratio understates the difference
between the two loops.

Time to first byte: a server-sent events route sends one event, works for 200 ms, sends another. Streamed, the
client has its first event after the first; buffered (either runtime), only once the whole response is done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from adapter import LambdaAdapter  # noqa: E402

WORK_SECONDS = 0.2


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def feed(request: Request) -> Response:
    async def events() -> AsyncIterator[str]:
        yield "data: first\n\n"
        await asyncio.sleep(WORK_SECONDS)
        yield "data: second\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/hello", hello), Route("/feed", feed)])
handler = LambdaAdapter(app)


@contextmanager
def runtime(command: list[str], **environ: str) -> Iterator[object]:
    """An emulator, and the runtime `command` starts against it; yields the emulator."""
    from tests.adapter.runtime.emulator import running

    with running() as api:
        env = {
            **os.environ,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'benchmarks'}",
            "ADAPTER_RUNTIME_GRACEFUL_SHUTDOWN": "false",
            **environ,
        }
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield api
        finally:
            process.kill()
            process.wait()


def batch_seconds(api: object, event: dict[str, object], size: int) -> float:
    from tests.adapter.runtime.emulator import RuntimeAPI

    assert isinstance(api, RuntimeAPI)
    started = time.perf_counter()
    outcomes = [api.invoke(event) for _ in range(size)]
    for outcome in outcomes:
        outcome.wait(60)
        assert outcome.kind == "response", outcome.body
    return time.perf_counter() - started


def first_byte(api: object, event: dict[str, object]) -> tuple[float, float]:
    """Seconds from queuing the invocation to its first body byte at the emulator, and to its last."""
    from tests.adapter.runtime.emulator import RuntimeAPI

    assert isinstance(api, RuntimeAPI)
    started = time.perf_counter()
    outcome = api.invoke(event)
    while not any(b"data: first" in chunk for chunk in outcome.chunks) and not outcome.done.is_set():
        time.sleep(0.0002)
    first = time.perf_counter() - started
    outcome.wait(60)
    return first, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to take turns (default 10)")
    parser.add_argument("--batch", type=int, default=200, help="invocations per batch (default 200)")
    args = parser.parse_args()

    from tests.adapter.builders import make_function_url_event

    hello_event = make_function_url_event(path="/hello")
    feed_event = make_function_url_event(path="/feed")
    ours = [sys.executable, "-m", "adapter.runtime", "bench_runtime.handler"]
    theirs = [sys.executable, "-m", "awslambdaric", "bench_runtime.handler"]

    with ExitStack() as stack:
        contenders = {
            "awslambdaric + LambdaAdapter": stack.enter_context(runtime(theirs)),
            "adapter.runtime (buffered)": stack.enter_context(runtime(ours)),
        }
        for api in contenders.values():
            batch_seconds(api, hello_event, 20)  # warm: imports done, lifespan started
        best = dict.fromkeys(contenders, float("inf"))
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            for name, api in contenders.items():
                best[name] = min(best[name], batch_seconds(api, hello_event, args.batch))

        streamed = stack.enter_context(runtime(ours, ADAPTER_RUNTIME_STREAM="true"))
        ttfb: dict[str, list[tuple[float, float]]] = {
            "awslambdaric + LambdaAdapter": [],
            "adapter.runtime (buffered)": [],
            "adapter.runtime (streamed)": [],
        }
        apis = {**contenders, "adapter.runtime (streamed)": streamed}
        for _ in range(5):
            for name, api in apis.items():
                ttfb[name].append(first_byte(api, feed_event))

    print(f"Python {sys.version.split()[0]}; {args.batch} invocations a batch, best batch, contenders in turn\n")
    baseline = args.batch / best["awslambdaric + LambdaAdapter"]
    print(f"{'runtime':<32}{'invocations/s':>15}{'vs awslambdaric':>18}")
    for name, seconds in best.items():
        rate = args.batch / seconds
        print(f"{name:<32}{rate:>15.0f}{rate / baseline:>17.2f}x")
    print(f"\nTime to first event of a response that works {WORK_SECONDS * 1000:.0f} ms between two (best of 5):")
    print(f"{'runtime':<32}{'first byte ms':>15}{'last byte ms':>15}")
    for name, samples in ttfb.items():
        first = min(sample[0] for sample in samples)
        last = min(sample[1] for sample in samples)
        print(f"{name:<32}{first * 1000:>15.1f}{last * 1000:>15.1f}")


if __name__ == "__main__":
    main()
