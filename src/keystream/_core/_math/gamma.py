"""The gamma family's definition on numpy's API (NOTE [ Gamma with a fixed number of
candidates ] and NOTE [ Gamma in log space ] in ``keystream._torch._composite``).

The torch form (``_composite._marsaglia_tsang`` and beta's / dirichlet's ``rows``) is what
the engines without a kernel compute; this is the same sequence of IEEE operations for the
front ends that compute on numpy or jax.numpy arrays (``keystream.jax``): one operation per
call, in the torch form's order, with the stream's ``log`` and ``exp``
(:mod:`.numpy_forms`) and a correctly rounded square root.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .numpy_forms import c64, exp_f64, log_f64
from .xp import namespace

__all__ = ["CANDIDATES", "beta_rows", "dirichlet_rows", "marsaglia_tsang"]

#: Candidates per element: ``CANDIDATES`` normals and ``CANDIDATES + 1`` exponentials.
CANDIDATES = 12


def marsaglia_tsang(alpha: Any, z: Any, e: Any, version: int, with_log: bool = False) -> tuple[Any, Any]:
    """Standard Gamma(``alpha``) in float64 from each element's 12 normals ``z`` [n, 12] and 13
    exponentials ``e`` [n, 13] (float64), ``alpha`` [n] float64 > 0; with ``with_log``, the
    values' logs computed without the boost's exp too (else None)."""
    xp = namespace(alpha, z, e)
    one = c64("ONE_F64")
    boost = alpha < one
    s = xp.where(boost, alpha + one, alpha)[:, None]
    d = s - c64("THIRD_F64")
    c = one / xp.sqrt(c64("NINE_F64") * d)
    t = one + c * z
    v = (t * t) * t
    positive = v > 0.0
    log_v = log_f64(xp.where(positive, v, one))
    rhs = (((c64("HALF_F64") * z) * z + d) - d * v) + d * log_v
    accept = positive & (-e[:, :CANDIDATES] < rhs)
    first = xp.min(xp.where(accept, xp.arange(CANDIDATES), CANDIDATES), axis=1)
    chosen = xp.take_along_axis(d * v, xp.minimum(first, CANDIDATES - 1)[:, None], axis=1)[:, 0]
    value = xp.where(first < CANDIDATES, chosen, d[:, 0])
    exponent = -e[:, CANDIDATES] / alpha
    power = exp_f64(exponent, subnormal=version >= 2)  # U^(1/alpha) = exp(-E / alpha)
    logs = xp.where(boost, log_f64(value) + exponent, log_f64(value)) if with_log else None
    return xp.where(boost, value * power, value), logs


def dirichlet_rows(params: Any, x: Any, lx: Any) -> Any:
    """Dirichlet's rows [n, k] from the Gammas ``x`` of ``params`` and their logs ``lx`` (None:
    no parameter below 1): the torch form's operations, the sums left to right."""
    xp = namespace(params, x)
    k = x.shape[-1]
    in_log = None
    if lx is not None:
        top = xp.max(lx, axis=-1, keepdims=True)
        w = exp_f64(lx - top, subnormal=True)
        wsum = w[..., 0]
        for i in range(1, k):
            wsum = wsum + w[..., i]
        in_log = xp.any(params < 1.0, axis=-1, keepdims=True)
        x = xp.where(in_log, w / wsum[..., None], x)
    total = x[..., 0]
    for i in range(1, k):
        total = total + x[..., i]
    total = total[..., None]
    if in_log is not None:
        total = xp.where(in_log, c64("ONE_F64"), total)
    uniform = xp.full(x.shape, c64("ONE_F64")) / np.float64(k)
    return xp.where(total > 0.0, x / xp.where(total > 0.0, total, c64("ONE_F64")), uniform)


def beta_rows(params: Any, x: Any, lx: Any) -> Any:
    """Beta's values [n] from the Gammas ``x`` [n, 2] of ``params`` and their logs (None: no
    parameter below 1): the torch form's operations."""
    xp = namespace(params, x)
    total = x[..., 0] + x[..., 1]
    value = xp.where(total > 0.0, x[..., 0] / xp.where(total > 0.0, total, c64("ONE_F64")), c64("HALF_F64"))
    if lx is not None:
        t = lx[..., 1] - lx[..., 0]
        low = t <= 0.0
        r = exp_f64(xp.where(low, t, -t), subnormal=True)
        one = c64("ONE_F64")
        in_log = xp.any(params < 1.0, axis=-1)
        value = xp.where(in_log, xp.where(low, one / (one + r), r / (one + r)), value)
    return value
