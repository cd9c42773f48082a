"""What one draw is: the engine-independent description every engine fills.

A :class:`DrawSpec` names a draw kind, its canonical parameters, the key, the
first block ``offset``, the virtual shape, the region of it to produce and the
output dtype.  It also knows how many 128-bit blocks the draw consumes
(docs/spec.md sections 3 and 4).  Engines turn a spec into numbers; the
Generator turns user arguments into a spec.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ._kinds import PERM_KEY_BLOCKS, PERM_V2_KEY_BLOCKS, layout

__all__ = ["DrawSpec", "blocks_for", "flat_strides", "zero_signs"]

# The draw kinds, their dtypes and element layouts live in the one table of _kinds.py.


@dataclass(frozen=True)
class DrawSpec:
    """One draw, described independently of any engine or device.

    Attributes:
        kind: one of ``_kinds.KINDS``.
        params: the kind's canonical parameters (``_kinds.KERNEL_KINDS``), Python numbers
            already rounded to the compute dtype.
        key: the two key words.
        offset: first block of the draw, in [0, 2^64).
        shape: the virtual tensor's shape; element ``e`` is its C-order flat index.
        region: ``(start, stop)`` per dimension; the engine produces ``full[region]``.
        dtype: output dtype.
    """

    kind: str
    params: tuple[Any, ...]
    key: tuple[int, int]
    offset: int
    shape: tuple[int, ...]
    region: tuple[tuple[int, int], ...]
    dtype: torch.dtype
    # derived once: a draw asks for these several times on its way to the kernel, and
    # per-call overhead is what small draws (and GPU launches) pay
    numel: int = field(init=False, repr=False, compare=False)
    out_shape: tuple[int, ...] = field(init=False, repr=False, compare=False)
    out_numel: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        out_shape = tuple(stop - start for start, stop in self.region)
        object.__setattr__(self, "numel", math.prod(self.shape))
        object.__setattr__(self, "out_shape", out_shape)
        object.__setattr__(self, "out_numel", math.prod(out_shape))

    @property
    def is_full(self) -> bool:
        return all(r == (0, n) for r, n in zip(self.region, self.shape))

    def contiguous_range(self) -> tuple[int, int] | None:
        """The flat range ``[e0, e1)`` if the region is one contiguous run, else None.

        That is the case when every dimension after the first partial one is full.
        """
        if self.out_numel == 0:
            return (0, 0)
        dims = len(self.shape)
        first = 0
        # find the first dimension (from the left) whose region is not a single index
        while first < dims - 1 and self.region[first][1] - self.region[first][0] == 1:
            first += 1
        for d in range(first + 1, dims):
            if self.region[d] != (0, self.shape[d]):
                return None
        strides = flat_strides(self.shape)
        e0 = sum(start * s for (start, _), s in zip(self.region, strides))
        return e0, e0 + self.out_numel

    def runs(self) -> tuple[list[tuple[int, int, int]], int, int]:
        """The region as runs of consecutive flat indices: ``(outer, run_offset, run_len)``.

        The trailing dimensions the region covers fully, and the last partial one, form
        one run of ``run_len`` consecutive elements; ``outer`` lists ``(start, count,
        stride)`` of the dimensions the runs step over.  Run ``r`` (a C-order multi-index
        ``i`` over the counts) starts at ``run_offset + sum_d (start_d + i_d) * stride_d``.
        Engines walk regions this way (C kernels, Triton's scattered kernel).
        """
        shape, region = self.shape, self.region
        strides = flat_strides(shape)
        d = len(shape)
        run = 1
        while d > 0 and region[d - 1] == (0, shape[d - 1]):
            run *= shape[d - 1]
            d -= 1
        if d == 0:
            return [], 0, run
        a, b = region[d - 1]
        outer = [(region[i][0], region[i][1] - region[i][0], strides[i]) for i in range(d - 1)]
        return outer, a * strides[d - 1], run * (b - a)

    def blocks(self) -> int:
        """Blocks this draw consumes: ``ceil(numel / k) * b`` (``layout``), or randperm's keys."""
        return blocks_for(self.kind, self.dtype, self.numel)


def zero_signs(params: tuple[Any, ...]) -> tuple[float, ...]:
    """The signs of the float parameters: with the parameters, a cache key that tells
    -0.0 from 0.0 (equal, and equal in hash, but not the same bits)."""
    return tuple(math.copysign(1.0, v) if isinstance(v, float) else 0.0 for v in params)


def blocks_for(kind: str, dtype: torch.dtype, numel: int) -> int:
    """``DrawSpec.blocks`` of a draw of ``numel`` elements, before its spec exists."""
    if kind == "randperm":
        return PERM_KEY_BLOCKS
    if kind == "randperm_v2":
        return PERM_V2_KEY_BLOCKS
    k, b = layout(kind, dtype)
    return -(-numel // k) * b


def flat_strides(shape: tuple[int, ...]) -> list[int]:
    """C-order strides, in elements, of a tensor of ``shape``."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return strides
