"""Records per second for a 10-record SQS batch: through LambdaAdapter's triggers, and the same handler called
directly in a loop (the floor), measured in the same run; the difference is the adapter's cost per record.

Run: .venv/bin/python benchmarks/bench_triggers.py [--seconds 0.5]

The handler parses the message body as JSON and adds to a counter: work small enough that what is measured is
the dispatch (event to typed records, the lifespan state, the event loop, threads for sync handlers, the
partial batch response), not the handler.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapter import LambdaAdapter  # noqa: E402
from adapter.triggers import SQSRecord, Triggers  # noqa: E402
from adapter.types import Receive, Scope, Send  # noqa: E402
from benchmarks.timing import measure  # noqa: E402

RECORDS = 10


class Context:
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app with a lifespan that puts a counter in the state, as an app would put its clients there."""
    assert scope["type"] == "lifespan"
    await receive()
    scope["state"]["totals"] = {"clicks": 0}
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await send({"type": "lifespan.shutdown.complete"})


def count(record: SQSRecord, state: dict[str, Any]) -> None:
    state["totals"]["clicks"] += json.loads(record.body)["n"]


async def count_async(record: SQSRecord, state: dict[str, Any]) -> None:
    state["totals"]["clicks"] += json.loads(record.body)["n"]


def sqs_event() -> dict[str, Any]:
    template = json.loads((ROOT / "tests/events/powertools-python/sqs-event.json").read_text())["Records"][0]
    records = []
    for n in range(RECORDS):
        record = copy.deepcopy(template)
        record.update(messageId=f"m-{n}", body=json.dumps({"n": 1}))
        records.append(record)
    return {"Records": records}


def direct_loop(event: dict[str, Any]) -> Callable[[], object]:
    """The hand-written handler: loop over the records, call the function, collect the failures."""
    state: dict[str, Any] = {"totals": {"clicks": 0}}

    def handler() -> dict[str, Any]:
        failures = []
        for raw in event["Records"]:
            try:
                count(SQSRecord(raw), state)
            except Exception:
                failures.append({"itemIdentifier": raw["messageId"]})
        return {"batchItemFailures": failures}

    return handler


def through_adapter(
    event: dict[str, Any], handler: Callable[..., Any], **options: Any
) -> tuple[Callable[[], object], LambdaAdapter]:
    triggers = Triggers()
    triggers.on_sqs(**options)(handler)
    adapter = LambdaAdapter(app, triggers=triggers)
    context = Context()
    adapter.startup()
    return (lambda: adapter(event, context)), adapter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per contender (default 0.5)")
    args = parser.parse_args()

    event = sqs_event()
    adapters = []
    contenders: dict[str, Callable[[], object]] = {"direct loop (sync function)": direct_loop(event)}
    for name, handler, options in (
        ("adapter, async handler, concurrency 10", count_async, {"concurrency": 10}),
        ("adapter, async handler, concurrency 1", count_async, {"concurrency": 1}),
        ("adapter, sync handler (worker threads)", count, {"concurrency": 10}),
    ):
        contenders[name], adapter = through_adapter(event, handler, **options)
        adapters.append(adapter)
    results = measure(contenders, args.seconds)
    for adapter in adapters:
        adapter.close()

    floor = results["direct loop (sync function)"]
    print(f"Python {sys.version.split()[0]}; a {RECORDS}-record SQS batch, best batch, contenders taken in turn\n")
    print(f"{'contender':<42}{'us/batch':>10}{'records/s':>12}{'vs direct':>11}{'overhead/record':>18}")
    for name, micros in results.items():
        per_record = (micros - floor) / RECORDS
        print(
            f"{name:<42}{micros:>10.1f}{RECORDS / micros * 1e6:>12,.0f}{micros / floor:>10.1f}x{per_record:>15.1f} us"
        )


if __name__ == "__main__":
    main()
