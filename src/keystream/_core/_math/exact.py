"""The exact accumulators' format (``montecarlo``'s exact sums): one fact, shared.

A sum is held in ``LIMBS`` signed 32-bit limbs (in int64), limb ``i`` worth
``2^(32 i - 1074)``: wide enough for any sum of squares of finite doubles.  The C
engine checks at load time that it was built with the same count (``ks_limbs``).
"""
from __future__ import annotations

__all__ = ["LIMBS"]

#: 32-bit limbs of the exact accumulators (limb i is worth 2^(32 i - 1074)).
LIMBS = 68
