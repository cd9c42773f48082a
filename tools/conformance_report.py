"""Measure the statistics stream version 2 fixed, for keystream's two stream versions and torch,
against the exact distributions (scipy), and print a Markdown table (docs/quality.md).

    python tools/conformance_report.py [--scale K]   # K multiplies every sample size (default 1)

Each row is one statistic at one parameter; the columns are the p-value (or the measured
share against the exact one) for stream version 1, stream version 2 and torch's own draw.
"""
from __future__ import annotations

import argparse
import itertools
import math

import numpy as np
import torch
from scipy import stats

import keystream as ks
from keystream._torch._draws import trunc_normal


def chi2_p(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), len(counts) - 1))


def perms(draw, n: int, count: int) -> np.ndarray:
    return np.stack([draw(n) for _ in range(count)])


def odd_share(p: np.ndarray) -> float:
    n = p.shape[1]
    label = np.broadcast_to(np.arange(n), p.shape).copy()
    step = p.copy()
    for _ in range(max(1, (n - 1).bit_length()) + 1):
        label = np.minimum(label, np.take_along_axis(label, step, 1))
        step = np.take_along_axis(step, step, 1)
    cycles = (label == np.arange(n)).sum(1)
    return float(((n - cycles) % 2).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1)
    k = parser.parse_args().scale
    torch.manual_seed(0)
    gens = {v: ks.Generator(2026, stream_version=v) for v in (1, 2)}
    rows = []

    def row(name: str, exact: str, f) -> None:  # f(source) -> str, source in (1, 2, "torch")
        def cell(src):
            try:
                return f(src)
            except (RuntimeError, ValueError) as err:
                return f"raises ({str(err).splitlines()[0][:40]})"
        rows.append((name, exact, cell(1), cell(2), cell("torch")))

    def randperm(src):
        if src == "torch":
            return lambda n: torch.randperm(n).numpy()
        return lambda n: ks.randperm(n, generator=gens[src]).numpy()

    for n, count in ((16, 4000 * k), (4096, 2000 * k), (100_003, 200 * k)):
        row(f"randperm({n}): odd share, {count} permutations", "0.5",
            lambda s, n=n, count=count: f"{odd_share(perms(randperm(s), n, count)):.3f}")
    index = {p: i for i, p in enumerate(itertools.permutations(range(5)))}
    count = 120 * 400 * k

    def all_five(s):
        rows5 = perms(randperm(s), 5, count)
        c = np.bincount([index[tuple(r)] for r in rows5.tolist()], minlength=120)
        return f"p = {chi2_p(c, np.full(120, 1 / 120)):.2g}"

    row(f"randperm(5): chi-square over the 120 permutations, {count} draws", "p uniform", all_five)
    n = (1 << 18) * k
    for a, b in ((2.0, 3.0), (-3.0, -2.5), (0.0, 0.1), (5.0, math.inf)):
        def tn(s, a=a, b=b):
            if s == "torch":
                x = torch.nn.init.trunc_normal_(torch.empty(n, dtype=torch.float64), 0.0, 1.0, a, b).numpy()
            else:
                x = trunc_normal(0.0, 1.0, a, b, (n,), generator=gens[s], dtype=torch.float64).numpy()
            bound = np.mean((x == a) | (x == b))
            return f"KS p = {stats.kstest(x, stats.truncnorm(a, b).cdf).pvalue:.2g}, bounds {bound:.3f}"
        row(f"trunc_normal on [{a}, {b}], {n} draws", "p uniform, bounds 0", tn)
    for dtype, bits in ((torch.bfloat16, 7), (torch.float16, 10)):
        m = 1 << bits
        probs = np.full(m, 1.0 / m)
        probs[0], probs[-1] = 0.5 / m, 1.5 / m

        def flat(s, dtype=dtype, m=m, probs=probs):
            x = (torch.empty(n, dtype=dtype).uniform_(1.0, 2.0) if s == "torch"
                 else ks.uniform(1.0, 2.0, (n,), generator=gens[s], dtype=dtype)).double()
            return f"p = {chi2_p(np.bincount(((x - 1) * m).round().long().numpy(), minlength=m), probs):.2g}"
        row(f"uniform(1, 2) {str(dtype)[6:]}: chi-square over the values, {n} draws", "p uniform", flat)
    alpha = 1e-3
    p_zero = math.exp(alpha * -1075 * math.log(2) - math.lgamma(1 + alpha))

    def zero(s):
        a = torch.full((n,), alpha, dtype=torch.float64)
        x = torch._standard_gamma(a) if s == "torch" else ks.standard_gamma(a, generator=gens[s])
        return f"{float((x == 0).double().mean()):.4f}"
    row(f"standard_gamma(1e-3) float64: P(x = 0), {n} draws", f"{p_zero:.4f}", zero)

    def half(s):
        if s == "torch":
            x = torch.distributions.Beta(torch.tensor(1e-3, dtype=torch.float64),
                                         torch.tensor(1e-3, dtype=torch.float64)).sample((n,))
        else:
            x = ks.beta(1e-3, 1e-3, (n,), generator=gens[s], dtype=torch.float64)
        return f"{float((x == 0.5).double().mean()):.4f}"
    row(f"beta(1e-3, 1e-3): P(x = 0.5), {n} draws", "0", half)
    p_inf = math.exp(0.005 * (-620 * math.log(10) - math.log(2)) - math.lgamma(1.005))

    def inf(s):
        x = (torch.distributions.StudentT(torch.tensor(0.01, dtype=torch.float64)).sample((n,)) if s == "torch"
             else ks.student_t(0.01, (n,), generator=gens[s], dtype=torch.float64))
        return f"{float(x.isinf().double().mean()):.4f}"
    row(f"student_t(0.01): P(|x| = inf), {n} draws", f"{p_inf:.4f}", inf)
    nb = (1 << 22) * k
    for count_, p in ((2**40, 1e-9), (2**40, 1e-8)):
        def binom(s, count_=count_, p=p):
            if s == "torch":
                x = torch.binomial(torch.full((nb,), float(count_), dtype=torch.float64),
                                   torch.full((nb,), p, dtype=torch.float64))
            else:
                x = ks.binomial(float(count_), p, (nb,), generator=gens[s], dtype=torch.float64)
            x = x.numpy().astype(np.int64)
            mean = count_ * p
            lo, hi = int(mean - 5 * math.sqrt(mean)), int(mean + 5 * math.sqrt(mean))
            c = np.bincount(np.clip(x, lo, hi) - lo, minlength=hi - lo + 1)
            pr = stats.binom.pmf(np.arange(lo, hi + 1), count_, p)
            pr[0], pr[-1] = stats.binom.cdf(lo, count_, p), stats.binom.sf(hi - 1, count_, p)
            return f"p = {chi2_p(c, pr / pr.sum()):.2g}"
        row(f"binomial(2^40, {p}): chi-square per value, {nb} draws", "p uniform", binom)
    print("| statistic | exact | stream version 1 | stream version 2 | torch |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
