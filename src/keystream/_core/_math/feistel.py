"""The keyed permutations' parameters (docs/spec.md sections 7 and 10), shared by every engine.

The round keys are the words of two stream blocks; the C and Triton engines, the portable
and reference engines and :class:`keystream.Permutation` all take them from here.  What
they share is pinned by the randperm goldens, and tests/test_engines.py re-derives the keys
from the bits draw at the same offset.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._constants import u32
from .._kinds import PERM_KEY_BLOCKS
from .._philox import philox4x32, philox4x32_scalar
from .xp import namespace

__all__ = ["ROUNDS_V2", "ROUND_C2", "ROUND_C3", "SORT_MAX", "feistel_keys", "half_bits", "permutation_key"]


def feistel_keys(key: tuple[int, int], offset: int) -> list[int]:
    """The 8 round keys: the words of blocks ``offset`` and ``offset + 1``, in order."""
    return [w for b in range(PERM_KEY_BLOCKS)
            for w in philox4x32_scalar(((offset + b) & 0xFFFFFFFF, (offset + b) >> 32, 0, 0), key)]


def half_bits(n: int) -> int:
    """Half width ``h`` of the Feistel domain ``[0, 4^h)``: the smallest ``h >= 1`` with ``4^h >= n``."""
    return max(1, ((n - 1).bit_length() + 1) // 2)


# ------------------------------------------------------------------ stream version 2
#: randperm / Permutation of n <= this sort 64-bit keys; larger n use the Feistel network.
SORT_MAX = u32("PERM_V2_SORT_MAX")
#: Feistel rounds of stream version 2, each one Philox block under the permutation key.
ROUNDS_V2 = u32("PERM_V2_ROUNDS")
#: Counter words (c2, c3) of a round-function block: never those of a draw (0, 0) or of a
#: key derivation (tag, 1).
ROUND_C2, ROUND_C3 = u32("TAG_PERM_ROUND"), u32("PERM_ROUND_C3")


def permutation_key(key: tuple[Any, Any], offset: Any) -> tuple[Any, Any]:
    """Stream version 2's permutation key: words 0 and 1 of block ``offset`` (docs/spec.md
    section 10); its sort keys and round functions are Philox blocks under this key.  Python
    ints (one block in Python); arrays (keystream.jax's traced keys) through :func:`philox4x32`."""
    if all(type(v) is int for v in (*key, offset)):
        w = philox4x32_scalar((offset & 0xFFFFFFFF, offset >> 32, 0, 0), key)
        return w[0], w[1]
    xp = namespace(*key, offset)
    off = xp.asarray(offset, dtype=np.uint64)
    words = philox4x32(off & np.uint64(0xFFFFFFFF), off >> np.uint64(32), np.uint32(0), np.uint32(0), key[0], key[1])
    return words[0], words[1]

