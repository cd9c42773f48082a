"""The keyed Feistel permutation's parameters (docs/spec.md section 7), shared by every engine.

The round keys are the words of two stream blocks; the C and Triton engines, the portable
and reference engines and :class:`keystream.Permutation` all take them from here.  What
they share is pinned by the randperm goldens, and tests/test_engines.py re-derives the keys
from the bits draw at the same offset.
"""
from __future__ import annotations

import numpy as np

from .._kinds import PERM_KEY_BLOCKS
from .._philox import philox4x32

__all__ = ["feistel_keys", "half_bits"]


def feistel_keys(key: tuple[int, int], offset: int) -> list[int]:
    """The 8 round keys: the words of blocks ``offset`` and ``offset + 1``, in order."""
    blocks = np.uint64(offset) + np.arange(PERM_KEY_BLOCKS, dtype=np.uint64)
    ws = philox4x32(blocks & np.uint64(0xFFFFFFFF), blocks >> np.uint64(32), 0, 0, key[0], key[1])
    return [int(ws[i][b]) for b in range(PERM_KEY_BLOCKS) for i in range(4)]


def half_bits(n: int) -> int:
    """Half width ``h`` of the Feistel domain ``[0, 4^h)``: the smallest ``h >= 1`` with ``4^h >= n``."""
    return max(1, ((n - 1).bit_length() + 1) // 2)
