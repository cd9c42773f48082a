"""Each conversion re-derived in plain Python from the raw words (numpy's habit)."""
from __future__ import annotations

import math

import torch

import keystream as ks

N = 203


def words32(seed: int, n: int) -> list[int]:
    return (ks.Generator(seed).bits(n).view(torch.int32).to(torch.int64) & 0xFFFFFFFF).tolist()


def words64(seed: int, n: int) -> list[int]:
    return [w % 2**64 for w in ks.Generator(seed).bits(n, dtype=torch.int64).tolist()]


def test_uniform_float32():
    assert ks.Generator(1).rand(N).tolist() == [(w >> 8) * 2.0**-24 for w in words32(1, N)]


def test_uniform_float64():
    assert ks.Generator(2).rand(N, dtype=torch.float64).tolist() == [(x >> 11) * 2.0**-53 for x in words64(2, N)]


def test_uniform_float16_bfloat16():
    w32 = words32(3, N)
    def v1() -> ks.Generator:
        return ks.Generator(3, stream_version=1)

    assert v1().rand(N, dtype=torch.float16).float().tolist() == [(w >> 21) * 2.0**-11 for w in w32]
    assert v1().rand(N, dtype=torch.bfloat16).float().tolist() == [(w >> 24) * 2.0**-8 for w in w32]
    # stream version 2: the float32 uniform rounded once (nearest even), 1.0 replaced by the value below
    u24 = torch.tensor([(w >> 8) * 2.0**-24 for w in w32], dtype=torch.float32)
    for dt in (torch.float16, torch.bfloat16):
        want = u24.to(dt)
        want = torch.where(want >= 1.0, torch.tensor(1.0, dtype=dt).nextafter(torch.tensor(0.0, dtype=dt)), want)
        assert torch.equal(ks.Generator(3).rand(N, dtype=dt), want)


def test_randint():
    low, high = -7, 10**13 + 3
    expect = [low + (x * (high - low) >> 64) for x in words64(4, N)]
    assert ks.Generator(4).randint(low, high, (N,)).tolist() == expect


def test_randint_full_range_is_the_word():
    expect = [x - 2**63 for x in words64(5, N)]  # low + word, low = -2^63
    assert ks.Generator(5).randint(-(2**63), 2**63, (N,)).tolist() == expect


def test_bernoulli():
    p = 0.3
    expect = [1.0 if w < p * 2**32 else 0.0 for w in words32(6, N)]
    assert ks.Generator(6).bernoulli(p, (N,)).tolist() == expect


def test_exponential_close_to_minus_log():
    got = ks.Generator(7).exponential(N, dtype=torch.float64).tolist()
    for x, y in zip(got, words64(7, N)):
        assert math.isclose(x, -math.log((2 * y + 1) * 2.0**-65), rel_tol=1e-15, abs_tol=1e-15)


def test_normal_close_to_box_muller():
    got = ks.Generator(8).randn(N - N % 4, dtype=torch.float64).tolist()
    w = words64(8, len(got))
    for j in range(0, len(got), 2):
        r = math.sqrt(-2 * math.log((2 * w[j] + 1) * 2.0**-65))
        theta = 2 * math.pi * ((w[j + 1] >> 9 << 9) + 256) / 2**64  # mid-step angle
        assert math.isclose(got[j], r * math.cos(theta), abs_tol=1e-13)
        assert math.isclose(got[j + 1], r * math.sin(theta), abs_tol=1e-13)


def test_uniform_never_returns_high():
    # A tiny range in float16: low + span*u rounds up to high often; it must be clamped.
    x = ks.Generator(9).uniform(1.0, 1.0009765625 * 2, (4000,), dtype=torch.float16)
    assert (x < 2.001953125).all() and (x >= 1.0).all()
    y = ks.Generator(9).uniform(0.0, 1.0, (4000,), dtype=torch.bfloat16)
    assert (y < 1.0).all()
    z = ks.uniform(1.0, float(torch.nextafter(torch.tensor(1.0), torch.tensor(2.0))), (1000,),
                   generator=ks.Generator(1), dtype=torch.float32)
    assert (z == 1.0).all()


def test_parameter_rounding_to_float32_equals_torchs():
    """``_draws._round`` rounds float32 parameters with ``struct`` (fast); it must give
    torch's float64 -> float32 conversion bit for bit: halfway cases, subnormals, the
    edge of overflow, signed zeros, infinities."""
    import math
    import struct

    import numpy as np

    from keystream._torch import _draws

    rng = np.random.default_rng(5)
    f32 = np.frombuffer(rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32).tobytes(), np.float32)
    f32 = f32[np.isfinite(f32)].astype(np.float64)
    halfway = np.nextafter(f32, np.inf) / 2 + f32 / 2  # between neighbours: ties, and just off them
    values = [*f32, *halfway, *np.nextafter(halfway, 0), *rng.normal(size=2000) * 10.0 ** rng.integers(-45, 39, 2000),
              0.0, -0.0, math.inf, -math.inf, 3.4028235677973366e38, 3.402823567797337e38, 3.5e38, -3.5e38, 1e300,
              1.4e-45, 7e-46, 7.006492321624085e-46, 2.0**-150, -(2.0**-149) * 0.75]
    for v in values:
        want = torch.tensor(float(v), dtype=torch.float64).to(torch.float32).item()
        got = _draws._round(float(v), torch.float32)
        assert struct.pack("<d", got) == struct.pack("<d", want), v
    assert math.isnan(_draws._round(math.nan, torch.float32))
