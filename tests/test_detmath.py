"""The deterministic log / sin / cos are accurate (a few ulp) as well as reproducible."""
from __future__ import annotations

import math

import numpy as np

from keystream._core._math import numpy_forms as R


def _ulps(got, want, dtype):
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(dtype)).astype(np.float64)


def test_neg_log_f32_accuracy():
    w = np.random.default_rng(1).integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    w[:4] = [0, 1, (1 << 23) - 1, 1 << 23]
    w64 = w.astype(np.uint64)
    z = np.where(w64 < 1 << 23, 2 * w64 + 1, w64)
    n = np.array([int(v).bit_length() for v in z])
    zt = (z >> np.maximum(n - 24, 0).astype(np.uint64)) << np.maximum(n - 24, 0).astype(np.uint64)
    u = zt.astype(np.float64) * np.where(w64 < 1 << 23, 2.0**-33, 2.0**-32)
    assert _ulps(R.neg_log_f32(w), -np.log(u), np.float32).max() <= 1.0
    assert R.neg_log_f32(np.array([0], np.uint32))[0] == np.float32(33 * math.log(2))


def test_neg_log_f64_accuracy():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2**64, 20_000, dtype=np.uint64, endpoint=False) >> rng.integers(0, 64, 20_000).astype(np.uint64)
    x[:3] = [0, 1, (1 << 52) - 1]
    u = []
    for v in x.tolist():
        z, scale = (2 * v + 1, 2.0**-65) if v < 1 << 52 else (v, 2.0**-64)
        drop = max(z.bit_length() - 53, 0)
        u.append(float((z >> drop) << drop) * scale)  # exact: 53 significant bits
    assert _ulps(R.neg_log_f64(x), -np.log(np.array(u)), np.float64).max() <= 2.0


def test_sincos_f32_accuracy():
    w = np.random.default_rng(3).integers(0, 2**32, 200_000, dtype=np.uint64)
    t = (w + (1 << 29)) & 0xFFFFFFFF
    q = (t >> 30).astype(np.int64)
    m = 2 * (((t & 0x3FFFFFFF) >> 6).astype(np.int64) - (1 << 23)) + 1
    angle = q * (np.pi / 2) + m * (np.pi * 2.0**-26)
    c, s = R.sincos_f32(w.astype(np.uint32))
    assert np.abs(c - np.cos(angle)).max() < 3e-7
    assert np.abs(s - np.sin(angle)).max() < 3e-7


def test_sincos_f64_accuracy():
    x = np.random.default_rng(4).integers(0, 2**63, 100_000, dtype=np.uint64)
    c, s = R.sincos_f64(x)
    t = x + np.uint64(1 << 61)
    q = (t >> np.uint64(62)).astype(np.int64)
    m = 2 * (((t & np.uint64((1 << 62) - 1)) >> np.uint64(9)).astype(np.int64) - (1 << 52)) + 1
    angle = q * (np.pi / 2) + m.astype(np.float64) * (np.pi * 2.0**-55)
    assert np.abs(c - np.cos(angle)).max() < 5e-16 * 4
    assert np.abs(s - np.sin(angle)).max() < 5e-16 * 4


def test_log_f64_accuracy_and_agreement_with_neg_log():
    """log_f64 (any positive double, subnormals included; data's Beta draws) is within
    1 ulp and is exactly the stream's log: -log_f64(u) == neg_log_f64(w) for the u of w."""
    rng = np.random.default_rng(3)
    y = rng.random(100_000) * 10.0 ** rng.integers(-300, 300, 100_000)
    y = np.concatenate([y, [1.0, 2.0, 0.5, math.e, 5e-324, 3e-320, 2.2250738585072014e-308,
                            1.7976931348623157e308]])
    assert _ulps(R.log_f64(y), np.log(y), np.float64).max() <= 1.0
    assert R.log_f64(np.array([1.0]))[0] == 0.0
    w = rng.integers(1 << 63, 2**64, 10_000, dtype=np.uint64, endpoint=False)  # 64 significant bits
    u = ((w >> np.uint64(11)) << np.uint64(11)).astype(np.float64) * 2.0**-64  # its u: the top 53 bits
    assert np.array_equal(-R.log_f64(u), R.neg_log_f64(w))


def test_torch_log_equals_the_reference_log_and_handles_special_values(device):
    import torch

    from keystream.montecarlo import log

    rng = np.random.default_rng(4)
    y = rng.random(50_000) * 10.0 ** rng.integers(-300, 300, 50_000)
    y = np.concatenate([y, [1.0, 0.5, 5e-324, 3e-320, 2.2250738585072014e-308, 1.7976931348623157e308]])
    got = log(torch.from_numpy(y).to(device)).cpu().numpy()
    assert np.array_equal(got.view(np.uint64), R.log_f64(y).view(np.uint64))
    special = log(torch.tensor([0.0, -0.0, -1.0, float("inf"), float("nan")], dtype=torch.float64, device=device))
    assert special.cpu().tolist()[:2] == [float("-inf")] * 2 and special[3].item() == float("inf")
    assert bool(torch.isnan(special[[2, 4]]).all())


def test_exp_numpy_form_equals_torch_form():
    """The stream's exp in numpy (the reference engine's) and in torch ops, bit for bit, on
    random arguments, near the saturation limits, at ties of the range reduction and at 0."""
    import torch

    from keystream._core._math import numpy_forms, torch_forms

    rng = np.random.default_rng(5)
    special = [0.0, -0.0, 1.0, -1.0, 0.5 * math.log(2), 708.0, 708.9, 709.0, 709.5, 709.78, -707.9, -708.0,
               -708.5, -745.0, 1e-300, -1e-300, 3.5 * 0.6931471805599453]
    x = np.concatenate([rng.uniform(-700, 700, 20000), rng.normal(0, 3, 20000), np.array(special)])
    want = torch_forms.exp_f64(torch.from_numpy(x)).numpy()
    got = numpy_forms.exp_f64(x)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
