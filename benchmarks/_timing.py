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


def warm_fresh_pages(nbytes: int, times: int = 16) -> None:
    """Allocate and fill ``nbytes`` ``times`` times before timing anything.

    The first dozen fresh 64 MiB outputs of a process fault their pages in several
    times slower than later ones (measured here: 0.2-1 G floats/s, then 2.7), and every
    draw of 2^24 elements gets fresh pages: warm the allocator and the kernel up for
    every contender alike.
    """
    import torch

    for _ in range(times):
        torch.empty(nbytes, dtype=torch.uint8).fill_(0)
