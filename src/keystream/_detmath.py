"""Deterministic elementwise math: the same bits on every device.

torch.exp is a library routine whose bits differ between CPU and GPU; a Monte Carlo
integrand or an augmentation parameter using it differs between devices.  ``exp``
here uses only IEEE ``+ - *`` with integer range reduction and the constant table,
like the stream's own log.  Used by ``montecarlo`` (re-exported there) and by
``data``'s Beta draws.
"""
from __future__ import annotations

import torch

from ._constants import f64

__all__ = ["exp"]

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
    r = (xc - k * f64("LN2_HI_F64")) - k * f64("LN2_LO_F64")
    p = torch.full_like(r, _C[12])
    for c in reversed(_C[:12]):
        p = p * r + c
    ki = k.to(torch.int64)
    # 2^k as two factors so that k = 1024 (x near 709.78) stays finite where it should
    half = ki // 2
    s1 = ((half + 1023) << 52).view(torch.float64)
    s2 = ((ki - half + 1023) << 52).view(torch.float64)
    y = (p * s1) * s2
    y = torch.where(big, torch.full_like(y, float("inf")), y)
    return torch.where(small, torch.zeros_like(y), y)
