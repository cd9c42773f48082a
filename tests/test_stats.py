"""Cheap statistical sanity checks with fixed keys.

Each check uses a critical value whose false-failure probability is at most
1e-6 for a correct generator, so with fixed seeds the suite is deterministic and
an unlucky stream would have to be astronomically unlucky.  The heavy evidence
(KS at 10^7, tails, two-level tests) lives in the slow suite.
"""
from __future__ import annotations

import math

import pytest
import torch

import keystream as ks

N = 1 << 20


def chi2_critical(dof: int, z: float = 4.753) -> float:
    """Wilson-Hilferty upper quantile of chi-square; z = 4.753 is the 1e-6 normal quantile."""
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def ks_critical(n: int, alpha: float = 1e-6) -> float:
    return math.sqrt(-math.log(alpha / 2) / 2) / math.sqrt(n)


def chi2(counts: torch.Tensor, expected: torch.Tensor) -> float:
    return float(((counts.double() - expected) ** 2 / expected).sum())


def test_uniform_chi_square():
    for dtype in (torch.float32, torch.float64):
        x = ks.Generator(101).rand(N, dtype=dtype)
        counts = torch.bincount((x * 256).long(), minlength=256)
        assert chi2(counts, torch.full((256,), N / 256.0)) < chi2_critical(255)


def test_normal_ks_and_moments():
    for dtype in (torch.float32, torch.float64):
        x = ks.Generator(102).randn(N, dtype=dtype).double().sort().values
        cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
        i = torch.arange(1, N + 1, dtype=torch.float64)
        d = max(float((i / N - cdf).max()), float((cdf - (i - 1) / N).max()))
        assert d < ks_critical(N)
        assert abs(float(x.mean())) < 5 / math.sqrt(N)
        assert abs(float(x.var()) - 1) < 5 * math.sqrt(2 / N)


def test_normal_tail_reach():
    # The largest radius a float32 normal can have is sqrt(-2 ln 2^-33) = 6.76.
    assert abs(float(ks.randn(8, generator=ks.Generator(1))[0])) < 6.77
    import numpy as np

    from keystream._engines import _reference as R

    r = float(np.sqrt(2 * R.neg_log_f32(np.array([0], np.uint32))[0]))
    assert 6.75 < r < 6.77
    r64 = float(np.sqrt(2 * R.neg_log_f64(np.array([0], np.uint64))[0]))
    assert 9.48 < r64 < 9.50
    # beyond 4 sigma: expected 6.33e-5 * N
    x = ks.Generator(103).randn(N)
    beyond = int((x.abs() > 4).sum())
    expect = N * 6.334e-5
    assert abs(beyond - expect) < 5 * math.sqrt(expect)


def test_exponential_mean():
    x = ks.Generator(104).exponential(N, lambd=2.0, dtype=torch.float64)
    assert abs(float(x.mean()) - 0.5) < 5 * 0.5 / math.sqrt(N)
    assert float(x.min()) > 0


def test_randint_chi_square():
    x = ks.Generator(105).randint(3, 3 + 97, (N,))
    counts = torch.bincount(x - 3, minlength=97)
    assert chi2(counts, torch.full((97,), N / 97.0)) < chi2_critical(96)


def test_bernoulli_rate():
    x = ks.Generator(106).bernoulli(0.3, (N,))
    assert abs(float(x.mean()) - 0.3) < 5 * math.sqrt(0.21 / N)


def test_randperm_is_permutation_and_positions_uniform():
    n, trials = 6, 6000
    g = ks.Generator(107)
    counts = torch.zeros(n, n)
    pair = 0
    for _ in range(trials):
        p = g.randperm(n)
        assert sorted(p.tolist()) == list(range(n))
        counts[torch.arange(n), p] += 1
        pair += int(p[0] < p[1])
    assert chi2(counts.flatten(), torch.full((n * n,), trials / n)) < chi2_critical(n * n - 1 - 2 * (n - 1))
    assert abs(pair - trials / 2) < 5 * math.sqrt(trials / 4)
    for n in (1, 2, 3, 1000, 4097):
        assert sorted(ks.randperm(n, generator=g).tolist()) == list(range(n))


def test_permutation_random_access():
    p = ks.Permutation(1000, ks.Generator(5))
    full = ks.Generator(5).randperm(1000)
    assert [p[i] for i in (0, 17, 999)] == [int(full[i]) for i in (0, 17, 999)]
    assert torch.equal(p[torch.arange(1000)], full)
    big = ks.Permutation(10**15, ks.Generator(1))
    idx = torch.arange(10**15 - 50, 10**15)
    vals = big[idx]
    assert len(set(vals.tolist())) == 50 and bool((vals < 10**15).all())


def ks_distance(x: torch.Tensor, cdf) -> float:  # type: ignore[no-untyped-def]
    """Kolmogorov-Smirnov distance of the sample ``x`` from the exact ``cdf`` (float64)."""
    x = x.double().sort().values
    n = x.numel()
    c = cdf(x)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return max(float((i / n - c).max()), float((c - (i - 1) / n).max()))


CONTINUOUS = {
    "cauchy": (lambda g, dt: g.cauchy(N, median=1.0, sigma=2.0, dtype=dt),
               lambda x: 0.5 + torch.atan((x - 1.0) / 2.0) / math.pi),
    "laplace": (lambda g, dt: g.laplace(N, loc=1.0, scale=2.0, dtype=dt),
                lambda x: torch.where(x < 1.0, 0.5 * torch.exp((x - 1.0) / 2.0),
                                      1 - 0.5 * torch.exp(-(x - 1.0) / 2.0))),
    "gumbel": (lambda g, dt: g.gumbel(N, loc=1.0, scale=2.0, dtype=dt),
               lambda x: torch.exp(-torch.exp(-(x - 1.0) / 2.0))),
    "log_normal": (lambda g, dt: g.log_normal(N, mean=0.5, std=0.75, dtype=dt),
                   lambda x: 0.5 * (1 + torch.erf((torch.log(x) - 0.5) / (0.75 * math.sqrt(2))))),

}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_draws_ks(name):
    draw, cdf = CONTINUOUS[name]
    for dtype in (torch.float32, torch.float64):
        assert ks_distance(draw(ks.Generator(sum(map(ord, name))), dtype), cdf) < ks_critical(N)


def test_geometric_chi_square_and_small_p():
    """P(X = k) = (1 - p)^(k - 1) p for k = 1 .. 30 and the tail beyond; and the mean for a
    tiny p, where -ln(1 - p) must not lose p's digits."""
    p = 0.2
    for dtype in (torch.float32, torch.float64):
        x = ks.Generator(107).geometric(N, p=p, dtype=dtype).long()
        assert int(x.min()) >= 1
        counts = torch.bincount(x.clamp(max=31), minlength=32)[1:].double()
        k = torch.arange(1, 31, dtype=torch.float64)
        probs = torch.cat([(1 - p) ** (k - 1) * p, torch.tensor([(1 - p) ** 30])])
        assert chi2(counts, N * probs) < chi2_critical(30)
    small = ks.Generator(108).geometric(N, p=1e-9, dtype=torch.float64)
    assert abs(float(small.mean()) * 1e-9 - 1) < 6 / math.sqrt(N)
