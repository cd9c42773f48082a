"""Monte Carlo benchmark: the pi estimator against raw uniform draws, and the cost of exact sums.

    python benchmarks/montecarlo.py [--samples 100000000] [--device cpu]

* pi: ``estimate(EXAMPLES["pi"].fn, N)`` (``InBall(2)``: 2 float32 uniforms per sample)
  in uniform numbers consumed per second, against the same engine's raw ``rand``
  throughput, measured in the same run two ways: fresh draws of 2^24 numbers (as in
  benchmarks/cpu.py) and fresh draws of the estimator's own chunk (2 x 2^20 numbers,
  which stay in the cache).  On the CPU the estimator runs InBall's fused C kernel;
  the same integrand as plain torch ops (the definition, no fused path) is timed too.
* exact accumulation: the estimator with its exact (integer) sums against the same run
  with a plain float64 ``torch.sum``, on a float-valued integrand (a European call) and
  on pi as torch ops (the fused kernel counts integers and has no float sum to compare);
  medians of 11 interleaved pairs.
Throughput: medians of 9 runs after 2 warm-ups, one process.  A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import keystream as ks
from _timing import Report, median_time, warm_fresh_pages
from keystream.montecarlo import EXAMPLES, _estimate, estimate


def timed(fn, reps: int = 9) -> float:
    # two warm-ups: the allocator's first large blocks are fresh pages (page faults)
    return median_time(fn, reps, warmups=2)


def plain_sums(x: torch.Tensor) -> tuple[int, int]:
    v = x.to(torch.float64)
    s = float(v.sum())
    q = float((v * v).sum())
    return int(s * 2**40) << (1074 - 40), int(q * 2**40) << (1074 - 40)  # same interface, plain float sums


PAIRS = 11


def interleaved(run) -> tuple[float, float]:
    """Median seconds of ``run`` with exact sums and with plain float64 sums, alternating
    the two so that drift of this shared machine hits both alike."""
    original = _estimate.exact_sums
    times: tuple[list[float], list[float]] = ([], [])
    try:
        for i in range(2 * PAIRS + 2):
            _estimate.exact_sums = original if i % 2 == 0 else plain_sums
            t0 = time.perf_counter()
            run()
            if i >= 2:  # one warm-up each
                times[i % 2].append(time.perf_counter() - t0)
    finally:
        _estimate.exact_sums = original
    return statistics.median(times[0]), statistics.median(times[1])


def torch_ops(fn):
    return lambda d: fn(d)  # the integrand's torch definition only (no fused path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None, help="also write the numbers as JSON")
    args = ap.parse_args()
    report = Report("montecarlo")
    n, dev = args.samples, torch.device(args.device)
    chunk = 1 << 20
    g = ks.Generator(1)

    def sixteen() -> None:
        for _ in range(16):
            g.rand(2 * chunk, device=dev)

    raw_chunk = 16 * 2 * chunk / timed(sixteen)
    if dev.type == "cpu":
        warm_fresh_pages(4 << 24)
    raw_big = (1 << 24) / median_time(lambda: g.rand(1 << 24, device=dev), 9, warmups=2)
    pi = EXAMPLES["pi"].fn
    t_pi = timed(lambda: estimate(pi, n, seed=1, device=dev, chunk_size=chunk))
    t_ops = timed(lambda: estimate(torch_ops(pi), n, seed=1, device=dev, chunk_size=chunk))
    report.line(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads, N = {n}")
    report.line(f"raw rand float32: fresh draws of 2^24: {raw_big / 1e9:.2f} G/s; of {2 * chunk} (the chunk): "
                f"{raw_chunk / 1e9:.2f} G/s", raw_2_24_per_s=raw_big, raw_chunk_per_s=raw_chunk)
    for label, t in (("pi estimator (InBall(2))", t_pi), ("pi as torch ops (no fused path)", t_ops)):
        u = 2 * n / t
        report.line(f"{label}: {n / t / 1e6:.0f} M samples/s = {u / 1e9:.2f} G uniforms/s = "
                    f"{100 * u / raw_big:.0f}% of raw (2^24), {100 * u / raw_chunk:.0f}% of raw (chunk)", seconds=t)
    for name, fn, m in (("european-call", EXAMPLES["european-call"].fn, n // 10),
                        ("pi as torch ops", torch_ops(pi), n)):
        exact, plain = interleaved(lambda fn=fn, m=m: estimate(fn, m, seed=1, device=dev, chunk_size=chunk))
        report.line(f"{name}, N = {m}: exact sums {exact:.3f} s, plain float64 sums {plain:.3f} s: "
                    f"{100 * (exact / plain - 1):+.1f}% (medians of {PAIRS} interleaved pairs)",
                    exact_s=exact, plain_s=plain)
    report.save(args.json)


if __name__ == "__main__":
    main()
