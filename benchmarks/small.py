"""Small calls: per-call time of small draws, key derivation and per-sample augmentation.

    python benchmarks/small.py [--reps 2001] [--json docs/benchmarks/small.json]

A PyTorch program makes many small calls; this measures them against their peers in one
process, timed in turns (interleaved), medians (min - max) in microseconds per call:

1. ``rand(n)`` float32 for n = 1, 16, 256, 1024, 4096, 65536: keystream with ``generator=``,
   torch with and without ``generator=``, numpy's ``Generator.random`` (JAX where it is
   installed); ``randn(n)`` for n = 1, 16, 256, 1024 against torch's.
2. Key derivation: ``fold_in`` of an int and of a str, ``spawn(1)``, ``sample_generator``.
3. A ``__getitem__`` that draws 5 scalars per sample (one ``rand(5)``, and five ``rand(())``
   each read with ``.item()``): keystream's per-sample generator, torch's global RNG, and a
   per-sample ``torch.Generator().manual_seed``.
4. ``ShuffleSampler`` over 10^9 samples: indices per second, world size 1 and 4 (the median
   of 5 runs of 2^22 indices each).
5. Every public draw, its in-place form and its ``out=`` form at 16 elements (``randperm`` of 10
   and 1,000), against torch's call of the same draw with ``generator=``: the time ratio
   keystream / torch.
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

import keystream as ks
from _timing import Report, interleaved_stats
from keystream.data import ShuffleSampler, sample_generator

SIZES = (1, 16, 256, 1024, 4096, 65536)


def _us(t: dict[str, float]) -> str:
    return f"{t['median'] * 1e6:.1f} us ({t['min'] * 1e6:.1f} - {t['max'] * 1e6:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2001)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    report = Report("small calls")
    g, tg, rng = ks.Generator(1), torch.Generator().manual_seed(1), np.random.default_rng(1)
    try:
        import jax

        jkey = jax.random.key(1)
        jax_rand = jax.jit(lambda k, n: jax.random.uniform(k, (n,)), static_argnums=1)
    except ImportError:
        jax_rand = None
    for n in SIZES:
        reps = max(51, args.reps // max(1, n // 256))
        fns = {"keystream": lambda n=n: g.rand(n), "torch generator=": lambda n=n: torch.rand(n, generator=tg),
               "torch global": lambda n=n: torch.rand(n), "numpy": lambda n=n: rng.random(n, dtype=np.float32)}
        if jax_rand is not None:
            fns["jax"] = lambda n=n: jax_rand(jkey, n).block_until_ready()
        t = interleaved_stats(fns, reps)
        mine = t.pop("keystream")
        line = f"rand({n}) f32: keystream {_us(mine)}; " + "; ".join(
            f"{peer} {_us(s)} ({s['median'] / mine['median']:.2f}x)" for peer, s in t.items())
        report.line(line, what="rand", n=n, keystream=mine, peers=t)
    for n in SIZES[:4]:
        t = interleaved_stats({"keystream": lambda n=n: g.randn(n), "torch generator=": lambda n=n: torch.randn(
            n, generator=tg)}, max(51, args.reps // max(1, n // 256)))
        mine, peer = t["keystream"], t["torch generator="]
        report.line(f"randn({n}) f32: keystream {_us(mine)}; torch generator= {_us(peer)} "
                    f"({peer['median'] / mine['median']:.2f}x)", what="randn", n=n, keystream=mine, peers=t)
    t = interleaved_stats({"fold_in(int)": lambda: g.fold_in(12345), "fold_in(str)": lambda: g.fold_in("epoch"),
                           "spawn(1)": lambda: g.spawn(1), "sample_generator": lambda: sample_generator(7, 3, 12345)},
                          args.reps // 4)
    report.line("key derivation: " + "; ".join(f"{name} {_us(s)}" for name, s in t.items()), what="keys", seconds=t)

    def keystream_item(i: int = 12345) -> float:
        s = sample_generator(7, 0, i)
        return float(s.rand(5).sum())

    def torch_global_item(i: int = 12345) -> float:
        return float(torch.rand(5).sum())

    def torch_generator_item(i: int = 12345) -> float:
        return float(torch.rand(5, generator=torch.Generator().manual_seed(i)).sum())

    t = interleaved_stats({"keystream sample_generator": keystream_item, "torch global RNG": torch_global_item,
                           "torch.Generator().manual_seed per sample": torch_generator_item}, args.reps // 4)
    report.line("per-sample item (5 scalars): " + "; ".join(
        f"{name} {_us(s)} ({1 / s['median'] / 1e3:.1f} k samples/s)" for name, s in t.items()), what="item", seconds=t)

    def keystream_scalars(i: int = 12345) -> float:
        s = sample_generator(7, 0, i)
        return sum(s.rand(()).item() for _ in range(5))

    def torch_global_scalars(i: int = 12345) -> float:
        return sum(torch.rand(()).item() for _ in range(5))

    def torch_generator_scalars(i: int = 12345) -> float:
        tg = torch.Generator().manual_seed(i)
        return sum(torch.rand((), generator=tg).item() for _ in range(5))

    t = interleaved_stats({"keystream sample_generator": keystream_scalars, "torch global RNG": torch_global_scalars,
                           "torch.Generator().manual_seed per sample": torch_generator_scalars}, args.reps // 4)
    report.line("per-sample item (5 scalar draws): " + "; ".join(
        f"{name} {_us(s)} ({1 / s['median'] / 1e3:.1f} k samples/s)" for name, s in t.items()), what="item-scalars",
        seconds=t)
    _every_draw(report, g, tg, max(201, args.reps // 2))
    for world in (1, 4):
        rates = []
        for _ in range(5):
            it = iter(ShuffleSampler(10**9, seed=1, num_replicas=world, rank=world - 1, batch_size=32))
            start = time.perf_counter()
            for _ in itertools.islice(it, 1 << 22):
                pass
            rates.append((1 << 22) / (time.perf_counter() - start))
        rates.sort()
        report.line(f"ShuffleSampler(10^9), world size {world}: {rates[2] / 1e6:.1f} M indices/s "
                    f"({rates[0] / 1e6:.1f} - {rates[-1] / 1e6:.1f})", what="sampler", world=world, rates=rates)
    report.save(args.json)


def _every_draw(report: Report, g: ks.Generator, tg: torch.Generator, reps: int) -> None:
    """Section 5: (name, keystream call, torch call) at 16 elements."""
    i64 = torch.int64
    a, b = torch.empty(16), torch.empty(16)
    ia, ib = torch.empty(16, dtype=i64), torch.empty(16, dtype=i64)
    rate, count, prob = torch.full((16,), 3.0), torch.full((16,), 10.0), torch.full((16,), 0.3)
    p16, probs = torch.full((16,), 0.5), torch.full((4,), 0.25)
    alpha = torch.full((16,), 2.0)
    calls = [
        ("rand(16)", lambda: ks.rand(16, generator=g), lambda: torch.rand(16, generator=tg)),
        ("rand(16, out=)", lambda: ks.rand(16, generator=g, out=a), lambda: torch.rand(16, generator=tg, out=b)),
        ("randn(16)", lambda: ks.randn(16, generator=g), lambda: torch.randn(16, generator=tg)),
        ("randn(16, out=)", lambda: ks.randn(16, generator=g, out=a), lambda: torch.randn(16, generator=tg, out=b)),
        ("rand(16, dtype=float64)", lambda: ks.rand(16, generator=g, dtype=torch.float64),
         lambda: torch.rand(16, generator=tg, dtype=torch.float64)),
        ("uniform_", lambda: ks.uniform_(a, generator=g), lambda: b.uniform_(generator=tg)),
        ("uniform_(-1, 1)", lambda: ks.uniform_(a, -1.0, 1.0, generator=g),
         lambda: b.uniform_(-1.0, 1.0, generator=tg)),
        ("normal_", lambda: ks.normal_(a, generator=g), lambda: b.normal_(generator=tg)),
        ("exponential_", lambda: ks.exponential_(a, generator=g), lambda: b.exponential_(generator=tg)),
        ("cauchy_", lambda: ks.cauchy_(a, generator=g), lambda: b.cauchy_(generator=tg)),
        ("log_normal_", lambda: ks.log_normal_(a, generator=g), lambda: b.log_normal_(generator=tg)),
        ("geometric_(0.3)", lambda: ks.geometric_(a, 0.3, generator=g), lambda: b.geometric_(0.3, generator=tg)),
        ("bernoulli_(0.5)", lambda: ks.bernoulli_(a, 0.5, generator=g), lambda: b.bernoulli_(0.5, generator=tg)),
        ("random_(0, 10)", lambda: ks.random_(ia, 0, 10, generator=g), lambda: ib.random_(0, 10, generator=tg)),
        ("randint(0, 10, (16,))", lambda: ks.randint(0, 10, (16,), generator=g),
         lambda: torch.randint(0, 10, (16,), generator=tg)),
        ("randint(0, 10, (16,), out=)", lambda: ks.randint(0, 10, (16,), generator=g, out=ia),
         lambda: torch.randint(0, 10, (16,), generator=tg, out=ib)),
        ("normal(0., 1., (16,))", lambda: ks.normal(0.0, 1.0, (16,), generator=g),
         lambda: torch.normal(0.0, 1.0, (16,), generator=tg)),
        ("normal(0., 1., (16,), out=)", lambda: ks.normal(0.0, 1.0, (16,), generator=g, out=a),
         lambda: torch.normal(0.0, 1.0, (16,), generator=tg, out=b)),
        ("normal(mean tensor, std tensor)", lambda: ks.normal(p16, rate, generator=g),
         lambda: torch.normal(p16, rate, generator=tg)),
        ("bernoulli(p tensor)", lambda: ks.bernoulli(p16, generator=g), lambda: torch.bernoulli(p16, generator=tg)),
        ("bernoulli(0.5, (16,))", lambda: ks.bernoulli(0.5, (16,), generator=g),
         lambda: torch.bernoulli(p16, generator=tg)),
        ("rand_like", lambda: ks.rand_like(a, generator=g), lambda: torch.rand_like(b)),
        ("randperm(10)", lambda: ks.randperm(10, generator=g), lambda: torch.randperm(10, generator=tg)),
        ("randperm(1000)", lambda: ks.randperm(1000, generator=g), lambda: torch.randperm(1000, generator=tg)),
        ("poisson(rate tensor)", lambda: ks.poisson(rate, generator=g), lambda: torch.poisson(rate, generator=tg)),
        ("binomial(count, prob)", lambda: ks.binomial(count, prob, generator=g),
         lambda: torch.binomial(count, prob, generator=tg)),
        ("standard_gamma(alpha)", lambda: ks.standard_gamma(alpha, generator=g),
         lambda: torch._standard_gamma(alpha, generator=tg)),
        ("dirichlet(4 alphas)", lambda: ks.dirichlet(probs, generator=g),
         lambda: torch._sample_dirichlet(probs, generator=tg)),
        ("multinomial(4 probs, 2)", lambda: ks.multinomial(probs, 2, generator=g),
         lambda: torch.multinomial(probs, 2, generator=tg)),
        ("multinomial(4 probs, 16, replacement)", lambda: ks.multinomial(probs, 16, replacement=True, generator=g),
         lambda: torch.multinomial(probs, 16, replacement=True, generator=tg)),
    ]
    for name, mine, peer in calls:
        t = interleaved_stats({"keystream": mine, "torch": peer}, reps)
        ratio = t["keystream"]["median"] / t["torch"]["median"]
        report.line(f"{name}: keystream {_us(t['keystream'])}; torch generator= {_us(t['torch'])}: "
                    f"{ratio:.2f}x torch's time", what="every draw", draw=name, seconds=t, ratio=ratio)


if __name__ == "__main__":
    main()
