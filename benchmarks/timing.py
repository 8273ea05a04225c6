"""Timing shared by the benchmarks: contenders taken in turn, the best batch of each; and instruction counts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable


def callgrind_instructions(code: str, *args: str) -> int:
    """The instructions `python -c code args...` executes under valgrind's callgrind, start-up included."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code, *args]
    # A fixed hash seed: with a random one, dictionary layouts, and so the counts, change from run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stderr
    match = re.search(r"Collected : (\d+)", output)
    assert match, output
    return int(match.group(1))


def measure(contenders: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Microseconds per call for each contender: the best of many short batches, taken in turn.

    Taking the contenders in turn, batch after batch, exposes them to the same background load; the best
    batch is the figure least disturbed by other processes on a shared machine.
    """
    batch = {}
    for name, fn in contenders.items():
        fn()
        start = time.perf_counter()
        calls = 0
        while time.perf_counter() - start < 0.005:
            fn()
            calls += 1
        batch[name] = max(1, calls)
    best = dict.fromkeys(contenders, float("inf"))
    deadline = time.perf_counter() + seconds * len(contenders)
    rounds = 0
    while rounds < 5 or time.perf_counter() < deadline:
        rounds += 1
        for name, fn in contenders.items():
            n = batch[name]
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter_ns() - t0) / n / 1000)
    return best
