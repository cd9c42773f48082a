"""Monte Carlo benchmark: the pi estimator against raw uniform draws, and the cost of exact sums.

    python benchmarks/montecarlo.py [--samples 100000000] [--device cpu]

* pi: ``estimate(pi_integrand, N)`` (2 float32 uniforms per sample) in uniform numbers
  consumed per second, against the same engine's raw ``rand`` throughput: fresh draws of
  the estimator's chunk size (what the estimator does) and of 2^24 numbers.
* exact accumulation: the estimator with its exact (integer) sums against the same run
  with a plain float64 ``torch.sum``, on a float-valued integrand (a European call) and on pi.
Medians of 7 runs after 2 warm-ups, one process.
"""
from __future__ import annotations

import argparse

import torch
from _timing import median_time

import keystream as ks
from keystream.montecarlo import EXAMPLES, estimate
from keystream.montecarlo import _estimate


def timed(fn, reps: int = 7) -> float:
    # two warm-ups: the allocator's first large blocks are fresh pages (page faults)
    return median_time(fn, reps, warmups=2)


def plain_sums(x: torch.Tensor) -> tuple[int, int]:
    v = x.to(torch.float64)
    s = float(v.sum())
    q = float((v * v).sum())
    return int(s * 2**40) << (1074 - 40), int(q * 2**40) << (1074 - 40)  # same interface, plain float sums


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000_000)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    n, dev = args.samples, torch.device(args.device)
    chunk = 1 << 20
    g = ks.Generator(1)
    def sixteen() -> None:
        for _ in range(16):
            g.rand(2 * chunk, device=dev)

    raw_chunk = 16 * 2 * chunk / timed(sixteen)
    for _ in range(4):  # the allocator's first blocks of 64 MiB are fresh pages: warm it up
        g.rand(1 << 24, device=dev)
    raw_big = (1 << 24) / timed(lambda: g.rand(1 << 24, device=dev))
    t_pi = timed(lambda: estimate(EXAMPLES["pi"].fn, n, seed=1, device=dev, chunk_size=chunk))
    pi_uniforms = 2 * n / t_pi
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads, N = {n}")
    print(f"raw rand float32, fresh draws of {2 * chunk}: {raw_chunk / 1e9:.2f} G/s; of 2^24: {raw_big / 1e9:.2f} G/s")
    print(f"pi estimator: {n / t_pi / 1e6:.0f} M samples/s = {pi_uniforms / 1e9:.2f} G uniforms/s = "
          f"{100 * pi_uniforms / raw_chunk:.0f}% of raw (same draw size), {100 * pi_uniforms / raw_big:.0f}% of raw (2^24)")
    for name, m in (("european-call", n // 10), ("pi", n)):
        exact = timed(lambda: estimate(EXAMPLES[name].fn, m, seed=1, device=dev, chunk_size=chunk))
        original = _estimate.exact_sums
        _estimate.exact_sums = plain_sums
        try:
            plain = timed(lambda: estimate(EXAMPLES[name].fn, m, seed=1, device=dev, chunk_size=chunk))
        finally:
            _estimate.exact_sums = original
        print(f"{name}, N = {m}: exact sums {exact:.3f} s, plain float64 sums {plain:.3f} s: "
              f"{100 * (exact / plain - 1):+.1f}%")


if __name__ == "__main__":
    main()
