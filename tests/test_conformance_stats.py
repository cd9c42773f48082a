"""Stream version 2 against the exact distributions, at the parameters where version 1 was wrong.

Each test measures a statistic that stream version 1 gets measurably wrong (the test asserts
that too, so that it is known to be able to see the defect) and asserts that version 2 agrees
with the exact distribution (scipy) within a bound whose false-failure probability is below
1e-6 for a correct generator; keys are fixed, so the suite is deterministic.  The larger
samples (10^7 to 10^8) run under ``-m slow`` (tests/test_conformance_slow.py).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import keystream as ks
from keystream._core._math import torch_forms as tf

scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")

Z = 4.892  # two-sided normal quantile of 1e-6


def binomial_band(p: float, n: int) -> tuple[float, float]:
    """The (1e-6, two-sided) band of a sample proportion of ``n`` draws with probability ``p``."""
    half = Z * math.sqrt(p * (1 - p) / n) + 1.0 / n
    return p - half, p + half


def chi2_p(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(scipy_stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), len(counts) - 1))


def gens(seed: int) -> dict[int, ks.Generator]:
    return {v: ks.Generator(seed, stream_version=v) for v in ks.STREAM_VERSIONS}


# ----------------------------------------------------------------------- permutations
def odd_share(perms: torch.Tensor) -> float:
    """The share of odd permutations among the rows of ``perms``: parity = (n - cycles) mod 2,
    the cycles counted by pointer doubling (each element learns its cycle's smallest member)."""
    n = perms.shape[1]
    label = torch.arange(n).expand_as(perms).clone()
    step = perms.clone()
    for _ in range(max(1, (n - 1).bit_length()) + 1):
        label = torch.minimum(label, label.gather(1, step))
        step = step.gather(1, step)
    cycles = (label == torch.arange(n)).sum(1)
    return float(((n - cycles) % 2).double().mean())


@pytest.mark.parametrize("n", [16, 4096])  # (larger n, the Feistel network: the slow suite)
def test_permutations_are_odd_half_of_the_time(n):
    count = 2000
    share = {}
    for v, g in gens(n).items():
        share[v] = odd_share(torch.stack([ks.randperm(n, generator=g) for _ in range(count)]))
    lo, hi = binomial_band(0.5, count)
    assert lo < share[2] < hi
    if n in (16, 4096):  # a power of 4: version 1's XOR Feistel rounds give even permutations only
        assert share[1] == 0.0


def test_all_permutations_of_five_equally_likely():
    import itertools

    count = 120 * 120
    index = {p: i for i, p in enumerate(itertools.permutations(range(5)))}
    counts = {}
    for v, g in gens(5).items():
        rows = torch.stack([ks.randperm(5, generator=g) for _ in range(count)]).tolist()
        counts[v] = np.bincount([index[tuple(r)] for r in rows], minlength=120)
    assert chi2_p(counts[2], np.full(120, 1 / 120)) > 1e-6
    assert chi2_p(counts[1], np.full(120, 1 / 120)) < 1e-6  # version 1: far from uniform


def test_shuffle_sampler_positions_uniform():
    from keystream.data import ShuffleSampler

    n, epochs = 70_001, 64  # the Feistel network (n > 2^16)
    hits = np.zeros(n, np.int64)
    for e in range(epochs):
        s = ShuffleSampler(n, seed=5)
        s.set_epoch(e)
        hits[np.fromiter(iter(s), np.int64, count=n)[:7]] += 1  # the first 7 positions
    assert hits.sum() == 7 * epochs and hits.max() <= 4  # no index favoured (expected max: 1-2)


# ---------------------------------------------------------------------- truncated normal
TAILS = [(2.0, 3.0), (-3.0, -2.5), (0.0, 0.1), (-0.05, 0.2), (5.0, math.inf), (-math.inf, -4.0), (-2.0, 2.0)]


@pytest.mark.parametrize("a,b", TAILS)
def test_trunc_normal_matches_scipy(a, b):
    from keystream._torch._draws import trunc_normal

    n = 1 << 17
    x = trunc_normal(0.0, 1.0, a, b, (n,), generator=ks.Generator(11), dtype=torch.float64).numpy()
    assert x.min() >= a and x.max() <= b
    assert np.count_nonzero((x == a) | (x == b)) == 0
    d = scipy_stats.kstest(x, scipy_stats.truncnorm(a, b).cdf)
    assert d.pvalue > 1e-6
    old = trunc_normal(0.0, 1.0, a, b, (n,), generator=ks.Generator(11, stream_version=1), dtype=torch.float64)
    if scipy_stats.norm.cdf(b) - scipy_stats.norm.cdf(a) < 0.1:  # version 1: mass on the bounds
        assert float(((old == a) | (old == b)).double().mean()) > 0.1


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_trunc_normal_low_precision_in_bounds(dtype):
    from keystream._torch._draws import trunc_normal

    x = trunc_normal(0.0, 1.0, 2.0, 3.0, (1 << 14,), generator=ks.Generator(3), dtype=dtype).double()
    assert float(x.min()) >= 2.0 and float(x.max()) <= 3.0
    assert abs(float(x.mean()) - scipy_stats.truncnorm(2.0, 3.0).mean()) < 0.01


# ------------------------------------------------------------------ 16-bit uniform draws
@pytest.mark.parametrize("dtype,bits", [(torch.bfloat16, 7), (torch.float16, 10)])
def test_uniform_16bit_flat_on_one_binade(dtype, bits):
    """uniform(1, 2) in a 16-bit dtype: every value of [1, 2) has its rounding cell's mass
    (the first half a cell, the last one and a half: values rounding to 2 become the one
    below)."""
    m = 1 << bits
    n = 1 << 20
    counts = {}
    for v, g in gens(7).items():
        x = ks.uniform(1.0, 2.0, (n,), generator=g, dtype=dtype).double()
        counts[v] = np.bincount(((x - 1.0) * m).round().long().numpy(), minlength=m)
    probs = np.full(m, 1.0 / m)
    probs[0], probs[-1] = 0.5 / m, 1.5 / m
    assert chi2_p(counts[2], probs) > 1e-6
    assert chi2_p(counts[1], probs) < 1e-12  # version 1: even values 3x as often as odd ones


def test_bfloat16_rand_grid_finer_near_zero():
    x = ks.rand(1 << 16, generator=ks.Generator(1), dtype=torch.bfloat16)
    assert torch.unique(x).numel() > 1000  # version 1: 256 values
    assert float(x.double().mean()) == pytest.approx(0.5, abs=0.005)


# --------------------------------------------------------------- the gamma family, tiny
def test_gamma_tiny_alpha_subnormals():
    alpha, n = 1e-3, 1 << 18
    # P(X < 2^-1075) (X rounds to 0): x^a / Gamma(a + 1) for tiny x
    p_zero = math.exp(alpha * -1075 * math.log(2) - math.lgamma(1 + alpha))
    shares = {}
    for v, g in gens(21).items():
        x = ks.standard_gamma(torch.full((n,), alpha, dtype=torch.float64), generator=g)
        shares[v] = float((x == 0).double().mean())
    lo, hi = binomial_band(p_zero, n)
    assert lo < shares[2] < hi
    assert shares[1] > hi  # version 1 flushed the subnormals


def test_beta_and_dirichlet_tiny_parameters():
    n = 1 << 16
    for v, g in gens(22).items():
        x = ks.beta(1e-3, 1e-3, (n,), generator=g, dtype=torch.float64)
        half = float((x == 0.5).double().mean())
        if v == 2:
            assert half == 0.0 and not bool(x.isnan().any())
            lo, hi = binomial_band(0.5, n)
            assert lo < float((x < 0.5).double().mean()) < hi
        else:
            assert half > 0.2
    d = ks.dirichlet(torch.full((n // 4, 4), 1e-3, dtype=torch.float64), generator=ks.Generator(23))
    assert not bool((d == 0.25).all(-1).any())
    assert float((d.sum(-1) - 1).abs().max()) < 1e-12
    lo, hi = binomial_band(0.25, n // 4)
    assert lo < float((d.argmax(-1) == 0).double().mean()) < hi


def test_student_t_tiny_df_overflows_only_where_the_value_does():
    df, n = 0.01, 1 << 18
    # |T| = inf in float64 iff Z / df < x^2 / DBL_MAX^2, essentially Z < 1e-620: P(chi2(df) < 1e-620)
    p_inf = math.exp((df / 2) * (-620 * math.log(10) - math.log(2)) - math.lgamma(1 + df / 2))
    for v, g in gens(24).items():
        share = float(ks.student_t(df, (n,), generator=g, dtype=torch.float64).isinf().double().mean())
        if v == 2:
            assert share < 3 * p_inf + 1e-3
        else:
            assert share > 0.02


# ---------------------------------------------------------------------- huge counts
def _exact_lf_diff(i: int, j: int) -> float:
    """ln i! - ln j! by an exact-ish sum of logs (math.fsum)."""
    sign = 1.0 if i >= j else -1.0
    lo, hi = min(i, j), max(i, j)
    return sign * math.fsum(math.log(t) for t in range(lo + 1, hi + 1))


def test_binomial_acceptance_bound_without_cancellation():
    n = 2.0**40
    m = math.floor((n + 1) * 1e-9)
    worst = {1: 0.0, 2: 0.0}
    for k in (m - 300, m - 30, m + 1, m + 45, m + 400):
        exact = _exact_lf_diff(m, k) + _exact_lf_diff(int(n) - m, int(n) - k)
        t = lambda x: torch.tensor([float(x)], dtype=torch.float64)  # noqa: E731
        v2 = float(tf.log_factorial_diff_f64(t(m), t(k)) + tf.log_factorial_diff_f64(t(n - m), t(n - k)))
        v1 = float((tf.log_factorial_f64(t(m)) + tf.log_factorial_f64(t(n - m)))
                   - (tf.log_factorial_f64(t(k)) + tf.log_factorial_f64(t(n - k))))
        worst[2] = max(worst[2], abs(v2 - exact))
        worst[1] = max(worst[1], abs(v1 - exact))
    assert worst[2] < 1e-8
    assert worst[1] > 1e-4  # version 1: two logs near 2.9e13 subtracted


def test_poisson_acceptance_bound_without_cancellation():
    mpmath = pytest.importorskip("mpmath")
    from keystream._torch._counts import _ptrs_rhs_v2

    mpmath.mp.dps = 40
    lam = 1e12
    t = lambda x: torch.tensor([float(x)], dtype=torch.float64)  # noqa: E731
    worst = {1: 0.0, 2: 0.0}
    for k in (lam - 3e6, lam - 1e3, lam + 7, lam + 2e6):
        exact = float(k * mpmath.log(lam) - lam - mpmath.loggamma(k + 1))
        v2 = float(_ptrs_rhs_v2(t(k), t(lam), tf.log_f64(t(lam))))
        v1 = float((t(k) * tf.log_f64(t(lam)) - lam) - tf.log_factorial_f64(t(k)))
        worst[2] = max(worst[2], abs(v2 - exact))
        worst[1] = max(worst[1], abs(v1 - exact))
    assert worst[2] < 1e-7
    assert worst[1] > 1e-5  # version 1: k ln(lam) and ln k! near 2.6e13, subtracted


@pytest.mark.parametrize("count,p", [(2**40, 1e-9), (2**40, 1e-8), (1000, 0.3), (2**30, 0.5)])
def test_binomial_mean_and_variance(count, p):
    n = 1 << 16
    x = ks.binomial(float(count), p, (n,), generator=ks.Generator(31), dtype=torch.float64).numpy()
    mean, var = count * p, count * p * (1 - p)
    assert abs(x.mean() - mean) < Z * math.sqrt(var / n)
    assert abs(x.var() / var - 1) < Z * math.sqrt(2 / n) * 1.5


def test_multinomial_never_draws_a_zero_weight():
    w = torch.tensor([0.0, 5e-324, 1.0], dtype=torch.float64)
    from keystream._engines import use_engine

    for engine in ("cpu", "portable"):
        with use_engine(engine):
            picks = torch.stack([ks.multinomial(w, 2, generator=ks.Generator(s)) for s in range(200)])
        assert not bool((picks == 0).any()), engine
        with use_engine(engine):
            old = torch.stack([ks.multinomial(w, 2, generator=ks.Generator(s, stream_version=1)) for s in range(50)])
        assert bool((old == 0).any()), engine  # version 1: the zero weight tied with the tiny one's inf key
