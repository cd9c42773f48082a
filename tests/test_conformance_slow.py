"""Stream version 2 against the exact distributions with large samples (``pytest -m slow``).

The default suite's tests/test_conformance_stats.py at 10^7 to 10^8 samples and over the
parameter extremes: each p-value must exceed 1e-6 (fixed seeds: deterministic).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import keystream as ks
from keystream._draws import trunc_normal

pytestmark = pytest.mark.slow
stats = pytest.importorskip("scipy.stats")
ALPHA = 1e-6


def chi2_p(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), len(counts) - 1))


def pit_ks(x: np.ndarray, cdf, gen: np.random.Generator) -> float:
    """KS of the randomised probability integral transform: a value stands for the interval of
    reals that round to it (its neighbours' midpoints), so ties and rounding cells count."""
    x = np.sort(x)
    up = np.nextafter(x, np.inf)
    down = np.nextafter(x, -np.inf)
    lo, hi = cdf((x + down) / 2), cdf((x + up) / 2)
    lo = np.where(np.isneginf(x), 0.0, lo)
    hi = np.where(np.isposinf(x), 1.0, hi)
    u = lo + (hi - lo) * gen.random(x.size)
    return float(stats.kstest(u, "uniform").pvalue)


@pytest.mark.parametrize("n", [3, 5, 6])
def test_all_permutations(n):
    count = math.factorial(n) * (200 if n == 6 else 1000)
    index = {p: i for i, p in enumerate(itertools.permutations(range(n)))}
    g = ks.Generator(n + 100)
    rows = torch.stack([ks.randperm(n, generator=g) for _ in range(count)]).tolist()
    counts = np.bincount([index[tuple(r)] for r in rows], minlength=len(index))
    assert chi2_p(counts, np.full(len(index), 1 / len(index))) > ALPHA


@pytest.mark.parametrize("n", [8, 15, 16, 1000, 4096, 65537, 100_000])
def test_permutation_parity_fixed_points_and_positions(n):
    from test_conformance_stats import odd_share

    count = max(200, min(20_000, 4_000_000 // n))
    g = ks.Generator(n)
    perms = torch.stack([ks.randperm(n, generator=g) for _ in range(count)])
    share = odd_share(perms)
    assert abs(share - 0.5) < 5.3 * math.sqrt(0.25 / count)
    fixed = (perms == torch.arange(n)).sum(1).numpy()
    top = 8
    probs = np.array([stats.poisson.pmf(k, 1) for k in range(top)] + [stats.poisson.sf(top - 1, 1)])
    assert chi2_p(np.bincount(np.minimum(fixed, top), minlength=top + 1), probs / probs.sum()) > ALPHA
    first = perms[:, 0].numpy()
    cells = min(n, 64)
    counts = np.bincount(first * cells // n, minlength=cells)
    edges = (np.arange(cells + 1) * n + cells - 1) // cells
    assert chi2_p(counts, np.diff(edges) / n) > ALPHA


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (2.0, 3.0), (-3.0, -2.5), (0.0, 0.1), (-0.05, 0.2), (0.5, 0.5001),
                                 (5.0, math.inf), (-math.inf, -8.0), (-math.inf, math.inf), (-1.0, 30.0)])
def test_trunc_normal(a, b, dtype):
    n = 10_000_000 if dtype == torch.float64 else 2_000_000
    x = trunc_normal(0.0, 1.0, a, b, (n,), generator=ks.Generator(3), dtype=dtype).double().numpy()
    assert x.min() >= a and x.max() <= b
    dist = stats.truncnorm(a, b)
    if dtype == torch.float64:
        assert stats.kstest(x, dist.cdf).pvalue > ALPHA
    else:  # 16- and 32-bit: each value's rounding cell in its dtype
        assert pit_ks_cells(x, dist.cdf, dtype) > ALPHA


def pit_ks_cells(x: np.ndarray, cdf, dtype: torch.dtype) -> float:
    t = torch.from_numpy(x).to(dtype)
    up = torch.nextafter(t, torch.tensor(math.inf, dtype=dtype)).double().numpy()
    down = torch.nextafter(t, torch.tensor(-math.inf, dtype=dtype)).double().numpy()
    lo, hi = cdf((x + down) / 2), cdf((x + up) / 2)
    u = lo + (hi - lo) * np.random.default_rng(0).random(x.size)
    return float(stats.kstest(u, "uniform").pvalue)


@pytest.mark.parametrize("alpha", [1e-3, 0.01, 0.3, 0.999, 1.0, 2.5, 30.0, 1e6])
def test_standard_gamma(alpha):
    n = 4_000_000
    x = ks.standard_gamma(torch.full((n,), alpha, dtype=torch.float64), generator=ks.Generator(4)).numpy()
    assert pit_ks(x, stats.gamma(alpha).cdf, np.random.default_rng(1)) > ALPHA


@pytest.mark.parametrize("a,b", [(1e-3, 1e-3), (1e-3, 1.0), (0.5, 0.5), (2.0, 3.0), (0.01, 50.0)])
def test_beta(a, b):
    n = 2_000_000
    x = ks.beta(a, b, (n,), generator=ks.Generator(5), dtype=torch.float64).numpy()
    assert pit_ks(x, stats.beta(a, b).cdf, np.random.default_rng(2)) > ALPHA


@pytest.mark.parametrize("df", [0.01, 0.1, 1.0, 2.5, 30.0])
def test_student_t(df):
    n = 2_000_000
    x = ks.student_t(df, (n,), generator=ks.Generator(6), dtype=torch.float64).numpy()
    assert pit_ks(x, stats.t(df).cdf, np.random.default_rng(3)) > ALPHA


@pytest.mark.parametrize("count,p", [(2**40, 1e-9), (2**40, 1e-8), (2**40, 0.5), (2**34, 1e-6), (1, 0.3),
                                     (10**6, 1 - 1e-9), (1000, 0.3)])
def test_binomial_per_value(count, p):
    n = 1 << 25
    x = ks.binomial(float(count), p, (n,), generator=ks.Generator(7), dtype=torch.float64).numpy().astype(np.int64)
    mean, sd = count * p, math.sqrt(count * p * (1 - p))
    lo, hi = max(0, int(mean - 5 * sd)), min(count, int(mean + 5 * sd) + 1)
    counts = np.bincount(np.clip(x, lo, hi) - lo, minlength=hi - lo + 1)
    probs = stats.binom.pmf(np.arange(lo, hi + 1), count, p)
    probs[0], probs[-1] = stats.binom.cdf(lo, count, p), stats.binom.sf(hi - 1, count, p)
    keep = probs * n > 5
    assert chi2_p(counts[keep], probs[keep] / probs[keep].sum()) > ALPHA


@pytest.mark.parametrize("rate", [1e-6, 0.5, 9.99, 10.0, 1000.0, 1e8, 1e12])
def test_poisson_per_value(rate):
    n = 1 << 25
    x = ks.poisson(rate, (n,), generator=ks.Generator(8), dtype=torch.float64).numpy().astype(np.int64)
    sd = math.sqrt(rate)
    lo, hi = max(0, int(rate - 5 * sd)), int(rate + 5 * sd) + 2
    counts = np.bincount(np.clip(x, lo, hi) - lo, minlength=hi - lo + 1)
    probs = stats.poisson.pmf(np.arange(lo, hi + 1), rate)
    probs[0], probs[-1] = stats.poisson.cdf(lo, rate), stats.poisson.sf(hi - 1, rate)
    keep = probs * n > 5
    assert chi2_p(counts[keep], probs[keep] / probs[keep].sum()) > ALPHA


@pytest.mark.parametrize("dtype,bits", [(torch.bfloat16, 7), (torch.float16, 10)])
@pytest.mark.parametrize("low", [0.0, 1.0, -2.0])
def test_uniform_16bit_rounding_cells(dtype, bits, low):
    n = 1 << 26
    x = ks.uniform(low, low + 1.0, (n,), generator=ks.Generator(9), dtype=dtype)
    values, counts = torch.unique(x, return_counts=True)
    v = values.double().numpy()
    up = torch.nextafter(values, torch.tensor(math.inf, dtype=dtype)).double().numpy()
    down = torch.nextafter(values, torch.tensor(-math.inf, dtype=dtype)).double().numpy()
    lo_cell = np.maximum((v + down) / 2, low)
    hi_cell = np.minimum((v + up) / 2, low + 1.0)
    hi_cell[-1] = low + 1.0  # values rounding to high become the one below
    assert chi2_p(counts.numpy(), hi_cell - lo_cell) > ALPHA
