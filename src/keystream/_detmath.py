"""Deterministic elementwise math: the same bits on every device.

torch.exp is a library routine whose bits differ between CPU and GPU; a Monte Carlo
integrand or an augmentation parameter using it differs between devices.  ``exp``
and ``log`` here use only IEEE ``+ - * /`` with integer range reduction and the
constant table; ``log`` is the stream's own float64 log (the polynomial of the
normal and exponential draws).  Used by ``montecarlo`` (re-exported there) and by
``data``'s Beta draws.
"""
from __future__ import annotations

import torch

from ._constants import f64

__all__ = ["exp", "log"]

_C = [f64(f"EXP_C{i}_F64") for i in range(13)]


def exp(x: torch.Tensor) -> torch.Tensor:
    """``e^x`` in float64, within 2 ulp, identical on every device (no FMA: one op per torch call).

    ``k = round(x / ln 2)``, ``r = (x - k*LN2_HI) - k*LN2_LO``, ``e^r`` by a degree-12
    polynomial, scaled by ``2^k`` built from bits.  Arguments beyond +-708 saturate to
    ``inf`` / ``0``.
    """
    x = x.to(torch.float64)
    big, small = x > 709.0, x < -708.0
    xc = x.clamp(-708.0, 709.0)
    k = torch.round(xc * f64("INV_LN2_F64"))
    r = (xc - k * f64("LN2_HI_F64")).sub_(k * f64("LN2_LO_F64"))
    p = torch.full_like(r, _C[12])
    for c in reversed(_C[:12]):
        p.mul_(r).add_(c)  # in place: the same two roundings as p * r + c, half the time
    ki = k.to(torch.int64)
    # 2^k as two factors so that k = 1024 (x near 709.78) stays finite where it should
    half = ki // 2
    s1 = ((half + 1023) << 52).view(torch.float64)
    s2 = ((ki - half + 1023) << 52).view(torch.float64)
    y = p.mul_(s1).mul_(s2)
    y = torch.where(big, torch.full_like(y, float("inf")), y)
    return torch.where(small, torch.zeros_like(y), y)


def log(x: torch.Tensor) -> torch.Tensor:
    """``ln(x)`` in float64, within 1 ulp, identical on every device (one op per torch call).

    The stream's float64 log (the portable engine's, bit for bit): ``x = 2^k * m`` from
    the bits (subnormals normalised), ``m`` folded into [sqrt(2)/2, sqrt(2)),
    ``s = f / (2 + f)`` with ``f = m - 1``, a degree-7 polynomial in ``s^2``.
    ``log(0) = -inf``, ``log(inf) = inf``, negative or NaN arguments give NaN.
    """
    from ._math.torch_forms import bit_length, log_parts_f64

    x = x.to(torch.float64)
    b = x.view(torch.int64)
    e = (b >> 52) & 0x7FF
    frac = b & ((1 << 52) - 1)
    n = bit_length(frac, 52)  # subnormals: move the fraction's leading bit to bit 52
    sub = e == 0
    frac_sub = (frac << torch.clamp(53 - n, 0, 63)) & ((1 << 52) - 1)
    y = log_parts_f64(torch.where(sub, n - 1075, e - 1023), torch.where(sub, frac_sub, frac))
    # special values in place (y is a fresh tensor; a fresh large tensor costs page faults)
    y.masked_fill_(x == 0.0, float("-inf"))
    y.masked_fill_(x == float("inf"), float("inf"))
    return y.masked_fill_((x < 0.0) | torch.isnan(x), float("nan"))
