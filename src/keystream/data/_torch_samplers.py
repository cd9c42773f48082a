"""torch.utils.data's random samplers and ``random_split``, keyed by a keystream Generator.

The same arguments and iteration as torch's (``RandomSampler``, ``SubsetRandomSampler``,
``WeightedRandomSampler``, ``random_split``), for code and APIs that want those names;
the numbers are keystream draws from ``generator`` (default: keystream's default
generator), which each iteration advances.  For training at scale, :class:`ShuffleSampler`
is the sampler to use (world-size independent, resumable, O(1) memory).
"""
from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Iterator, Sequence, Sized
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler, Subset

from .._torch._composite import multinomial
from .._torch._draws import randint, randperm
from .._torch._generator import Generator, resolve_generator

__all__ = ["RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "random_split"]

#: Indices drawn at a time with replacement (a draw each: bounded memory for any num_samples).
_CHUNK = 1 << 16


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class RandomSampler(Sampler[int]):
    """Random indices of ``data_source``, as :class:`torch.utils.data.RandomSampler`.

    Args:
        data_source: a sized dataset.
        replacement: draw with replacement (``num_samples`` independent indices).
        num_samples: indices per iteration (default ``len(data_source)``; without
            replacement, more than that gives whole permutations, then part of one).
        generator: the keystream generator (default: keystream's default generator).

    Reproducibility:
        Without replacement: ``randperm(n)`` draws (one per ``n`` indices); with it,
        ``randint(0, n, (65536,))`` draws, the last one shorter; from the generator's state
        when iteration starts.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else _count(num_samples, "num_samples")
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        n, total = len(self.data_source), self.num_samples
        g = resolve_generator(self.generator)
        if self.replacement:
            for lo in range(0, total, _CHUNK):
                yield from randint(0, n, (min(_CHUNK, total - lo),), generator=g).tolist()
            return
        for _ in range(total // n):
            yield from randperm(n, generator=g).tolist()
        if total % n:
            yield from randperm(n, generator=g)[: total % n].tolist()


class SubsetRandomSampler(Sampler[int]):
    """The elements of ``indices`` in a random order, as torch's ``SubsetRandomSampler``.

    Reproducibility:
        ``randperm(len(indices))`` from the generator's state when iteration starts.
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=resolve_generator(self.generator)).tolist():
            yield self.indices[i]


class WeightedRandomSampler(Sampler[int]):
    """Indices ``[0, len(weights))`` drawn with probabilities proportional to ``weights``, as
    torch's ``WeightedRandomSampler``.

    Reproducibility:
        One :func:`keystream.multinomial` draw of ``num_samples`` from float64 ``weights``
        at the generator's state when iteration starts.
    """

    def __init__(self, weights: Sequence[float] | torch.Tensor, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = torch.as_tensor(weights, dtype=torch.float64)
        if w.dim() != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = _count(num_samples, "num_samples")
        self.replacement = replacement
        self.generator = generator

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        picks = multinomial(self.weights, self.num_samples, self.replacement,
                            generator=resolve_generator(self.generator))
        yield from picks.tolist()


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None
                 ) -> list[Subset]:
    """Split ``dataset`` into non-overlapping subsets, as :func:`torch.utils.data.random_split`
    (lengths, or fractions that sum to 1: ``floor(n * f)`` each, the remainder given one at
    a time from the first split on).

    Reproducibility:
        One ``randperm(n)`` draw from ``generator`` (default: keystream's default generator).
    """
    n = len(dataset)  # type: ignore[arg-type]
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
    else:
        sizes = [int(x) for x in lengths]
    if sum(sizes) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = randperm(n, generator=resolve_generator(generator)).tolist()
    return [Subset(dataset, order[end - size: end]) for end, size in zip(itertools.accumulate(sizes), sizes)]
