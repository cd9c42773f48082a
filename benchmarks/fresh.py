"""Large draws into fresh outputs, with and without the huge-page advice, and under contention.

    python benchmarks/fresh.py [--reps 9] [--json docs/benchmarks/fresh.json]

2^24 elements, 2 threads, a new output every call (the page faults of fresh memory are part
of the cost, as in real programs):

1. randint int64 (against ``torch.randint``), uniform float64 (against numpy's SFC64
   ``Generator.random``), float64 exponential (against numpy's ``standard_exponential``),
   and 32-bit bits against float32 uniforms (G words per second): keystream with the
   huge-page advice (``madvise(MADV_HUGEPAGE)`` before the first write) and without.
2. With another CPU-bound process running: keystream's ``rand(2^24, out=)`` on 1 and on 2
   threads.
3. After a torch operation: ``rand(2^24, out=)`` right after a torch ``mul_`` of 2^24 elements
   (torch's OpenMP workers keep spinning for a while after it) against the same draw after a
   pause, and torch's ``uniform_`` the same way (only the draw timed).
4. First calls: in a new process (``import keystream`` done, nothing drawn), the first
   ``rand(2^24)`` and ``randn(2^24)`` against the median of the next 9 calls, into an ``out=``
   whose pages are already touched and then into fresh outputs, and the same for
   ``torch.rand`` / ``torch.randn`` in processes of their own (medians of 5 processes).

One process, timed in turns, medians with min - max.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import torch

import keystream as ks
from _timing import Report, interleaved_stats, warm_fresh_pages
from keystream._engines import _cpu

N = 1 << 24


def _ms(t: dict[str, float]) -> str:
    return f"{t['median'] * 1e3:.1f} ms ({t['min'] * 1e3:.1f} - {t['max'] * 1e3:.1f})"


def advised(fn, on: bool):  # type: ignore[no-untyped-def]
    def run() -> object:
        _cpu.HUGEPAGE_ADVICE = on
        try:
            return fn()
        finally:
            _cpu.HUGEPAGE_ADVICE = True
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    report = Report("fresh outputs")
    g, tg = ks.Generator(1), torch.Generator().manual_seed(1)
    sfc = np.random.Generator(np.random.SFC64(1))
    pcg = np.random.default_rng(1)
    warm_fresh_pages(N * 8)
    cases = {
        "randint int64": (lambda: g.randint(0, 1000, (N,)), "torch.randint",
                          lambda: torch.randint(0, 1000, (N,), generator=tg)),
        "uniform float64": (lambda: g.rand(N, dtype=torch.float64), "numpy SFC64 random", lambda: sfc.random(N)),
        "exponential float64": (lambda: g.exponential(N, dtype=torch.float64), "numpy standard_exponential",
                                lambda: pcg.standard_exponential(N)),
        "bits uint32": (lambda: g.bits(N), "keystream rand float32", lambda: g.rand(N)),
    }
    for name, (mine, peer_name, peer) in cases.items():
        t = interleaved_stats({"advice": advised(mine, True), "no advice": advised(mine, False), peer_name: peer},
                              args.reps)
        best = min(("advice", "no advice"), key=lambda k: t[k]["median"])
        report.line(f"{name}, fresh 2^24: keystream with the huge-page advice {_ms(t['advice'])}, without "
                    f"{_ms(t['no advice'])}; {peer_name} {_ms(t[peer_name])}: keystream ({best}) "
                    f"{t[peer_name]['median'] / t[best]['median']:.2f}x as fast",
                    case=name, seconds=t, ratio=t[peer_name]["median"] / t[best]["median"], faster=best)
    out = torch.empty(N)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        def threads(n: int):  # type: ignore[no-untyped-def]
            def run() -> object:
                torch.set_num_threads(n)
                try:
                    return g.rand(N, out=out)
                finally:
                    torch.set_num_threads(2)
            return run

        t = interleaved_stats({"1 thread": threads(1), "2 threads": threads(2)}, args.reps)
    finally:
        busy.kill()
        busy.wait()
    report.line(f"rand(2^24, out=) with a competing CPU-bound process: 1 thread {_ms(t['1 thread'])}, 2 threads "
                f"{_ms(t['2 threads'])}: 2 threads {t['1 thread']['median'] / t['2 threads']['median']:.2f}x the "
                "speed of 1", case="contended", seconds=t)
    x = torch.ones(N)
    out.fill_(0.0)
    mine, peer = (lambda: g.rand(N, out=out)), (lambda: out.uniform_(generator=tg))
    t = _after_torch({"alone": (None, mine), "after": (lambda: x.mul_(1.0), mine),
                      "torch alone": (None, peer), "torch after": (lambda: x.mul_(1.0), peer)}, args.reps)
    report.line(f"rand(2^24, out=) right after a torch mul_: {_ms(t['after'])}, alone {_ms(t['alone'])} "
                f"({t['after']['median'] / t['alone']['median']:.2f}x); torch uniform_ {_ms(t['torch after'])}, "
                f"alone {_ms(t['torch alone'])} ({t['torch after']['median'] / t['torch alone']['median']:.2f}x)",
                case="after torch", seconds=t)
    for draw in ("rand", "randn"):
        runs = {"keystream": _first_call("keystream", draw), "torch": _first_call("torch", draw)}
        for where in ("into out", "fresh"):
            mine, peer = runs["keystream"][where], runs["torch"][where]
            report.line(f"first {draw}(2^24) {where} in a new process: keystream {mine['first'] * 1e3:.1f} ms, then "
                        f"{mine['steady'] * 1e3:.1f} ms ({mine['first'] / mine['steady']:.2f}x); torch "
                        f"{peer['first'] * 1e3:.1f} ms, then {peer['steady'] * 1e3:.1f} ms "
                        f"({peer['first'] / peer['steady']:.2f}x)", case=f"first {draw} {where}", keystream=mine,
                        torch=peer)
    report.save(args.json)


def _after_torch(cases: dict[str, tuple[object, object]], reps: int) -> dict[str, dict[str, float]]:
    """Seconds of each case's call (only the call), right after its ``before`` (None: after a
    pause of 0.5 s, so that no torch worker is spinning), timed in turns: median, min, max."""
    import statistics
    import time

    times: dict[str, list[float]] = {name: [] for name in cases}
    for rep in range(reps + 1):
        for name, (before, call) in cases.items():
            if before is None:
                time.sleep(0.5)
            else:
                before()  # type: ignore[operator]
            t0 = time.perf_counter()
            call()  # type: ignore[operator]
            if rep:  # (the first round warms up)
                times[name].append(time.perf_counter() - t0)
    return {name: {"median": statistics.median(v), "min": min(v), "max": max(v)} for name, v in times.items()}


FIRST_CHILD = r"""
import json, statistics, sys, time, torch
import keystream as ks
lib, draw = sys.argv[1], sys.argv[2]
torch.set_num_threads(2)
g = ks.Generator(1) if lib == "keystream" else torch.Generator().manual_seed(1)
fn = getattr(g if lib == "keystream" else torch, draw)
out = torch.zeros(1 << 24)  # (its pages already touched)
kw = {} if lib == "keystream" else {"generator": g}
result = {}
for name, call in (("into out", lambda: fn(1 << 24, out=out, **kw)), ("fresh", lambda: fn(1 << 24, **kw))):
    times = []
    for _ in range(10):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    result[name] = {"first": times[0], "steady": statistics.median(times[1:])}
print(json.dumps(result))
"""


def _first_call(lib: str, draw: str) -> dict[str, dict[str, float]]:
    """The first and the steady-state seconds of ``draw(2^24)`` in a new process, into a
    touched ``out=`` and then into fresh outputs (medians of 5 processes)."""
    import json
    import statistics

    runs = []
    for _ in range(5):
        r = subprocess.run([sys.executable, "-c", FIRST_CHILD, lib, draw], capture_output=True, text=True, check=True)
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return {where: {k: statistics.median(run[where][k] for run in runs) for k in ("first", "steady")}
            for where in runs[0]}


if __name__ == "__main__":
    main()
