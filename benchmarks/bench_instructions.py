"""Instructions per invocation, counted by valgrind: the direct ASGI call, LambdaAdapter and Mangum.

Run: .venv/bin/python benchmarks/bench_instructions.py [--invocations 1000]

Timings on a shared machine move with its load; instruction counts do not. Each contender runs in its own
interpreter under `valgrind --tool=callgrind`, once with no invocations and once with N, and the difference
divided by N is what one invocation costs, start-up and warm-up excluded. Needs valgrind (Debian: valgrind).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNNER = """
import sys
sys.path.insert(0, {here!r})
import bench_adapter as bench
from mangum import Mangum

contender, kind, case, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
method, path, body = bench.CASES[case]
event = (bench.rest_event if kind == "REST" else bench.http_v2_event)(method, path, body)
context = bench.Context()
if contender == "direct":
    call = bench.direct_call(bench.asyncio.new_event_loop(), event)
elif contender == "ours":
    adapter = bench.LambdaAdapter(bench.app, lifespan="off")
    call = lambda: adapter(event, context)
else:
    mangum = Mangum(bench.app, lifespan="off")
    call = lambda: mangum(event, context)
for _ in range(20):
    call()
for _ in range(count):
    call()
"""


def instructions(contender: str, kind: str, case: str, count: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-c",
        RUNNER.format(here=str(HERE)),
        contender,
        kind,
        case,
        str(count),
    ]
    # A fixed hash seed: with a random one, dictionary layouts, and so the counts, change from run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stderr
    match = re.search(r"Collected : (\d+)", output)
    assert match, output
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invocations", type=int, default=1000, help="invocations counted per contender")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")

    print(f"Instructions per invocation (valgrind callgrind, {args.invocations} invocations, lifespan off)\n")
    print(
        f"{'case':<10}{'event':<9}{'direct':>10}{'ours':>10}{'Mangum':>10}{'ours-direct':>13}{'Mangum-direct':>15}{'ratio':>8}"
    )
    for case in ("hello",):
        for kind in ("REST", "HTTP v2"):
            per_call = {}
            for contender in ("direct", "ours", "mangum"):
                base = instructions(contender, kind, case, 0)
                total = instructions(contender, kind, case, args.invocations)
                per_call[contender] = (total - base) / args.invocations
            direct, ours, mangum = per_call["direct"], per_call["ours"], per_call["mangum"]
            print(
                f"{case:<10}{kind:<9}{direct:>10.0f}{ours:>10.0f}{mangum:>10.0f}"
                f"{ours - direct:>13.0f}{mangum - direct:>15.0f}{(ours - direct) / (mangum - direct):>8.0%}"
            )


if __name__ == "__main__":
    main()
