"""Instructions per invocation, counted by valgrind: the direct ASGI call, LambdaAdapter and Mangum.

Run: .venv/bin/python benchmarks/bench_instructions.py [--invocations 1000] [--cases hello query-0 query-100]
     [--jobs 2]

Timings on a shared machine move with its load; instruction counts do not. Each contender runs in its own
interpreter under `valgrind --tool=callgrind`, once with no invocations and once with N, and the difference
divided by N is what one invocation costs, start-up and warm-up excluded. Needs valgrind (Debian: valgrind).

Every case is the hello route of benchmarks/bench_adapter.py, on a REST API (payload 1.0) event and on an
HTTP API payload 2.0 event. `headers-N` adds N headers to the ten the event already has; `query-N` gives it N
query parameters (`paramI=valueI`, nothing to escape) in the form API Gateway delivers them: decoded in
queryStringParameters and multiValueQueryStringParameters for payload 1.0, as rawQueryString (plus the decoded
queryStringParameters) for payload 2.0. The summary line gives the cost of one more header or query parameter,
from the slope between the smallest and the largest of those cases that ran. The valgrind runs are independent,
so `--jobs` runs that many at a time (the counts do not depend on it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bench_adapter as bench  # noqa: E402
from benchmarks.timing import callgrind_instructions  # noqa: E402

HEADER_COUNTS = (10, 50, 100)
QUERY_COUNTS = (0, 10, 50, 100)
CASES = ("hello", *(f"headers-{n}" for n in HEADER_COUNTS), *(f"query-{n}" for n in QUERY_COUNTS))
KINDS = ("REST", "HTTP v2")
CONTENDERS = ("direct", "ours", "mangum")


def build_event(kind: str, case: str) -> dict[str, Any]:
    """The event of one case: the hello event of `kind`, with the case's extra headers or query parameters."""
    method, path, body = bench.CASES["hello"]
    event: dict[str, Any] = (bench.rest_event if kind == "REST" else bench.http_v2_event)(method, path, body)
    what, _, count_text = case.partition("-")
    count = int(count_text) if count_text else 0
    if what == "headers":
        extra = {f"X-Bench-Header-{i}": f"value-{i}" for i in range(count)}
        if kind == "REST":
            event["headers"].update(extra)
            event["multiValueHeaders"].update({name: [value] for name, value in extra.items()})
        else:
            event["headers"].update({name.lower(): value for name, value in extra.items()})
    elif what == "query" and count:
        parameters = {f"param{i}": f"value{i}" for i in range(count)}
        if kind == "REST":
            event["queryStringParameters"] = parameters
            event["multiValueQueryStringParameters"] = {key: [value] for key, value in parameters.items()}
        else:
            event["rawQueryString"] = "&".join(f"{key}={value}" for key, value in parameters.items())
            event["queryStringParameters"] = parameters
    return event


RUNNER = """
import sys
sys.path.insert(0, {root!r})
from benchmarks import bench_instructions
bench = bench_instructions.bench
from mangum import Mangum

contender, kind, case, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
event = bench_instructions.build_event(kind, case)
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
    assert call() is not None
for _ in range(count):
    call()
"""


def instructions(contender: str, kind: str, case: str, count: int) -> int:
    return callgrind_instructions(RUNNER.format(root=str(ROOT)), contender, kind, case, str(count))


def slope(per_call: dict[tuple[str, str], dict[str, float]], kind: str, low: str, high: str, span: int) -> str:
    ours = (per_call[high, kind]["ours"] - per_call[low, kind]["ours"]) / span
    mangum = (per_call[high, kind]["mangum"] - per_call[low, kind]["mangum"]) / span
    return f"ours {ours:,.0f}, Mangum {mangum:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invocations", type=int, default=1000, help="invocations counted per contender")
    parser.add_argument(
        "--cases", nargs="+", choices=CASES, default=list(CASES), metavar="CASE", help=f"any of {', '.join(CASES)}"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="valgrind runs at a time")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    cases = [case for case in CASES if case in args.cases]

    runs = [
        (contender, kind, case, count)
        for case in cases
        for kind in KINDS
        for contender in CONTENDERS
        for count in (0, args.invocations)
    ]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        counts = dict(zip(runs, pool.map(lambda run: instructions(*run), runs), strict=True))

    print(f"Instructions per invocation (valgrind callgrind, {args.invocations} invocations, lifespan off)\n")
    print(
        f"{'case':<13}{'event':<9}{'direct':>10}{'ours':>10}{'Mangum':>10}"
        f"{'ours-direct':>13}{'Mangum-direct':>15}{'ratio':>8}"
    )
    per_call: dict[tuple[str, str], dict[str, float]] = {}
    for case in cases:
        for kind in KINDS:
            per_call[case, kind] = row = {
                contender: (counts[contender, kind, case, args.invocations] - counts[contender, kind, case, 0])
                / args.invocations
                for contender in CONTENDERS
            }
            direct, ours, mangum = row["direct"], row["ours"], row["mangum"]
            print(
                f"{case:<13}{kind:<9}{direct:>10.0f}{ours:>10.0f}{mangum:>10.0f}"
                f"{ours - direct:>13.0f}{mangum - direct:>15.0f}{(ours - direct) / (mangum - direct):>8.0%}"
            )

    series = {
        "header": [(0, "hello"), *((n, f"headers-{n}") for n in HEADER_COUNTS)],
        "query parameter": [(n, f"query-{n}") for n in QUERY_COUNTS],
    }
    for what, points in series.items():
        ran = [(n, case) for n, case in points if case in cases]
        if len(ran) < 2:
            continue
        (low_n, low), (high_n, high) = ran[0], ran[-1]
        print(f"\nInstructions per added {what} ({low} to {high}):")
        for kind in KINDS:
            print(f"  {kind:<9}{slope(per_call, kind, low, high, high_n - low_n)}")


if __name__ == "__main__":
    main()
