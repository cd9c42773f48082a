"""torch's DataLoader, telling a ShuffleSampler what the training loop has received."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch.utils.data

from ._sampler import ShuffleSampler

__all__ = ["DataLoader"]


class DataLoader(torch.utils.data.DataLoader):
    """:class:`torch.utils.data.DataLoader` (the same arguments) that counts the batches it
    hands to the training loop, so that a :class:`ShuffleSampler`'s ``state_dict()`` records
    what was trained on, not what the workers prefetched.

    Reproducibility:
        The batches are torch's DataLoader's; only the sampler's checkpoint changes: after
        ``k`` batches of one epoch, ``sampler.state_dict()`` is the state at step ``k``.
    """

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
