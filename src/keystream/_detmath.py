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

from ._math.torch_forms import exp_f64 as exp
from ._math.torch_forms import log_f64 as log

__all__ = ["exp", "log"]
