"""Requests per second on a hello route: through `python -m adapter serve` (REST format, stage live) against
uvicorn serving the same app directly, in one run; and through `serve --stream` (a Function URL in RESPONSE_STREAM
mode, the app under adapter.runtime) against the buffered `serve`.

Run: .venv/bin/python benchmarks/bench_serve.py [--seconds 2] [--connections 4]

Both servers run in their own process on a loopback port; a few client threads with keep-alive connections
send GET requests for the given time, the servers taken in turn, round after round; the best round counts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.dynamodb_local import free_port  # noqa: E402

APP = "tests.adapter.local.handlers"


def start(command: list[str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).text == "hello":
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command} did not answer on {url}")


def requests_per_second(url: str, seconds: float, connections: int) -> float:
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        with httpx.Client() as http:
            while time.perf_counter() < deadline:
                http.get(url).raise_for_status()
                counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round per server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    serve_port, uvicorn_port, stream_port = free_port(), free_port(), free_port()
    servers = {
        "uvicorn": (
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{APP}:app",
                "--port",
                str(uvicorn_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            f"http://127.0.0.1:{uvicorn_port}/hello",
        ),
        "serve": (
            # The log lines go to /dev/null, as the app's own would.
            [sys.executable, "-m", "adapter", "serve", f"{APP}.handler", "--port", str(serve_port)],
            f"http://127.0.0.1:{serve_port}/live/hello",
        ),
        "serve --stream": (
            [
                *(sys.executable, "-m", "adapter", "serve", f"{APP}.handler"),
                *("--port", str(stream_port), "--format", "function-url", "--stream"),
            ],
            f"http://127.0.0.1:{stream_port}/hello",
        ),
    }
    processes = [start(command, url) for command, url in servers.values()]
    try:
        best = dict.fromkeys(servers, 0.0)
        for _ in range(args.rounds):
            for name, (_, url) in servers.items():
                best[name] = max(best[name], requests_per_second(url, args.seconds, args.connections))
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    for name, rate in best.items():
        print(f"{name:14} {rate:8.0f} requests/s")
    print(f"serve / uvicorn: {best['serve'] / best['uvicorn']:.2f} (target: at least 0.5)")
    print(f"serve --stream / serve: {best['serve --stream'] / best['serve']:.2f}")


if __name__ == "__main__":
    main()
