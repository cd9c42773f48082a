"""Layer 0: the Philox4x32-10 block function (Random123), in numpy.

This is the readable definition that every engine is tested against.  A block
function is a pure map ``(counter, key) -> 4 words``; see docs/spec.md
section 1.  Triton's ``tl.randint4x(seed, offset)`` computes the same function
with ``key = (seed lo, seed hi)`` and ``counter = (offset lo, offset hi, 0, 0)``.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._constants import u32
from ._math.xp import namespace

__all__ = ["philox4x32", "philox4x32_scalar"]

_M0 = np.uint64(u32("PHILOX_M0"))
_M1 = np.uint64(u32("PHILOX_M1"))
_M0_INT = u32("PHILOX_M0")
_M1_INT = u32("PHILOX_M1")
_W0 = u32("PHILOX_W0")
_W1 = u32("PHILOX_W1")
_ROUNDS = u32("PHILOX_ROUNDS")
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)

Words = tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint32]]


def philox4x32(
    c0: npt.ArrayLike,
    c1: npt.ArrayLike,
    c2: npt.ArrayLike,
    c3: npt.ArrayLike,
    k0: int | npt.ArrayLike,
    k1: int | npt.ArrayLike,
    rounds: int = _ROUNDS,
) -> Words:
    """Philox4x32-R on arrays of counters under one key.

    Args:
        c0, c1, c2, c3: counter words (anything numpy broadcasts to uint32).
        k0, k1: the two key words: Python ints in [0, 2^32), or arrays (one key per lane).
        rounds: number of rounds; the stream uses 10.

    Returns:
        The four output words ``(w0, w1, w2, w3)`` as uint32 arrays.
    """
    xp = namespace(c0, c1, c2, c3, k0, k1)  # (numpy; jax.numpy for keystream.jax)
    x0, x1, x2, x3 = (xp.asarray(c, dtype=np.uint32).astype(np.uint64) for c in (c0, c1, c2, c3))
    x0, x1, x2, x3 = xp.broadcast_arrays(x0, x1, x2, x3)
    for r in range(rounds):
        # The key is bumped by the Weyl increments *between* rounds: round 0 uses it as given.
        key0 = (xp.asarray(k0, dtype=np.uint64) + np.uint64(r * _W0)) & _MASK32
        key1 = (xp.asarray(k1, dtype=np.uint64) + np.uint64(r * _W1)) & _MASK32
        p0 = _M0 * x0  # 32x32 -> 64-bit product, never overflows uint64
        p1 = _M1 * x2
        hi0, lo0 = p0 >> _SHIFT32, p0 & _MASK32
        hi1, lo1 = p1 >> _SHIFT32, p1 & _MASK32
        x0, x1, x2, x3 = hi1 ^ x1 ^ key0, lo1, hi0 ^ x3 ^ key1, lo0
    return tuple(x.astype(np.uint32) for x in (x0, x1, x2, x3))  # type: ignore[return-value]


def philox4x32_scalar(
    counter: tuple[int, int, int, int], key: tuple[int, int], rounds: int = _ROUNDS
) -> tuple[int, int, int, int]:
    """Philox4x32-R on one counter, with Python ints (key derivation: ``fold_in``, ``spawn``).

    The same function as :func:`philox4x32`, written on Python ints because one block
    through numpy costs about 25 us in array overheads and this about 3 (tests compare
    the two on the known answers and on random counters and keys)."""
    x0, x1, x2, x3 = counter
    k0, k1 = key
    m0, m1, w0, w1, mask = _M0_INT, _M1_INT, _W0, _W1, 0xFFFFFFFF
    for _ in range(rounds):
        p0 = m0 * x0
        p1 = m1 * x2
        x0, x1, x2, x3 = (p1 >> 32) ^ x1 ^ k0, p1 & mask, (p0 >> 32) ^ x3 ^ k1, p0 & mask
        k0 = (k0 + w0) & mask
        k1 = (k1 + w1) & mask
    return x0, x1, x2, x3
