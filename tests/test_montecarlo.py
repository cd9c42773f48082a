"""keystream.montecarlo: the same bits for any chunking, process count and device."""
from __future__ import annotations

import math

import pytest
import torch

from _gloo import run_workers
from _markers import requires_c, requires_triton
from keystream._engines import _cpu
from keystream.montecarlo import EXAMPLES, control_variate, estimate, exp
from keystream.montecarlo._accumulate import _join, _limbs_torch, exact_sums, to_fraction


def bits(e):
    return (e.mean.hex(), e.stderr.hex(), e.n)


@pytest.mark.parametrize("name", ["pi", "european-call", "asian-call", "integral"])
def test_same_bits_for_any_chunk_size(name):
    fn = EXAMPLES[name].fn
    ref = bits(estimate(fn, 30_001, seed=3, chunk_size=30_001))
    for cs in (1, 999, 4096, 10_000) if name == "pi" else (999, 7_777):
        assert bits(estimate(fn, 30_001, seed=3, chunk_size=cs)) == ref, cs


@pytest.mark.parametrize("name", ["european-call", "pi"])
def test_same_bits_on_every_device(accelerator, name):
    device = accelerator
    ref = bits(estimate(EXAMPLES[name].fn, 5000, seed=1))  # pi: the fused CPU kernel
    assert bits(estimate(EXAMPLES[name].fn, 5000, seed=1, device=device)) == ref


def test_same_bits_for_1_2_3_processes(tmp_path):
    results = {world: run_workers("mc_worker.py", world, tmp_path / f"{world}.json") for world in (1, 2, 3)}
    single = {k: list(bits(estimate(EXAMPLES[k].fn, 300_001, seed=11, chunk_size=40_000))) for k in results[1]}
    assert results[1] == results[2] == results[3] == single


def test_confidence_interval_coverage():
    """Over 400 seeds the 95% CI covers pi/4 at about the stated rate (binomial bounds)."""
    truth = math.pi / 4
    hits = 0
    for seed in range(400):
        e = estimate(EXAMPLES["pi"].fn, 4000, seed=seed)
        hits += e.ci[0] <= truth <= e.ci[1]
    assert 0.90 <= hits / 400 <= 0.99


def test_antithetic_reduces_variance_on_monotone_integrand():
    def f(d):
        u = d.rand()
        return u * u * u

    plain = estimate(f, 20_000, seed=2)
    anti = estimate(f, 10_000, seed=2, antithetic=True)  # the same number of evaluations
    assert anti.stderr < 0.7 * plain.stderr  # theory: 0.56
    assert abs(anti.mean - 0.25) < 4 * anti.stderr


def test_control_variate_reduces_variance():
    def f(d):
        return exp(d.rand())

    def g(d):
        return d.rand()

    plain = estimate(f, 20_000, seed=5)
    cv = control_variate(f, g, 0.5, 20_000, seed=5)
    assert cv.stderr < 0.2 * plain.stderr
    assert abs(cv.mean - (math.e - 1)) < 5 * cv.stderr


def test_exact_sums_are_exact_and_order_free():
    from fractions import Fraction

    g = torch.Generator().manual_seed(0)
    x = torch.randn(5000, generator=g, dtype=torch.float64) * torch.pow(10.0, torch.randint(-300, 300, (5000,),
                                                                                          generator=g).double())
    s, q = exact_sums(x)
    assert to_fraction(s) == sum(Fraction(v) for v in x.tolist())
    assert exact_sums(x.flip(0)) == (s, q)
    if _cpu._LIB is not None:
        c_sum, c_sq, bad = _cpu.exact_sum_limbs(x)
        assert bad == 0
        assert _join(c_sum) == _join(_limbs_torch(x)) == s
        assert _join(c_sq) == _join(_limbs_torch(x * x)) == q


def _extreme_values() -> torch.Tensor:
    """Every exponent (subnormals, the largest finite values, both signs), zeros, and
    values whose squares underflow or overflow."""
    g = torch.Generator().manual_seed(1)
    e = torch.arange(0, 2047, dtype=torch.int64).repeat(3)
    m = torch.randint(0, 1 << 52, (e.numel(),), generator=g)
    sign = torch.randint(0, 2, (e.numel(),), generator=g) << 63
    x = (sign | (e << 52) | m).view(torch.float64)
    return torch.cat([x, torch.tensor([0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308], dtype=torch.float64)])


@requires_c
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_c_exact_sums_equal_torch_limbs_on_every_exponent(threads):
    from fractions import Fraction

    x = _extreme_values()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        big = x.repeat(64)  # enough elements to split over threads
        c_sum, c_sq, bad = _cpu.exact_sum_limbs(big)
    finally:
        torch.set_num_threads(old)
    assert bad == 0
    assert _join(c_sum) == _join(_limbs_torch(big))
    assert _join(c_sq) == _join(_limbs_torch(big * big))  # squares that overflow count as inf, as in torch
    assert _join(c_sum) == 64 * sum(Fraction(v) for v in x.tolist()) * (1 << 1074)


@requires_c
def test_c_exact_sums_of_many_equal_values_do_not_overflow():
    x = torch.full((1 << 22,), -(2.0 - 2.0**-52), dtype=torch.float64)  # every mantissa bit set
    c_sum, c_sq, bad = _cpu.exact_sum_limbs(x)
    assert bad == 0
    assert _join(c_sum) == -(1 << 22) * ((1 << 53) - 1) << (1074 - 52)
    assert _join(c_sq) == (1 << 22) * int(x[0] * x[0] * 2.0**104) << (1074 - 104)


@requires_c
def test_c_exact_sums_count_non_finite_values():
    x = torch.tensor([1.0, float("nan"), 2.0, float("inf"), -float("inf"), 3.0] * 10_000, dtype=torch.float64)
    c_sum, _, bad = _cpu.exact_sum_limbs(x)
    assert bad == 30_000
    assert _join(c_sum) == 60_000 << 1074


def test_deterministic_exp_accuracy():
    x = torch.linspace(-700, 700, 100_001, dtype=torch.float64)
    y, ref = exp(x), torch.from_numpy(__import__("numpy").exp(x.numpy()))
    ulp = ((y - ref).abs() / torch.from_numpy(__import__("numpy").spacing(ref.numpy()))).max()
    assert float(ulp) <= 2


def test_ctrl_c_returns_the_estimate_so_far():
    calls = {"n": 0}

    def f(d):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return d.rand()

    e = estimate(f, 10_000, seed=1, chunk_size=1000)
    assert e.interrupted and e.n == 2000
    assert "interrupted" in str(e)


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"n_samples": 0}, ValueError, "n_samples"),
    ({"n_samples": -5}, ValueError, "n_samples"),
    ({"n_samples": 10, "confidence": 1.0}, ValueError, "confidence"),
    ({"n_samples": 10, "confidence": 0.0}, ValueError, "confidence"),
    ({"n_samples": 10, "chunk_size": 0}, ValueError, "chunk_size"),
    ({"n_samples": 10, "fn": lambda d: d.rand(2)}, ValueError, "shape"),
    ({"n_samples": 10, "fn": lambda d: d.rand() * float("nan")}, ValueError, "NaN"),
    ({"n_samples": 10, "fn": lambda d: [1.0]}, TypeError, "tensor"),
])
def test_bad_input(kwargs, exc, msg):
    fn = kwargs.pop("fn", lambda d: d.rand())
    with pytest.raises(exc, match=msg):
        estimate(fn, seed=1, **kwargs)


def test_cli_mc_pi(capsys):
    from keystream._tools._cli import main

    assert main(["mc", "pi", "--samples", "100000", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "pi from the quarter disc" in out and "standard errors" in out


# ---------------------------------------------------------------- fused integrands
def _unfused(f):
    return lambda d: f(d)  # the torch definition only: no _fused_count


@pytest.mark.parametrize("dim", [1, 2, 3, 7])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_in_ball_fused_equals_torch_definition(dim, threads):
    from keystream.montecarlo import InBall

    f = InBall(dim)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for n, chunk in ((1_000, 7), (100_003, 4_096), (70_001, 1 << 20)):
            fused = estimate(f, n, seed=3, chunk_size=chunk)
            torch_ops = estimate(_unfused(f), n, seed=3, chunk_size=chunk)
            assert fused.sum_exact == torch_ops.sum_exact and bits(fused) == bits(torch_ops), (n, chunk)
    finally:
        torch.set_num_threads(before)


@requires_c
@pytest.mark.parametrize("dim", [2, 5])
def test_in_ball_kernel_matches_the_reference_at_large_offsets(dim):
    import keystream as ks
    from keystream._engines import use_engine

    n, s0, s1 = 50_000, 12_345, 43_210
    for offset in (0, 3, (1 << 32) - 7, (1 << 64) - 2 - (n * dim) // 4 - 2):
        g = ks.Generator(9)
        g.offset = offset
        key = g.key
        with use_engine("reference"):
            u = ks.rand(n, dim, generator=g, dtype=torch.float32, region=(slice(s0, s1), slice(0, dim)))
        u = u * u
        acc = u[:, 0]
        for k in range(1, dim):
            acc = acc + u[:, k]
        assert _cpu.count_in_ball(key, offset, dim, s0, s1) == int((acc < 1.0).sum()), offset


def test_in_ball_uses_the_fused_kernel_on_cpu(monkeypatch):
    from keystream.montecarlo import InBall

    if _cpu._LIB is None:
        pytest.skip("the C engine is not built")
    calls = []
    real = _cpu.count_in_ball
    monkeypatch.setattr(_cpu, "count_in_ball", lambda *a: calls.append(a) or real(*a))
    e = estimate(InBall(2), 10_000, seed=1, chunk_size=4_000)
    assert len(calls) == 3 and e.n == 10_000
    assert estimate(InBall(2), 10_000, seed=1, chunk_size=4_000, antithetic=True).n == 10_000
    assert len(calls) == 3  # antithetic pairs use the torch definition


@pytest.mark.parametrize("dim,exc", [(0, ValueError), (4097, ValueError), (1.5, TypeError), (True, TypeError)])
def test_in_ball_bad_dim(dim, exc):
    from keystream.montecarlo import InBall

    with pytest.raises(exc, match="dim"):
        InBall(dim)


def _datasets() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    f64 = torch.float64
    n = 100_003  # not a multiple of the 8 lanes; more than one flush of the accumulators
    mixed = torch.randn(n, generator=g, dtype=f64)
    mixed[::3] *= 1e10
    mixed[1::7] *= 1e-15  # bits far below the largest values: they spill out of the window
    small = torch.rand(n, generator=g, dtype=f64) * 2.0**-470  # squares still in the fast path's range
    small[::5] = torch.arange(0, n, 5).to(f64) * 5e-324  # subnormals: they spill out of the window
    tiny = torch.rand(n, generator=g, dtype=f64) * 1e-280  # squares underflow: the bucket path
    return {
        "payoffs": torch.clamp(torch.randn(n, generator=g, dtype=f64) * 30, min=0.0),
        "all equal, every mantissa bit": torch.full((n,), -(2.0 - 2.0**-52), dtype=f64),
        "just below powers of two": torch.tensor([2.0**k * (1 - 2.0**-53) for k in range(-60, 60)] * 900, dtype=f64),
        "signed zeros": torch.tensor([0.0, -0.0, 1.0, -1.0] * 20_001, dtype=f64),
        "mixed magnitudes": mixed,
        "small and subnormal": small,
        "tiny": tiny,
        "huge": torch.randn(n, generator=g, dtype=f64) * 1e150,
    }


@requires_c
@pytest.mark.parametrize("name", list(_datasets()))
@pytest.mark.parametrize("threads", [1, 2])
def test_c_exact_sums_on_hard_data(name, threads):
    """The C fast path (binned float sums) and its fallbacks are exact: equal to the torch
    limbs and to Fractions, for values and for squares."""
    from fractions import Fraction

    x = _datasets()[name]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        c_sum, c_sq, bad = _cpu.exact_sum_limbs(x)
    finally:
        torch.set_num_threads(before)
    assert bad == 0
    values = x.tolist()
    assert _join(c_sum) == sum(Fraction(v) for v in values) * (1 << 1074)
    assert _join(c_sq) == sum(Fraction(v * v) for v in values) * (1 << 1074)
    assert _join(c_sq) == _join(_limbs_torch(x * x))


@requires_triton
@pytest.mark.parametrize("name", list(_datasets()) + ["every exponent", "programs of different magnitudes"])
def test_triton_exact_sums_on_hard_data(name):
    """The GPU's exact sums (Triton kernel, in the interpreter): the same integers as the
    torch limbs and Fractions, on the same hard data; where a chunk leaves the kernel's
    window it flags it and ``exact_sums`` computes it with the torch limbs."""
    from fractions import Fraction

    from keystream._engines import _triton, use_engine

    if name == "every exponent":
        x = _extreme_values()
    elif name == "programs of different magnitudes":  # each program's window is its own
        g = torch.Generator().manual_seed(3)
        x = torch.randn(4 * 1024 + 7, generator=g, dtype=torch.float64)
        x[:1024] *= 1e12
        x[2048:3072] *= -1e-200
    else:
        x = _datasets()[name][:5_003]
    res = _triton.exact_sum_limbs(x, interpret=True)
    values = x.tolist()
    want = sum(Fraction(v) for v in values) * (1 << 1074)
    want_sq = _join(_limbs_torch(x * x))
    if res is not None:
        assert res[2] == 0
        assert _join(res[0]) == want
        assert _join(res[1]) == want_sq
    with use_engine("triton-interpreter"):
        assert exact_sums(x) == (want, want_sq)
    if name in ("payoffs", "all equal, every mantissa bit", "signed zeros", "programs of different magnitudes"):
        assert res is not None, "the kernel's window holds these"


@requires_triton
def test_triton_exact_sums_reject_non_finite_values():
    from keystream._engines import use_engine

    x = torch.tensor([1.0, 2.0, float("nan")] * 500, dtype=torch.float64)
    with use_engine("triton-interpreter"), pytest.raises(ValueError, match="NaN or infinite"):
        exact_sums(x)


def test_in_ball_chunk_on_a_gpu_is_large_but_bounded():
    """On a GPU without a chosen chunk_size, InBall's fused path takes 2^26 samples at a
    time; the torch definition (if the fused path declines) then holds at most 2^28 floats."""
    from keystream.montecarlo import InBall

    assert InBall(2)._fused_chunk == 1 << 26
    for dim in (1, 3, 17, 4096):
        assert InBall(dim)._fused_chunk * dim <= max(1 << 28, (1 << 16) * dim)
