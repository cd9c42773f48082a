"""Deterministic elementwise math: the same bits on every device.

torch.exp is a library routine whose bits differ between CPU and GPU; a Monte Carlo
integrand or an augmentation parameter using it differs between devices.  ``exp``
and ``log`` here use only IEEE ``+ - * /`` with integer range reduction and the
constant table; ``log`` is the stream's own float64 log (the polynomial of the
normal and exponential draws).  Both live in the stream math (``_math.torch_forms``;
``_math.numpy_forms`` has the numpy forms) and are re-exported here.  Used by ``montecarlo`` (re-exported there) and by
``data``'s Beta draws.
"""
from __future__ import annotations

import torch

from ._math.torch_forms import exp_f64, log_f64

__all__ = ["exp", "log"]


def _float64(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating point tensor, got {x.dtype}")
    return x.to(torch.float64)


def exp(x: torch.Tensor) -> torch.Tensor:
    """``e^x`` in float64, the same bits on every device (the stream's exp: see
    ``_math.torch_forms.exp_f64``); ``x`` a float tensor (computed in float64)."""
    return exp_f64(_float64(x, "x"))


def log(x: torch.Tensor) -> torch.Tensor:
    """``ln x`` in float64, the same bits on every device (the stream's float64 log: see
    ``_math.torch_forms.log_f64``); ``x`` a float tensor (computed in float64)."""
    return log_f64(_float64(x, "x"))
