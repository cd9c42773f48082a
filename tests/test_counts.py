"""poisson and binomial: the definition on every engine, the exact distributions, consumption."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import keystream as ks
from keystream._core._math.torch_forms import log_factorial_f64, neg_log1m_f64
from keystream._engines import use_engine
from keystream._tools._conformance import same_bits
from keystream._torch import _counts
from test_stats import chi2, chi2_critical

F64 = torch.float64
#: Rates on both sides of the inversion / PTRS switch, and far out.
RATES = torch.tensor([0.0, 1e-300, 0.3, 1.0, 4.0, 9.99, 10.0, 10.5, 30.0, 1000.0, 1e6, 1e12, 2.0**60])
COUNTS = torch.tensor([0.0, 1.0, 5.0, 19.0, 20.0, 21.0, 100.0, 1000.0, 1e6, 2.0**52])
PROBS = torch.tensor([0.0, 1e-9, 0.01, 0.3, 0.5, 0.5000001, 0.9, 1.0 - 1e-12, 1.0])


def _engines() -> list[str]:
    return [e for e in ("portable", "cpu") if e in ks.available_engines()]


def _on_every_engine(draw):
    results = {}
    for engine in _engines():
        with use_engine(engine):
            results[engine] = draw()
    first = next(iter(results.values()))
    for engine, got in results.items():
        assert same_bits(got, first), engine
    return first


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_poisson_is_the_same_on_every_engine(dtype):
    rate = RATES.repeat(79)[:1031]  # odd, each rate in many positions
    if dtype == torch.float16:
        rate = rate.clamp(max=60000.0)
    _on_every_engine(lambda: ks.poisson(rate.to(F64), generator=ks.Generator(1), dtype=dtype))
    _on_every_engine(lambda: ks.poisson(rate.to(dtype), generator=ks.Generator(1)))  # the rates' own dtype
    _on_every_engine(lambda: ks.poisson(30.0, (3, 7), generator=ks.Generator(2), dtype=dtype))  # one rate


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_binomial_is_the_same_on_every_engine(dtype):
    count = COUNTS.repeat_interleave(len(PROBS)).repeat(3)
    prob = PROBS.repeat(len(COUNTS) * 3)
    _on_every_engine(lambda: ks.binomial(count.to(F64), prob.to(F64), generator=ks.Generator(3), dtype=dtype))
    _on_every_engine(lambda: ks.binomial(count.unsqueeze(1), prob.to(F64)[:len(PROBS)], generator=ks.Generator(4)))
    _on_every_engine(lambda: ks.binomial(400.0, 0.25, (37,), generator=ks.Generator(5), dtype=dtype))


@pytest.mark.parametrize("version", ks.STREAM_VERSIONS)
def test_every_engine_over_many_parameters(version):
    """Log-uniform rates and counts (the C kernel tests each element's first candidate in
    vector lanes and the rest in scalar code: both, across the switches at 10 and 18)."""
    rng = torch.Generator().manual_seed(version)
    rate = torch.exp(torch.rand(20011, generator=rng, dtype=F64) * 30 - 3)
    count = torch.floor(torch.exp(torch.rand(20011, generator=rng, dtype=F64) * 28))
    prob = torch.rand(20011, generator=rng, dtype=F64) ** 3
    _on_every_engine(lambda: ks.poisson(rate, generator=ks.Generator(6, stream_version=version)))
    _on_every_engine(lambda: ks.binomial(count, prob, generator=ks.Generator(7, stream_version=version)))
    _on_every_engine(lambda: ks.poisson(25.0, (4099,), generator=ks.Generator(8, stream_version=version)))


def test_near_the_end_of_the_counter_space():
    g = ks.Generator(6)
    n = 301
    g.offset = 2**64 - 32 * n - 3
    x = _on_every_engine(lambda: ks.poisson(RATES.repeat(24)[:n], generator=g.clone()))
    y = _on_every_engine(lambda: ks.binomial(COUNTS.repeat(31)[:n], 0.4, generator=g.clone()))
    assert x.shape == y.shape == (n,)


def test_a_prefix_and_a_tensor_of_one_value_give_the_same_counts():
    full = ks.poisson(torch.full((40,), 12.5), generator=ks.Generator(7))
    assert same_bits(ks.poisson(torch.full((15,), 12.5), generator=ks.Generator(7)), full[:15])
    assert same_bits(ks.poisson(12.5, (40,), generator=ks.Generator(7), dtype=torch.float32), full)
    both = ks.binomial(torch.full((40,), 60.0), torch.full((40,), 0.3), generator=ks.Generator(8))
    assert same_bits(ks.binomial(60.0, 0.3, (40,), generator=ks.Generator(8), dtype=torch.float32), both)


def test_consumption_is_fixed_and_results_are_whole():
    g = ks.Generator(9)
    x = ks.poisson(RATES, generator=g)
    assert g.offset == 32 * len(RATES)
    assert torch.equal(x, torch.floor(x)) and bool((x >= 0).all())
    before = g.offset
    k = ks.binomial(COUNTS.unsqueeze(1), PROBS, generator=g, dtype=F64)
    assert g.offset == before + 32 * k.numel()
    assert bool(((k >= 0) & (k <= COUNTS.unsqueeze(1).to(F64))).all())
    assert torch.equal(k[:, 0], torch.zeros(len(COUNTS), dtype=F64))  # p = 0
    assert torch.equal(k[:, -1], COUNTS.to(F64))  # p = 1


def test_out_meta_and_generator_method():
    out = torch.empty(5)
    assert ks.poisson(3.0, (5,), generator=ks.Generator(10), out=out) is out
    assert same_bits(out, ks.Generator(10).poisson(3.0, (5,)))
    strided = torch.empty(5, 2)[:, 0]
    ks.binomial(10.0, 0.5, (5,), generator=ks.Generator(10), out=strided)
    assert same_bits(strided, ks.binomial(10.0, 0.5, (5,), generator=ks.Generator(10)))
    g = ks.Generator(11)
    m = ks.poisson(2.0, (4, 3), generator=g, device="meta")
    assert m.device.type == "meta" and m.shape == (4, 3) and g.offset == 32 * 12


def _pmf_chi2(x: torch.Tensor, pmf, support: np.ndarray) -> tuple[float, float]:
    """The chi-square of observed counts against ``pmf`` on ``support`` (tails pooled)."""
    n = x.numel()
    p = pmf(support)
    keep = p * n >= 20
    observed = torch.tensor([float((x == k).sum()) for k in support[keep]], dtype=F64)
    expected = torch.tensor(p[keep] * n, dtype=F64)
    rest = n - observed.sum()
    observed = torch.cat([observed, rest.reshape(1)])
    expected = torch.cat([expected, torch.tensor([n - expected.sum()], dtype=F64)])
    return chi2(observed, expected), chi2_critical(len(observed) - 1)


N = 1 << 17


@pytest.mark.parametrize("rate", [0.05, 1.0, 6.5, 9.999, 10.0, 17.0, 250.0, 1e5])
def test_poisson_frequencies_are_the_exact_distribution(rate):
    stats = pytest.importorskip("scipy.stats")
    x = ks.poisson(rate, (N,), generator=ks.Generator(12), dtype=F64)
    lo, hi = int(max(0, rate - 8 * math.sqrt(rate) - 2)), int(rate + 8 * math.sqrt(rate) + 8)
    value, critical = _pmf_chi2(x, stats.poisson(rate).pmf, np.arange(lo, hi))
    assert value < critical


@pytest.mark.parametrize("count,prob", [(1, 0.3), (15, 0.5), (200, 0.04), (19, 0.55), (20, 0.5), (100, 0.3),
                                        (1000, 0.9), (10**6, 0.25)])
def test_binomial_frequencies_are_the_exact_distribution(count, prob):
    stats = pytest.importorskip("scipy.stats")
    x = ks.binomial(float(count), prob, (N,), generator=ks.Generator(13), dtype=F64)
    mean, sd = count * prob, math.sqrt(count * prob * (1 - prob))
    support = np.arange(max(0, int(mean - 8 * sd - 2)), min(count, int(mean + 8 * sd + 3)) + 1)
    value, critical = _pmf_chi2(x, stats.binom(count, prob).pmf, support)
    assert value < critical


def test_when_every_candidate_is_rejected_the_count_is_the_mode():
    # u = 0 gives us = 0, so k = -inf: rejected
    zero = torch.zeros(3, 32, dtype=F64)
    assert torch.equal(_counts._ptrs(torch.tensor([10.0, 55.5, 1e9], dtype=F64), zero, zero + 0.5),
                       torch.tensor([10.0, 55.0, 1e9], dtype=F64))
    assert torch.equal(_counts._btrs(torch.tensor([20.0, 101.0], dtype=F64), torch.tensor([0.5, 0.2], dtype=F64),
                                     zero[:2], zero[:2] + 0.5), torch.tensor([10.0, 20.0], dtype=F64))


def test_log_factorial_and_log1m_are_accurate():
    k = torch.cat([torch.arange(0, 400, dtype=F64), torch.tensor([1e4, 123456.0, 1e9, 2.0**52, 1e18], dtype=F64)])
    want = torch.tensor([math.lgamma(float(v) + 1) for v in k], dtype=F64)
    assert torch.allclose(log_factorial_f64(k), want, rtol=1e-13, atol=1e-13)
    assert float(log_factorial_f64(torch.tensor([18.0], dtype=F64))) == pytest.approx(math.lgamma(19), rel=1e-15)
    p = torch.tensor([0.0, 1e-300, 1e-17, 1e-9, 0.1, 0.5, 0.9, 1 - 1e-15], dtype=F64)
    assert torch.allclose(neg_log1m_f64(p), -torch.log1p(-p), rtol=1e-15, atol=0)


def test_gradients_and_bad_values_as_torch():
    with pytest.raises(ValueError, match="rate"):
        ks.poisson(torch.tensor([1.0, -0.5]), generator=ks.Generator(16))
    with pytest.raises(ValueError, match="count"):
        ks.binomial(torch.tensor([2.5]), 0.5, generator=ks.Generator(16))
    with pytest.raises(ValueError, match="prob"):
        ks.binomial(3.0, torch.tensor([1.5]), generator=ks.Generator(16))


@pytest.mark.parametrize("which,params,least", [("ptrs", (10.0,), 0.74), ("ptrs", (1e6,), 0.87),
                                                ("btrs", (20.0, 0.5), 0.70), ("btrs", (1e7, 0.5), 0.87)])
def test_a_candidate_is_accepted_as_often_as_the_docs_say(which, params, least, monkeypatch):
    """The acceptance rates behind the stated chance that all 32 candidates fail."""
    seen = {}
    real = _counts._first_accepted

    def spy(accept, k, fallback):
        seen["rate"] = float(accept.double().mean())
        return real(accept, k, fallback)

    monkeypatch.setattr(_counts, "_first_accepted", spy)
    n = 1 << 12
    u = ks.rand(n, 32, generator=ks.Generator(17), dtype=F64)
    v = ks.rand(n, 32, generator=ks.Generator(18), dtype=F64)
    args = [torch.full((n,), p, dtype=F64) for p in params]
    (_counts._ptrs if which == "ptrs" else _counts._btrs)(*args, u, v)
    assert seen["rate"] > least


@pytest.mark.parametrize("draw", [lambda **k: ks.poisson(2.5, (7, 9), **k), lambda **k: ks.poisson(40.0, (7, 9), **k),
                                  lambda **k: ks.binomial(50.0, 0.3, (7, 9), **k)])
def test_a_region_is_the_full_draw_cut_and_advances_as_it(draw):
    from test_composite import check_regions

    check_regions(draw, 32)
