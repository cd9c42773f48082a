"""Random-access permutations: ``pi(i)`` alone (docs/spec.md sections 7 and 10).

Stream version 2 (the default): for ``n <= 2^16``, ``pi`` lists the indices of ``n`` random
64-bit keys in increasing key order (a table of at most 512 KiB, made at the first lookup);
above, a 10-round Feistel network on ``[0, 4^h)`` whose rounds add (modulo ``2^h``) a round
function made of Philox blocks under the permutation key, cycle-walked into ``[0, n)``:
O(1) memory.  Rounds that add, unlike XOR rounds, reach odd permutations too.

Stream version 1: a keyed Feistel network on ``[0, 4^h)`` (the smallest ``h >= 1`` with
``4^h >= n``) with 8 rounds, cycle-walked into ``[0, n)``::

    L, R = x >> h, x & (2^h - 1)
    for k in round_keys:                      # 8 keys = the words of 2 blocks
        L, R = R, L ^ (fmix32(R ^ k) & (2^h - 1))
    x = (L << h) | R                          # repeat while x >= n

``fmix32`` is murmur3's finaliser (xor-shift 16, * 0x85EBCA6B, xor-shift 13,
* 0xC2B2AE35, xor-shift 16).  Each step is a bijection of ``[0, 4^h)``, so the
walk ends and ``pi`` is a bijection of ``[0, n)``; as ``4^h < 4n``, a walk takes
fewer than 4 steps on average.
"""
from __future__ import annotations

import numbers
from typing import Any, overload

import torch

from .._core._kinds import PERM_KEY_BLOCKS, PERM_V2_KEY_BLOCKS
from .._core._math.feistel import SORT_MAX, feistel_keys, permutation_key
from .._core._spec import DrawSpec
from .._engines import engine_for, get_engine
from ._devices import usable_device
from ._generator import Generator, resolve_generator

__all__ = ["Permutation"]

_INT64_MAX = (1 << 63) - 1  # (n = 2^63: every int64 index >= 0 is in range)


class Permutation:
    """A random permutation of ``[0, n)`` that is evaluated one index at a time.

    Args:
        n: the domain size, in [0, 2^63].
        generator: consumed exactly like ``randperm(n)`` (1 block; stream version 1: 2),
            so ``Permutation(n, g.clone())[i] == randperm(n, generator=g)[i]``.

    Reproducibility:
        ``pi`` depends only on the generator's key, offset and stream version at
        construction and on ``n``.

    Example:
        >>> from keystream import Generator
        >>> p = Permutation(10, Generator(7))
        >>> sorted(int(p[i]) for i in range(10)) == list(range(10))
        True
    """

    __slots__ = ("n", "round_keys", "_key", "_offset", "_version", "_pkey", "_table", "_tables")

    def __init__(self, n: int, generator: Generator | None = None) -> None:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if not 0 <= int(n) <= 1 << 63:
            raise ValueError(f"n must be in [0, 2**63], got {n}")
        g = resolve_generator(generator)
        self.n: int = int(n)
        version = g._version
        key, offset = g._reserve(PERM_KEY_BLOCKS if version == 1 else PERM_V2_KEY_BLOCKS, version)
        self._key: tuple[int, int] = key
        self._offset: int = offset
        self._version: int = version
        self._table: torch.Tensor | None = None
        self._tables: dict[torch.device, Any] = {}  # per device: the engine's permutation_tables
        self.round_keys: tuple[int, ...] = tuple(feistel_keys(key, offset)) if version == 1 else ()
        self._pkey: tuple[int, int] = permutation_key(key, offset) if version >= 2 else (0, 0)

    @property
    def _kind(self) -> str:
        return "randperm" if self._version == 1 else "randperm_v2"

    def _lookup(self, flat: torch.Tensor) -> torch.Tensor:
        """``pi`` of int64 indices in [0, n), on their device."""
        if self._version == 1:
            out = engine_for(flat.device).permute_indices(flat, self.n, self.round_keys)
            if out is None:  # the device's engine has no lookup kernel: the portable one
                out = get_engine("portable").permute_indices(flat, self.n, self.round_keys)
            assert out is not None
            return out
        if self.n <= SORT_MAX:  # the sorted keys' table, made once
            if self._table is None:
                self._table = self.range(0, self.n)
            return self._table.to(flat.device)[flat]
        engine = engine_for(flat.device)
        if flat.device not in self._tables:  # (made once per device: 10 2^a / 4 blocks, a <= 16)
            self._tables[flat.device] = engine.permutation_tables(self.n, self._pkey)
        out = engine.permute_indices_v2(flat, self.n, self._pkey, self._tables.get(flat.device))
        if out is None:
            out = get_engine("portable").permute_indices_v2(flat, self.n, self._pkey)
        assert out is not None
        return out

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: torch.Tensor) -> torch.Tensor: ...

    def __getitem__(self, index: Any) -> Any:
        """``pi(index)`` for an int or an integer tensor (any shape, any device)."""
        if isinstance(index, torch.Tensor):
            if index.dtype.is_floating_point or index.dtype == torch.bool or index.is_complex():
                raise TypeError(f"index must be an integer tensor, got dtype {index.dtype}")
            i = index.to(torch.int64)
            if i.numel() and (bool((i < 0).any()) or (self.n <= _INT64_MAX and bool((i >= self.n).any()))):
                raise IndexError(f"index out of range for a permutation of {self.n}")
            return self._lookup(i.reshape(-1)).reshape(index.shape)
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an int or an integer tensor, got {type(index).__name__}")
        if not 0 <= int(index) < self.n:
            raise IndexError(f"index {index} out of range for a permutation of {self.n}")
        return int(self[torch.tensor([int(index)])][0])

    def range(self, start: int, stop: int, device: torch.device | str | None = None) -> torch.Tensor:
        """``pi(start), ..., pi(stop - 1)`` as an int64 tensor, on the device's fastest engine.

        Equal to ``self[torch.arange(start, stop)]`` and to the region ``start:stop``
        of ``randperm(n)`` drawn from the same generator state.
        """
        for name, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"range {start}:{stop} is out of bounds for a permutation of {self.n}")
        dev = torch.device("cpu") if device is None else usable_device(device)
        out = torch.empty(stop - start, dtype=torch.int64, device=dev)
        if self._table is not None:
            return out.copy_(self._table[start:stop])
        if self._version >= 2 and self.n > SORT_MAX and stop > start:  # (the round tables, made once)
            return out.copy_(self._lookup(torch.arange(start, stop, device=dev)))
        spec = DrawSpec(self._kind, (self.n,), self._key, self._offset, (self.n,), ((start, stop),), torch.int64)
        if stop > start:
            engine_for(dev, self._kind, torch.int64).fill(out, spec)
        return out

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(self.n):
            yield self[i]

    def __repr__(self) -> str:
        return f"keystream.Permutation(n={self.n})"
