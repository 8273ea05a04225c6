"""Timing shared by the benchmarks: contenders taken in turn, the best batch of each."""

from __future__ import annotations

import time
from collections.abc import Callable


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
