"""keystream.jax against jax.random (threefry), in one process and one run.

    python benchmarks/jax_front.py [--n 4194304] [--reps 9] [--json docs/benchmarks/jax_front.json]

Under ``jax.jit``, with the key passed as an argument: float32 uniform and normal arrays of
N elements, keystream.jax (``rand``, ``randn``, ``uniform``) and ``jax.random`` (``uniform``,
``normal``, threefry keys) timed in turns, and ``standard_gamma`` / ``beta`` against
``jax.random.gamma`` / ``beta`` for N / 16 elements; medians (min - max) and the ratio to JAX from the
same run.  Then the per-call time of a jitted 1024-element draw, and of an eager one.  A
benchmark, not a test: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import keystream.jax as ksj
from _timing import Report, interleaved_stats


def _ms(t: dict[str, float]) -> str:
    return f"{t['median'] * 1e3:.2f} ms ({t['min'] * 1e3:.2f} - {t['max'] * 1e3:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 22)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.n
    report = Report("keystream.jax against jax.random")
    report.data["jax"] = jax.__version__
    kk = jnp.asarray(np.array([1234, 0], dtype=np.uint32))
    jk = jax.random.key(1234)
    pairs = {
        "uniform f32": (jax.jit(lambda k: ksj.rand(k, n)), jax.jit(lambda k: jax.random.uniform(k, (n,)))),
        "normal f32": (jax.jit(lambda k: ksj.randn(k, n)), jax.jit(lambda k: jax.random.normal(k, (n,)))),
        "uniform(-2, 3) f32": (jax.jit(lambda k: ksj.uniform(k, n, low=-2.0, high=3.0)),
                               jax.jit(lambda k: jax.random.uniform(k, (n,), minval=-2.0, maxval=3.0))),
    }
    m = n // 16  # (the gamma family: 12 normals and 13 exponentials an element)
    gammas = {
        "standard_gamma(2.5) f32": (jax.jit(lambda k: ksj.standard_gamma(k, 2.5, (m,))),
                                    jax.jit(lambda k: jax.random.gamma(k, 2.5, (m,)))),
        "beta(0.5, 0.5) f32": (jax.jit(lambda k: ksj.beta(k, 0.5, 0.5, (m,))),
                               jax.jit(lambda k: jax.random.beta(k, 0.5, 0.5, (m,)))),
    }
    runs = [(name, ours, theirs, n) for name, (ours, theirs) in pairs.items()]
    runs += [(name, ours, theirs, m) for name, (ours, theirs) in gammas.items()]
    for name, ours, theirs, size in runs:
        t = interleaved_stats({"keystream": lambda f=ours: f(kk).block_until_ready(),
                               "jax": lambda f=theirs: f(jk).block_until_ready()}, args.reps)
        ratio = t["jax"]["median"] / t["keystream"]["median"]
        report.line(f"{name}, jit, n = {size}: keystream.jax {_ms(t['keystream'])}, jax.random {_ms(t['jax'])}: "
                    f"{ratio:.2f}x jax.random", draw=name, n=size, ratio=ratio, keystream=t["keystream"],
                    jax=t["jax"])
    small_ours, small_theirs = jax.jit(lambda k: ksj.randn(k, 1024)), jax.jit(lambda k: jax.random.normal(k, (1024,)))
    t = interleaved_stats({"keystream": lambda: small_ours(kk).block_until_ready(),
                           "jax": lambda: small_theirs(jk).block_until_ready()}, 201)
    report.line(f"normal(1024) jitted per call: keystream.jax {t['keystream']['median'] * 1e6:.1f} us, jax.random "
                f"{t['jax']['median'] * 1e6:.1f} us", draw="normal(1024) jit", keystream=t["keystream"], jax=t["jax"])
    t = interleaved_stats({"keystream": lambda: ksj.randn(kk, 1024).block_until_ready(),
                           "jax": lambda: jax.random.normal(jk, (1024,)).block_until_ready()}, 51)
    report.line(f"normal(1024) eager per call: keystream.jax {t['keystream']['median'] * 1e6:.1f} us, jax.random "
                f"{t['jax']['median'] * 1e6:.1f} us", draw="normal(1024) eager", keystream=t["keystream"],
                jax=t["jax"])
    report.save(args.json)


if __name__ == "__main__":
    main()
