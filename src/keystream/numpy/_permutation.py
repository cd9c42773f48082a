"""keystream.Permutation with numpy indices: ``pi(i)`` on demand, O(1) memory."""
from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .._torch._generator import Generator as TorchGenerator
from .._torch._permutation import Permutation as TorchPermutation
from ._generator import Generator

__all__ = ["Permutation"]


class Permutation:
    """A random permutation of ``[0, n)`` evaluated on demand (:class:`keystream.Permutation`),
    with numpy arrays for indices and values.

    Args:
        n: the domain size.
        generator: a :class:`keystream.numpy.Generator` or :class:`keystream.Generator`,
            consumed as ``permutation(n)`` would be.

    Reproducibility:
        ``p[i]`` is element ``i`` of ``Generator.permutation(n)`` from the same state.
    """

    __slots__ = ("_p",)

    def __init__(self, n: int, generator: Generator | TorchGenerator | None = None) -> None:
        self._p = TorchPermutation(n, generator.generator if isinstance(generator, Generator) else generator)

    def __len__(self) -> int:
        return len(self._p)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (numbers.Integral, np.integer)) and not isinstance(index, bool):
            return int(self._p[int(index)])
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return self.range(start, stop)[::step] if step > 0 else self[np.arange(start, stop, step)]
        idx = np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"index must be an int, a slice or an integer array, got dtype {idx.dtype}")
        return self._p[torch.from_numpy(np.ascontiguousarray(idx, dtype=np.int64))].numpy()

    def range(self, start: int, stop: int) -> np.ndarray:
        """``p[start:stop]`` as an int64 array."""
        return self._p.range(start, stop).numpy()

    def __iter__(self) -> Iterator[int]:
        return iter(self._p)

    def __repr__(self) -> str:
        return f"keystream.numpy.{self._p!r}".replace("keystream.numpy.keystream.", "keystream.numpy.")
