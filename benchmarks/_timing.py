"""The wall-clock timer every benchmark script shares."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], reps: int, warmups: int = 1) -> float:
    """Median seconds of ``reps`` calls of ``fn`` after ``warmups`` untimed calls."""
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
