"""Per-sample randomness: a Generator per (seed, epoch, sample index), wherever the sample is made."""
from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .._core._keys import TAG_FOLD_INT, Key, canonical_seed, derive_key, fold_in_key
from .._mode._torch_mode import torch_random
from .._torch._generator import CPU, Generator, _with_key, resolve_generator
from ._sampler import epoch_generator

__all__ = ["sample_generator", "PerSampleDataset", "seeded_globals"]

_U64 = 1 << 64


def sample_generator(seed: int, epoch: int, index: int, device: torch.device | str | None = None) -> Generator:
    """The generator of sample ``index`` in epoch ``epoch``.

    ``Generator(seed).fold_in(epoch).fold_in("sample").fold_in(index)``: the same in the
    main process or any DataLoader worker, for any number of workers or ranks.
    """
    if type(seed) is int and type(epoch) is int and type(index) is int and 0 <= index < _U64:
        # (exact ints, the common call: a cache of one key per epoch, then one derivation)
        parent = _PARENTS.get((seed, epoch))
        if parent is None:
            parent = _samples_key(seed, epoch)
        key = derive_key(parent, index, TAG_FOLD_INT)
    else:  # (what raises for a bad seed, epoch or index)
        key = fold_in_key(epoch_generator(seed, epoch).fold_in("sample").key, index)
    return _with_key(key, CPU if device is None else torch.device(device))


#: (seed, epoch) -> epoch_generator(seed, epoch).fold_in("sample").key, for the latest few epochs
_PARENTS: dict[tuple[int, int], Key] = {}


def _samples_key(seed: int, epoch: int) -> Key:
    """``epoch_generator(seed, epoch).fold_in("sample").key``, kept in ``_PARENTS`` (the same few
    recur: one per epoch)."""
    key = fold_in_key(epoch_generator(seed, epoch).key, "sample")
    if len(_PARENTS) >= 64:
        _PARENTS.clear()
    _PARENTS[(seed, epoch)] = key
    return key


class PerSampleDataset(Dataset):
    """Wraps a dataset so that every ``__getitem__`` gets its own sample Generator.

    Args:
        dataset: any map-style dataset.
        seed: the run's seed.
        transform: ``transform(sample, generator) -> sample``; keystream draws from
            ``generator`` are reproducible per sample, and so are torch's random functions
            it calls (``torch.rand``, ``Tensor.uniform_``, ...): it runs inside
            :func:`keystream.torch_random` of the sample generator.
        torch_draws: run the transform inside ``torch_random`` (True); False leaves torch's
            random functions to torch's generator.
        seed_globals: also seed torch's, numpy's and Python's global RNGs from the
            sample generator around the transform (see :func:`seeded_globals`), so that
            unmodified transforms (torchvision v2, albumentations, ``random``) become
            per-sample reproducible.

    Keys may be an index (using the epoch set by :meth:`set_epoch`) or an
    ``(epoch, index)`` pair, which also works with persistent workers.
    """

    def __init__(self, dataset: Any, seed: int, transform: Callable[[Any, Generator], Any] | None = None,
                 *, torch_draws: bool = True, seed_globals: bool = False) -> None:
        canonical_seed(seed)
        self.dataset = dataset
        self.seed = seed
        self.transform = transform
        self.torch_draws = torch_draws
        self.seed_globals = seed_globals
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        g = sample_generator(self.seed, epoch, index)
        sample = self.dataset[index]
        if self.transform is None:
            return sample
        with contextlib.ExitStack() as stack:
            if self.seed_globals:
                stack.enter_context(seeded_globals(g.fold_in("globals")))
            if self.torch_draws:
                stack.enter_context(torch_random(g))
            return self.transform(sample, g)


@contextlib.contextmanager
def seeded_globals(generator: Generator) -> Iterator[None]:
    """Seed torch's (CPU), numpy's and Python's global RNGs from ``generator``; restore them after.

    The seeds are the generator's first four 64-bit words (it is not advanced: a clone
    is used), so the same sample generator always gives the same global seeds.
    """
    words = resolve_generator(generator).clone().bits(3, dtype=torch.int64).tolist()
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        torch.random.default_generator.manual_seed(words[0] & (2**63 - 1))
        np.random.seed(words[1] & 0xFFFFFFFF)
        random.seed(words[2] & (2**64 - 1))
        yield
    finally:
        torch.random.set_rng_state(torch_state)
        np.random.set_state(np_state)
        random.setstate(py_state)
