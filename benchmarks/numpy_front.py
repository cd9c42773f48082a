"""keystream.numpy against numpy's default_rng (PCG64), in one process and one run.

    python benchmarks/numpy_front.py [--n 16777216] [--reps 9] [--json docs/benchmarks/numpy_front.json]

For float64 ``random`` and ``standard_normal`` (and float32, integers, exponential): the
median over ``--reps`` timed calls (after one warm-up) of a fresh array of N elements,
keystream.numpy and numpy timed in turns, as G elements/s with one thread
(``torch.set_num_threads(1)``: numpy draws on one thread) and with all threads, and the
ratio keystream / numpy from the same run; then the per-call time of small calls (size
None, 16, 1024).  Also numpy's own distributions on ``KeystreamBitGenerator`` against
PCG64.  A benchmark, not a test: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import keystream.numpy as ksnp
from _timing import Report, interleaved_stats, warm_fresh_pages


def _rate(n: int, t: dict[str, float]) -> str:
    return f"{n / t['median'] / 1e9:.3f} G/s ({n / t['max'] / 1e9:.3f} - {n / t['min'] / 1e9:.3f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--small-reps", type=int, default=2001)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.n
    report = Report("keystream.numpy against numpy")
    warm_fresh_pages(n * 8)
    ks_rng, np_rng = ksnp.default_rng(1), np.random.default_rng(1)
    draws = {
        "random f64": (lambda: ks_rng.random(n), lambda: np_rng.random(n)),
        "standard_normal f64": (lambda: ks_rng.standard_normal(n), lambda: np_rng.standard_normal(n)),
        "random f32": (lambda: ks_rng.random(n, np.float32), lambda: np_rng.random(n, np.float32)),
        "standard_normal f32": (lambda: ks_rng.standard_normal(n, np.float32),
                                lambda: np_rng.standard_normal(n, np.float32)),
        "integers [0, 1000)": (lambda: ks_rng.integers(0, 1000, n), lambda: np_rng.integers(0, 1000, n)),
        "standard_exponential": (lambda: ks_rng.standard_exponential(n), lambda: np_rng.standard_exponential(n)),
    }
    all_threads = torch.get_num_threads()
    for threads in (1, all_threads) if all_threads > 1 else (1,):
        torch.set_num_threads(threads)
        for name, (k, p) in draws.items():
            t = interleaved_stats({"keystream": k, "numpy": p}, args.reps)
            ratio = t["numpy"]["median"] / t["keystream"]["median"]
            report.line(f"{name}, {threads} thread(s): keystream.numpy {_rate(n, t['keystream'])}, "
                        f"numpy {_rate(n, t['numpy'])}: {ratio:.2f}x numpy", draw=name, threads=threads,
                        ratio=ratio, keystream=t["keystream"], numpy=t["numpy"], n=n)
    torch.set_num_threads(all_threads)
    for size in (None, 16, 1024):
        t = interleaved_stats({"keystream": lambda s=size: ks_rng.random(s), "numpy": lambda s=size: np_rng.random(s)},
                              args.small_reps)
        report.line(f"random({size}) per call: keystream.numpy {t['keystream']['median'] * 1e6:.2f} us, numpy "
                    f"{t['numpy']['median'] * 1e6:.2f} us", draw=f"random({size})", keystream=t["keystream"],
                    numpy=t["numpy"])
    m = 1 << 20
    on_ks, on_pcg = np.random.Generator(ksnp.bit_generator(1)), np.random.default_rng(1)
    for name, fn in (("standard_normal", lambda r: r.standard_normal(m)), ("random", lambda r: r.random(m)),
                     ("integers", lambda r: r.integers(0, 1000, m))):
        t = interleaved_stats({"keystream": lambda f=fn: f(on_ks), "pcg64": lambda f=fn: f(on_pcg)}, args.reps)
        report.line(f"numpy's {name} on KeystreamBitGenerator {_rate(m, t['keystream'])}, on PCG64 "
                    f"{_rate(m, t['pcg64'])}", draw=f"bitgen {name}", keystream=t["keystream"], pcg64=t["pcg64"])
    report.save(args.json)


if __name__ == "__main__":
    main()
