"""The wall-clock timer every benchmark script shares."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], reps: int, warmups: int = 1) -> float:
    """Median seconds of ``reps`` calls of ``fn`` after ``warmups`` untimed calls."""
    return time_stats(fn, reps, warmups)["median"]


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


def time_stats(fn: Callable[[], object], reps: int, warmups: int = 1) -> dict[str, float]:
    """Median, min and max seconds of ``reps`` calls of ``fn`` after ``warmups`` untimed calls."""
    return interleaved_stats({"fn": fn}, reps, warmups)["fn"]


def machine() -> dict[str, object]:
    """The machine and versions a run was measured on (CPU model by name)."""
    import os
    import platform

    import numpy
    import torch

    import keystream

    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "keystream": keystream.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


class Report:
    """What a benchmark prints, also kept as JSON: each line with its numbers."""

    def __init__(self, name: str) -> None:
        self.data: dict[str, object] = {"benchmark": name, "machine": machine(), "lines": []}
        print(f"{name}: {self.data['machine']}")

    def line(self, text: str, **values: object) -> None:
        print(text)
        self.data["lines"].append({"text": text, **values})  # type: ignore[union-attr]

    def save(self, path: str | None) -> None:
        if path:
            import json

            with open(path, "w") as fh:
                json.dump(self.data, fh, indent=1)


def interleaved_stats(fns: dict[str, Callable[[], object]], reps: int, warmups: int = 1) -> dict[str, dict[str, float]]:
    """``time_stats`` of several contenders, timed in turns (A, B, C, A, B, C, ...): a
    shared machine's slow phase then falls on every contender alike, not on one."""
    for fn in fns.values():
        for _ in range(warmups):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: {"median": statistics.median(t), "min": min(t), "max": max(t)} for name, t in times.items()}
