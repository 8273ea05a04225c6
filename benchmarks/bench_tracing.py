"""Microseconds per request: a Starlette app called directly as ASGI (the floor), then with XRayMiddleware off,
on and sending every request to a UDP sink on loopback (as to the X-Ray daemon), and on with the sampler
declining every request.

Run: .venv/bin/python benchmarks/bench_tracing.py [--seconds 0.3]

Each case runs the same app and request on one event loop, with the scope built beforehand; the cases take turns
for a few rounds. Each figure is per request over a chunk of 50: the median chunk, and the best one, which is the
steadier figure on a machine that is busy with other work. A thread reads and discards what reaches the sink, so the
socket's buffer never fills, and counts it: the "on" case must have sent one document per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from adapter.tracing import XRayMiddleware  # noqa: E402
from adapter.tracing.testing import isolated_xray_recorder  # noqa: E402
from adapter.types import Message  # noqa: E402

ALWAYS = {"version": 2, "rules": [], "default": {"fixed_target": 0, "rate": 1.0}}
NEVER = {"version": 2, "rules": [], "default": {"fixed_target": 0, "rate": 0.0}}


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello " + request.path_params["code"])


def build(middleware: list[Middleware]) -> Starlette:
    app = Starlette(routes=[Route("/health", hello), Route("/links/{code}", hello)], middleware=middleware)
    app.build_middleware_stack()
    return app


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "https",
    "path": "/links/abc",
    "raw_path": b"/links/abc",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"links.example.com"), (b"user-agent", b"bench/1.0"), (b"accept", b"*/*")],
    "client": ("198.51.100.7", 0),
    "server": ("links.example.com", 443),
}


Runner = Callable[[int], Coroutine[Any, Any, None]]
CHUNK = 50


def runner(app: Starlette) -> Runner:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    async def run(requests: int) -> None:
        for _ in range(requests):
            # The app and the router write into the scope; each request gets its own, as from a server.
            await app(dict(SCOPE), receive, send)

    return run


# The sink reads in a process of its own, as the daemon does: a reader thread in this process would contend for
# the GIL with every send and add its own wait to each request.
SINK = """
import select, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
sock.bind(("127.0.0.1", 0))
print("{}:{}".format(*sock.getsockname()), flush=True)
received = 0
while True:
    ready, _, _ = select.select([sock, sys.stdin], [], [])
    if sock in ready:
        sock.recv(65536)
        received += 1
    elif sys.stdin.readline():
        # Asked for the count: read what is still queued, then answer.
        sock.setblocking(False)
        try:
            while sock.recv(65536):
                received += 1
        except BlockingIOError:
            pass
        print(received, flush=True)
        break
"""


class Sink:
    """A UDP socket on loopback, read and discarded by another process that counts the datagrams."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", SINK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        self.address = self._stdout.readline().strip()

    def close(self) -> int:
        """Stops the reader; returns how many datagrams it read."""
        self._stdin.write("count\n")
        self._stdin.flush()
        received = int(self._stdout.readline())
        self._process.wait(10)
        self._stdin.close()
        self._stdout.close()
        return received


def measure(loop: asyncio.AbstractEventLoop, runs: dict[str, Runner], seconds: float, rounds: int) -> dict[str, Any]:
    """Microseconds per request of each case, per chunk of CHUNK requests; the cases take turns so that a busy
    moment of the machine falls on all of them alike. Also counts the requests each case served."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    served = dict.fromkeys(runs, 0)
    for name, run in runs.items():
        loop.run_until_complete(run(200))  # warm up
        served[name] += 200
    for _ in range(rounds):
        for name, run in runs.items():
            ends = time.perf_counter() + seconds
            while (started := time.perf_counter()) < ends:
                loop.run_until_complete(run(CHUNK))
                timings[name].append((time.perf_counter() - started) / CHUNK * 1e6)
                served[name] += CHUNK
    return {"timings": timings, "served": served}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.05, help="time per case and round (default 0.05)")
    parser.add_argument("--rounds", type=int, default=12, help="rounds (default 12)")
    args = parser.parse_args()

    sink = Sink()
    loop = asyncio.new_event_loop()
    with isolated_xray_recorder():
        os.environ["AWS_XRAY_DAEMON_ADDRESS"] = sink.address
        # Building an app with the middleware on configures the SDK's one recorder, sampling rules included:
        # the case the sampler declines is measured after the others, against the floor again.
        sent = measure(
            loop,
            {
                "direct (floor)": runner(build([])),
                "XRayMiddleware off": runner(build([Middleware(XRayMiddleware, service="links", enabled=False)])),
                "XRayMiddleware on, sent": runner(
                    build([Middleware(XRayMiddleware, service="links", enabled=True, sampling_rules=ALWAYS)])
                ),
            },
            args.seconds,
            args.rounds,
        )
        declined = measure(
            loop,
            {
                "direct (floor)": runner(build([])),
                "XRayMiddleware on, not sampled": runner(
                    build([Middleware(XRayMiddleware, service="links", enabled=True, sampling_rules=NEVER)])
                ),
            },
            args.seconds,
            args.rounds,
        )
        del os.environ["AWS_XRAY_DAEMON_ADDRESS"]
    loop.close()
    received = sink.close()

    print(f"{'case':32} {'median µs':>10} {'ratio':>8} {'best µs':>8} {'ratio':>8}")
    for results in (sent, declined):
        timings = results["timings"]
        floor_median, floor_best = statistics.median(timings["direct (floor)"]), min(timings["direct (floor)"])
        for name, values in timings.items():
            median, best = statistics.median(values), min(values)
            print(f"{name:32} {median:10.1f} {median / floor_median:8.2f} {best:8.1f} {best / floor_best:8.2f}")
    print(f"\nsegments the sink received: {received}, requests traced: {sent['served']['XRayMiddleware on, sent']}")


if __name__ == "__main__":
    main()
