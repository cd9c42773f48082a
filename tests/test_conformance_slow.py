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
from keystream._torch._draws import trunc_normal

pytestmark = pytest.mark.slow
stats = pytest.importorskip("scipy.stats")
ALPHA = 1e-6


def chi2_p(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), len(counts) - 1))


def pit_ks(x: np.ndarray, cdf, gen: np.random.Generator) -> float:
    """KS of the randomised probability integral transform: a value stands for the interval of
    reals that round to it (its neighbours' midpoints), so ties and rounding cells count.
    Where a midpoint is not representable (subnormals), the neighbour itself bounds the cell;
    +-inf stand for everything beyond the largest finite value."""
    x = np.sort(x)
    big = np.finfo(np.float64).max
    up = np.nextafter(x, np.inf)
    down = np.nextafter(x, -np.inf)
    with np.errstate(invalid="ignore", over="ignore"):  # (+-inf: handled below)
        mid_up, mid_down = x + (up - x) / 2, x - (x - down) / 2
    mid_up = np.where(mid_up == x, up, mid_up)
    mid_down = np.where(mid_down == x, down, mid_down)
    with np.errstate(invalid="ignore"):
        lo, hi = cdf(mid_down), cdf(mid_up)
    lo = np.where(np.isposinf(x), cdf(big), np.where(np.isneginf(x), 0.0, lo))
    hi = np.where(np.isneginf(x), cdf(-big), np.where(np.isposinf(x), 1.0, hi))
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
    # (the bounds as the dtype rounds them: a value clamped to b rounds to b's nearest)
    assert x.min() >= float(torch.tensor(a).to(dtype)) and x.max() <= float(torch.tensor(b).to(dtype))
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


def student_t_cdf(df: float):
    """Student's t cdf, exact in the far tails where scipy's loses it for tiny df: for |t| >
    1e100, P(T > |t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), and for such tiny x,
    I_x(a, b) = x^a / (a B(a, b)) (1 + O(x)), taken in logs (x underflows)."""
    from scipy.special import betaln

    a = df / 2
    exact = stats.t(df).cdf

    def cdf(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        far = np.abs(t) > 1e100
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            ln_x = math.log(df) - 2 * np.log(np.abs(np.where(far, t, 1e100)))
            tail = 0.5 * np.exp(a * ln_x - math.log(a) - betaln(a, 0.5))
        return np.where(far, np.where(t > 0, 1 - tail, tail), exact(np.where(far, 0.0, t)))

    return cdf


@pytest.mark.parametrize("df", [0.01, 0.1, 1.0, 2.5, 30.0])
def test_student_t(df):
    n = 2_000_000
    x = ks.student_t(df, (n,), generator=ks.Generator(6), dtype=torch.float64).numpy()
    assert pit_ks(x, student_t_cdf(df), np.random.default_rng(3)) > ALPHA


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


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("low", [0.0, 1.0, -2.0])
def test_uniform_16bit_per_value(dtype, low):
    """Every value of uniform(low, low + 1) in a 16-bit dtype against its exact probability
    under the definition (the 2^24 float32 uniforms, each rounded once: near 0 the dtype's grid
    is finer than the uniforms', so the continuous rounding cells are not the law there; on
    [1, 2), where they are, tests/test_conformance_stats.py compares with them)."""
    n = 1 << 26
    x = ks.uniform(low, low + 1.0, (n,), generator=ks.Generator(9), dtype=dtype)
    grid = torch.arange(1 << 24, dtype=torch.float32) * 2.0**-24
    exact = (torch.tensor(low, dtype=torch.float32) + grid).to(dtype)  # span 1: low + 1 * u, rounded once
    below = torch.tensor(low + 1.0, dtype=dtype).nextafter(torch.tensor(-math.inf, dtype=dtype))
    exact = torch.where(exact >= low + 1.0, below, exact)
    values, probs = torch.unique(exact, return_counts=True)
    got = torch.bucketize(x, values)
    assert bool((values[got] == x).all())  # no value outside the definition's
    counts = torch.bincount(got, minlength=values.numel()).numpy()
    p = probs.double().numpy() / (1 << 24)
    keep = p * n > 5
    assert chi2_p(counts[keep], p[keep] / p[keep].sum()) > ALPHA
