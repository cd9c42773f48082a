"""Stream version 2's truncated normal: the host-side plan shared by every engine.

NOTE [ Truncated normal by rejection ]
Version 1 took the first of 16 normal candidates inside ``[a, b]`` and clamped the last one
when none was: on an unlikely interval most of the mass landed on the bounds.  Version 2
standardises the interval to ``[alpha, beta]`` (mirrored so that ``beta > 0``) and picks
the proposal with a high acceptance rate there (Robert, 1995):

* ``NORMAL``: ``alpha < 0 < beta`` and ``beta - alpha >= sqrt(2 pi)``: a standard normal,
  accepted inside the interval (probability at least 0.494);
* ``UNIFORM``: a narrower interval around 0, or ``0 <= alpha`` with ``(beta - alpha) lam <
  1.25``: ``x`` uniform on the interval, accepted when ``-ln v >= ((x - m)/2)(x + m)`` with
  ``m = max(alpha, 0)`` (probability above 0.55);
* ``EXPONENTIAL``: other tails ``0 <= alpha``: ``x = alpha + E / lam`` with ``lam = (alpha +
  sqrt(alpha^2 + 4)) / 2``, accepted when ``x <= beta`` and ``-ln v >= ((x - lam)/2)(x -
  lam)`` (probability above 0.55).

Each element tries 32 candidates, one Philox block each, and takes the first accepted; if
none is (probability below 4e-10 for any interval), the last candidate's proposal clamped
to the interval.  All in float64, rounded once to the dtype.
"""
from __future__ import annotations

import math

from .._constants import f64, u32

__all__ = ["CANDIDATES", "CONST", "EXPONENTIAL", "NORMAL", "UNIFORM", "plan"]

#: Candidates (blocks) per element.
CANDIDATES = u32("TN_CANDIDATES")
#: The methods (``plan``'s eighth parameter).
CONST, NORMAL, UNIFORM, EXPONENTIAL = 0.0, 1.0, 2.0, 3.0


def plan(mean: float, std: float, a: float, b: float) -> tuple[float, ...]:
    """The kernel parameters ``(mean, std, a, b, alpha, beta, sign, method, m)`` of a
    truncated normal: the standardised (and, with ``sign = -1``, mirrored) interval, the
    method, and ``m`` (UNIFORM: the point of the interval nearest 0; EXPONENTIAL: ``lam``).
    Python floats are IEEE float64 and ``math.sqrt`` is correctly rounded: the same on
    every machine.  The caller checks ``a < b``, ``std >= 0`` and that all are finite or
    infinite bounds."""
    if std == 0.0:
        return (mean, std, a, b, 0.0, 0.0, 1.0, CONST, 0.0)
    alpha, beta = (a - mean) / std, (b - mean) / std
    sign = 1.0
    if beta <= 0.0:
        alpha, beta, sign = -beta, -alpha, -1.0
    if alpha < 0.0:
        if beta - alpha >= f64("SQRT_2PI_F64"):
            return (mean, std, a, b, alpha, beta, sign, NORMAL, 0.0)
        return (mean, std, a, b, alpha, beta, sign, UNIFORM, 0.0)
    lam = (alpha + math.sqrt(alpha * alpha + f64("FOUR_F64"))) * f64("HALF_F64")
    if (beta - alpha) * lam < f64("TN_UNIFORM_WIDTH_F64"):
        return (mean, std, a, b, alpha, beta, sign, UNIFORM, alpha)
    return (mean, std, a, b, alpha, beta, sign, EXPONENTIAL, lam)
