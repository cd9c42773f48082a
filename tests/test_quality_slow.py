"""Slow distribution tests: `python -m pytest -m slow` (needs scipy).

Every test uses fixed seeds and a significance level alpha = 1e-4, so with the 25 tests
below the suite's false-failure probability is below 0.25% for a correct generator, and
the seeds make the outcome reproducible.  Two-level tests (many seeds, their p-values
tested for uniformity) keep one lucky or unlucky seed from deciding.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import keystream as ks

stats = pytest.importorskip("scipy.stats")
pytestmark = pytest.mark.slow
ALPHA = 1e-4
N = 10**7


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniform_ks(dtype):
    x = ks.Generator(11).rand(N, dtype=dtype).double().numpy()
    assert stats.kstest(x, "uniform").pvalue > ALPHA


@pytest.mark.parametrize("dtype,cells", [(torch.float16, 2048), (torch.bfloat16, 256)])
def test_uniform_16bit_grid_chi_square(dtype, cells):
    x = ks.Generator(12).rand(N, dtype=dtype).double().numpy()
    counts = np.bincount((x * cells).astype(np.int64), minlength=cells)
    assert counts.size == cells and stats.chisquare(counts).pvalue > ALPHA


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normal_ks(dtype):
    x = ks.Generator(13).randn(N, dtype=dtype).double().numpy()
    assert stats.kstest(x, "norm").pvalue > ALPHA


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [4, 5, 6])
def test_normal_tails(dtype, k):
    """The frequency beyond k sigma against the exact probability (two-sided Poisson test)."""
    n = 5 * N if k == 6 else N
    g = ks.Generator(14 + k)
    obs = 0
    for _ in range(n // N):
        obs += int((ks.randn(N, generator=g, dtype=dtype).abs() > k).sum())
    expect = n * 2 * stats.norm.sf(k)
    p = 2 * min(stats.poisson.cdf(obs, expect), stats.poisson.sf(obs - 1, expect))
    assert p > ALPHA, (obs, expect)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exponential_ks(dtype):
    x = ks.Generator(15).exponential(N, dtype=dtype).double().numpy()
    assert stats.kstest(x, "expon").pvalue > ALPHA


@pytest.mark.parametrize("low,high", [(0, 7), (-50, 50), (0, 2**32 + 3), (0, 2**63 - 1), (-(2**63), 2**63 - 5)])
def test_randint_chi_square(low, high):
    x = ks.Generator(16).randint(low, high, (N,)).numpy()
    span = high - low
    cells = min(span, 128)
    if span <= 128:
        counts = np.bincount(x - low, minlength=cells)
    else:  # the top 7 bits of the offset from low (exact with Python ints for huge spans)
        off = (x.astype(np.float64) - float(low)) if span < 2**53 else None
        if off is not None:
            idx = np.minimum((off * cells / span).astype(np.int64), cells - 1)
        else:
            u = x.view(np.uint64) - np.uint64(low % 2**64)
            idx = (u // np.uint64(-(-span // cells))).astype(np.int64)
        counts = np.bincount(idx, minlength=cells)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_bernoulli_binomial():
    for p in (0.001, 0.3, 0.5):
        s = int(ks.Generator(17).bernoulli(p, (N,)).sum())
        assert stats.binomtest(s, N, p).pvalue > ALPHA


@pytest.mark.parametrize("n", [3, 5, 8])
def test_permutation_positions_and_pairwise_order(n):
    trials = 40_000
    g = ks.Generator(18)
    perms = np.stack([ks.randperm(n, generator=g).numpy() for _ in range(trials)])
    counts = np.zeros((n, n))
    for i in range(n):
        counts[i] = np.bincount(perms[:, i], minlength=n)
    chi = ((counts - trials / n) ** 2 / (trials / n)).sum()
    assert stats.chi2.sf(chi, (n - 1) ** 2) > ALPHA
    for i, j in ((0, 1), (0, n - 1), (n // 2, n - 1)):
        less = int((perms[:, i] < perms[:, j]).sum())
        assert stats.binomtest(less, trials, 0.5).pvalue > ALPHA


def test_permutation_cycle_structure():
    """Fixed points of a random permutation are Poisson(1); cycles average H_n."""
    n, trials = 1000, 2000
    g = ks.Generator(19)
    fixed, cycles = [], []
    for _ in range(trials):
        p = ks.randperm(n, generator=g).numpy()
        fixed.append(int((p == np.arange(n)).sum()))
        seen, c = np.zeros(n, bool), 0
        for s in range(n):
            if not seen[s]:
                c += 1
                while not seen[s]:
                    seen[s] = True
                    s = p[s]
        cycles.append(c)
    f = np.bincount(fixed, minlength=6)[:6]
    expected = trials * np.array([math.exp(-1) / math.factorial(k) for k in range(6)])
    rest = trials - f.sum()
    chi = ((f - expected) ** 2 / expected).sum() + (rest - (trials - expected.sum())) ** 2 / (trials - expected.sum())
    assert stats.chi2.sf(chi, 6) > ALPHA
    h = sum(1 / k for k in range(1, n + 1))
    var = h - sum(1 / k**2 for k in range(1, n + 1))
    z = (np.mean(cycles) - h) / math.sqrt(var / trials)
    assert 2 * stats.norm.sf(abs(z)) > ALPHA


@pytest.mark.parametrize("draw", ["rand", "randn", "exponential"])
def test_two_level_many_seeds(draw):
    """KS p-values of 200 seeds (10^5 samples each) are themselves uniform."""
    dist = {"rand": "uniform", "randn": "norm", "exponential": "expon"}[draw]
    ps = [stats.kstest(getattr(ks.Generator(seed), draw)(100_000).double().numpy(), dist).pvalue for seed in range(200)]
    assert stats.kstest(ps, "uniform").pvalue > ALPHA


def test_two_level_fold_in_children():
    """Sibling streams from fold_in: each child's KS p-value, over 200 children, is uniform."""
    root = ks.Generator(20)
    ps = [stats.kstest(root.fold_in(i).rand(50_000).double().numpy(), "uniform").pvalue for i in range(200)]
    assert stats.kstest(ps, "uniform").pvalue > ALPHA
