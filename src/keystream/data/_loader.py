"""torch's DataLoader, telling a ShuffleSampler what the training loop has received."""
from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import torch.utils.data

from .._torch._generator import Generator
from ._sampler import ShuffleSampler
from ._torch_samplers import RandomSampler

__all__ = ["DataLoader"]

#: torch's DataLoader's parameters after the dataset, in order.
_PARAMETERS = tuple(inspect.signature(torch.utils.data.DataLoader.__init__).parameters)[2:]


class DataLoader(torch.utils.data.DataLoader):
    """:class:`torch.utils.data.DataLoader` (the same arguments) that counts the batches it
    hands to the training loop, so that a :class:`ShuffleSampler`'s ``state_dict()`` records
    what was trained on, not what the workers prefetched.

    ``generator`` may be a :class:`keystream.Generator`: ``shuffle=True`` then draws each
    epoch's order with :class:`keystream.data.RandomSampler` from it, and the workers' base
    seed comes from ``generator.torch_generator()`` (made once, here: it moves the
    generator's spawn count by one).

    Reproducibility:
        The batches are torch's DataLoader's; only the sampler's checkpoint changes: after
        ``k`` batches of one epoch, ``sampler.state_dict()`` is the state at step ``k``.
        With a keystream generator and ``shuffle=True``, the order of each epoch is
        ``keystream.randperm(len(dataset))`` from the generator's state when the epoch starts.
    """

    def __init__(self, dataset: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.update(zip(_PARAMETERS, args))  # (torch's positional order)
        args = ()
        g = kwargs.get("generator")
        if isinstance(g, Generator):
            if kwargs.get("shuffle") and kwargs.get("sampler") is None and kwargs.get("batch_sampler") is None:
                kwargs["shuffle"] = False
                kwargs["sampler"] = RandomSampler(dataset, generator=g)
            kwargs["generator"] = g.torch_generator()
        super().__init__(dataset, *args, **kwargs)

    def _shuffle_sampler(self) -> ShuffleSampler | None:
        for s in (self.sampler, getattr(self.batch_sampler, "sampler", None)):
            if isinstance(s, ShuffleSampler):
                return s
        return None

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        it = super().__iter__()
        sampler = self._shuffle_sampler()
        if sampler is None:
            return it
        return self._counting(it, sampler)

    def _counting(self, it: Iterator[Any], sampler: ShuffleSampler) -> Iterator[Any]:
        per_batch = self.batch_size if self.batch_size is not None else 1
        sampler._delivered = 0
        for batch in it:
            sampler._delivered += per_batch
            yield batch
