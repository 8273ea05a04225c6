"""Instructions per invocation of a tiny Starlette app for each way of driving the event loop, counted by valgrind.

Run with any Python 3.12 or later that has Starlette (asyncio.eager_task_factory is new in 3.12; on 3.11 the
eager variants are left out), for example:

    python3.12 -m venv /tmp/v312 && /tmp/v312/bin/pip install starlette
    /tmp/v312/bin/python benchmarks/bench_loop_driver.py [--invocations 1000] [--jobs 2]

Needs valgrind (Debian: valgrind). Like bench_instructions.py, each variant runs in its own interpreter under
`valgrind --tool=callgrind`, once with no invocations and once with N, and the difference divided by N is what
one invocation costs. The app, scope, receive and send are the same in every variant; what differs is how the
coroutine `app(scope, receive, send)` of each invocation is run:

- run_until_complete: `loop.run_until_complete(app(...))` on a plain event loop, the baseline.
- run_until_complete, eager: the same on a loop whose task factory is asyncio.eager_task_factory. A task starts
  eagerly only if the loop is already running when it is created, and run_until_complete() creates the task for
  the coroutine before it starts the loop, so this shows what the factory costs when it cannot help.
- Runner.run (and eager): `asyncio.Runner().run(app(...))`, with a plain loop or an eager one. Runner.run() also
  creates the task before running the loop.
- running loop, await: one `run_until_complete()` around all the invocations, each awaited in turn by a coroutine
  that stays on the running loop; no task per invocation (so no context copied for each one either).
- running loop, task: the same with a task per invocation, `await loop.create_task(app(...))`, the way to give
  each invocation its own task (and contextvars copy) on a loop that keeps running.
- running loop, eager task: that, with asyncio.eager_task_factory. An app that finishes without suspending (this
  one) completes inside create_task(), and the loop never has to go round.

The ratio column compares each variant with the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Callable, Coroutine, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The timing helpers beside this script; it runs with only the standard library and Starlette installed.
sys.path.insert(0, str(HERE.parent))

from benchmarks.timing import callgrind_instructions  # noqa: E402

EAGER = sys.version_info >= (3, 12)
VARIANTS = (
    "run_until_complete",
    *(("run_until_complete, eager",) if EAGER else ()),
    "Runner.run",
    *(("Runner.run, eager",) if EAGER else ()),
    "running loop, await",
    "running loop, task",
    *(("running loop, eager task",) if EAGER else ()),
)

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "https",
    "path": "/hello",
    "raw_path": b"/hello",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"example.com"), (b"accept", b"*/*")],
    "server": ("example.com", 443),
    "client": ("192.0.2.1", 0),
}


def make_app() -> tuple[Callable[[], Coroutine[Any, Any, None]], list[MutableMapping[str, Any]]]:
    """A function giving the coroutine of one invocation of a one-route Starlette app, and what it sent."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/hello", hello)])
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    def invocation() -> Coroutine[Any, Any, None]:
        sent.clear()
        return app(dict(SCOPE), receive, send)

    return invocation, sent


def eager_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    if sys.version_info >= (3, 12):
        loop.set_task_factory(asyncio.eager_task_factory)
    return loop


def run(variant: str, count: int) -> None:
    """Runs `count` invocations (after a warm-up) the way `variant` says."""
    invocation, sent = make_app()
    warm_up = 20

    def check() -> None:
        assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]

    if variant.startswith("running loop"):
        loop = eager_loop() if variant.endswith("eager task") else asyncio.new_event_loop()

        async def serve() -> None:
            if variant == "running loop, await":
                for _ in range(warm_up):
                    await invocation()
                check()
                for _ in range(count):
                    await invocation()
            else:
                create_task = loop.create_task
                for _ in range(warm_up):
                    await create_task(invocation())
                check()
                for _ in range(count):
                    await create_task(invocation())

        with closing(loop):
            loop.run_until_complete(serve())
        return
    if variant.startswith("Runner.run"):
        with asyncio.Runner(loop_factory=eager_loop if variant.endswith("eager") else None) as runner:
            drive(lambda: runner.run(invocation()), warm_up, count, check)
        return
    with closing(eager_loop() if variant.endswith("eager") else asyncio.new_event_loop()) as loop:
        drive(lambda: loop.run_until_complete(invocation()), warm_up, count, check)


def drive(call: Callable[[], object], warm_up: int, count: int, check: Callable[[], None]) -> None:
    for _ in range(warm_up):
        call()
    check()
    for _ in range(count):
        call()


RUNNER = """
import sys
sys.path.insert(0, {here!r})
import bench_loop_driver
bench_loop_driver.run(sys.argv[1], int(sys.argv[2]))
"""


def instructions(variant: str, count: int) -> int:
    return callgrind_instructions(RUNNER.format(here=str(HERE)), variant, str(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invocations", type=int, default=1000, help="invocations counted per variant")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="valgrind runs at a time")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    # Each variant once without valgrind first: a failure shows here with its traceback.
    for variant in VARIANTS:
        run(variant, 1)

    runs = [(variant, count) for variant in VARIANTS for count in (0, args.invocations)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        counts = dict(zip(runs, pool.map(lambda run: instructions(*run), runs), strict=True))
    per_call = {
        variant: (counts[variant, args.invocations] - counts[variant, 0]) / args.invocations for variant in VARIANTS
    }

    import starlette

    print(
        f"Python {sys.version.split()[0]}, Starlette {starlette.__version__}: instructions per invocation of a "
        f"one-route app (valgrind callgrind, {args.invocations} invocations)\n"
    )
    print(f"{'driver':<28}{'instructions':>14}{'vs run_until_complete':>24}")
    baseline = per_call["run_until_complete"]
    for variant, cost in per_call.items():
        print(f"{variant:<28}{cost:>14,.0f}{cost / baseline:>24.0%}")


if __name__ == "__main__":
    main()
