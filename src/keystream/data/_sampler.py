"""ShuffleSampler: a random-access, elastic, resumable sampler (O(1) memory).

NOTE [ the global sample stream ]
Epoch e's order is the permutation pi_e keyed by ``Generator(seed).fold_in(e)``.
Global position ``p`` (0, 1, 2, ...) holds sample ``pi_e(p mod n)`` (positions past
``n`` exist only with ``drop_last=False`` and wrap to the start: the tail is padded
globally, never per rank).  Step ``s`` covers positions ``[s*B, (s+1)*B)`` for the
global batch size ``B``; rank ``r`` of ``W`` takes ``[s*B + r*b, s*B + (r+1)*b)``
with ``b = B / W``.  So the ranks' batches of a step, in rank order, are the same
``B`` samples for every world size, and a resumed run continues from any global
position with any world size or number of workers, without replay.
"""
from __future__ import annotations

import itertools
import numbers
import sys
from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import Sampler

from .._core._keys import canonical_seed
from .._torch._generator import STREAM_VERSION, Generator, _check_version
from .._torch._permutation import Permutation

__all__ = ["ShuffleSampler", "epoch_generator"]

_CHUNK = 1 << 16


def epoch_generator(seed: int, epoch: int, stream_version: int = STREAM_VERSION) -> Generator:
    """``Generator(seed, stream_version=...).fold_in(epoch)``: the root of everything random in an epoch."""
    canonical_seed(seed)  # (checked: Generator takes a string for a device)
    return Generator(seed, stream_version=stream_version).fold_in(epoch)


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class ShuffleSampler(Sampler[int]):
    """Shuffles ``[0, n)`` per epoch, identically for any world size, and resumes anywhere.

    Args:
        data_source: a sized dataset, or its length ``n`` (any n up to 2^63).
        batch_size: the *global* batch size ``B`` (all ranks together).  Each rank's
            DataLoader should use ``batch_size // num_replicas``.  Default: ``num_replicas``.
        seed: the seed of every epoch's permutation (default 0, as DistributedSampler).
        num_replicas, rank: the world size and this rank (default: from
            torch.distributed when it is initialised, else 1 and 0).
        shuffle: ``False`` keeps the dataset order (positions map to themselves).
        drop_last: drop the epoch's last incomplete global batch; otherwise it is
            completed with the first samples of the epoch's order (decided globally).
        stream_version: the stream version of the epochs' permutations (default: the
            latest, 2; 1 reproduces the orders of keystream's first releases, whose
            permutations are not uniform).  Part of :meth:`state_dict`.

    Reproducibility:
        Position ``p`` of epoch ``e`` is ``Permutation(n, Generator(seed).fold_in(e))[p % n]``;
        nothing depends on the world size, the rank, ``num_workers`` or the DataLoader's
        batch size.  Memory is O(1) in ``n``.

    Example:
        >>> s = ShuffleSampler(10, batch_size=4, seed=1)
        >>> len(list(s))
        12
    """

    def __init__(self, data_source: Sized | int, batch_size: int | None = None, *, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 drop_last: bool = False, stream_version: int = STREAM_VERSION) -> None:
        if isinstance(data_source, bool) or not (isinstance(data_source, numbers.Integral)
                                                 or isinstance(data_source, Sized)):
            raise TypeError(f"data_source must be a sized dataset or its length (an int), got "
                            f"{type(data_source).__name__}")
        n = int(data_source) if isinstance(data_source, numbers.Integral) else len(data_source)
        if not 0 < n < 1 << 63:
            raise ValueError(f"the dataset length (data_source) must be in [1, 2**63), got {n}")
        self.n = n
        if num_replicas is None or rank is None:
            dist = torch.distributed
            initialised = dist.is_available() and dist.is_initialized()
            if num_replicas is None:
                num_replicas = dist.get_world_size() if initialised else 1
            if rank is None:
                rank = dist.get_rank() if initialised else 0
        self.num_replicas = _int(num_replicas, "num_replicas", 1)
        self.rank = _int(rank, "rank", 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"rank must be < num_replicas, got rank={rank}, num_replicas={num_replicas}")
        self.batch_size = _int(self.num_replicas if batch_size is None else batch_size, "batch_size", 1)
        if self.batch_size % self.num_replicas:
            raise ValueError(f"the global batch_size {self.batch_size} is not divisible by the world size "
                             f"{self.num_replicas}")
        self.seed = canonical_seed(seed)
        self.stream_version = _check_version(stream_version)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if self.steps * self.per_rank > sys.maxsize:  # (padding the last batch can pass 2^63 - 1)
            raise ValueError(f"an epoch of {self.n} samples (data_source) in global batches of {self.batch_size} "
                             "is longer than len() can report (2**63 - 1)")
        self.epoch = 0
        self._start = 0  # global position where this epoch's iteration starts (resume)
        self._resumed = False  # load_state_dict ran and no iteration since
        self._iterated = False  # an iteration of this epoch began (state_dict checks steps_done)
        self._done_before: int = 0  # indices yielded before the current chunk
        self._current: Any = None  # iterator over the current chunk
        self._current_len = 0
        self._delivered: int | None = None  # samples a keystream.data.DataLoader handed to the training loop

    # ------------------------------------------------------------------ layout
    @property
    def steps(self) -> int:
        """Global steps in an epoch."""
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)  # (integers: n < 2^63)

    @property
    def per_rank(self) -> int:
        return self.batch_size // self.num_replicas

    def __len__(self) -> int:
        start_step = self._start // self.batch_size
        return (self.steps - start_step) * self.per_rank

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from the next iteration on, from position 0; but
        ``set_epoch`` of the epoch a :meth:`load_state_dict` just restored (before any
        iteration) keeps its position, so an epoch loop resumes where the state was saved."""
        epoch = _int(epoch, "epoch", 0)
        resume = getattr(self, "_resumed", False) and epoch == self.epoch
        self.epoch = epoch
        if not resume:
            self._start = 0
        self._resumed = False
        self._iterated = False
        self._delivered = None

    def permutation(self) -> Permutation | None:
        if not self.shuffle:
            return None
        return Permutation(self.n, epoch_generator(self.seed, self.epoch, self.stream_version))

    def global_indices(self, start: int, stop: int) -> torch.Tensor:
        """Samples at global positions ``[start, stop)`` of the current epoch."""
        pos = torch.arange(start, stop, dtype=torch.int64)
        perm = self.permutation()
        if perm is None:
            return pos % self.n
        if stop <= self.n:
            return perm.range(start, stop)
        return perm[pos % self.n]

    def __iter__(self) -> Iterator[int]:
        # chain takes each chunk's list iterator in C: no Python frame runs per index
        return itertools.chain.from_iterable(self._chunks())

    def _chunks(self) -> Iterator[Iterator[int]]:
        self._resumed = False
        self._iterated = True
        perm = self.permutation()
        B, b, r = self.batch_size, self.per_rank, self.rank
        first = self._start // B
        self._done_before, self._current, self._current_len = 0, None, 0
        steps_per_chunk = max(1, _CHUNK // b)
        for s0 in range(first, self.steps, steps_per_chunk):
            s1 = min(self.steps, s0 + steps_per_chunk)
            if self.num_replicas == 1:
                pos = torch.arange(s0 * B, s1 * B, dtype=torch.int64)
            else:
                steps = torch.arange(s0, s1, dtype=torch.int64).unsqueeze(1)
                pos = (steps * B + r * b + torch.arange(b, dtype=torch.int64)).reshape(-1)
            if perm is None:
                chunk = pos % self.n
            elif self.num_replicas == 1 and s1 * B <= self.n:
                chunk = perm.range(s0 * B, s1 * B)
            else:
                chunk = perm[pos % self.n]
            items = chunk.numpy().tolist()  # (numpy makes the ints about twice as fast as torch)
            # progress = items handed out so far; a list iterator knows how many remain, so
            # there is no per-item Python work
            self._done_before, self._current = self._yielded_total(), iter(items)
            self._current_len = len(items)
            yield self._current
        self._done_before, self._current, self._current_len = self._yielded_total(), None, 0

    def _yielded_total(self) -> int:
        if self._current is None:
            return self._done_before
        return self._done_before + self._current_len - self._current.__length_hint__()

    # ------------------------------------------------------------------- state
    def state_dict(self, steps_done: int | None = None) -> dict[str, Any]:
        """``{seed, epoch, position, n, batch_size}``; ``position`` is a global position.

        Args:
            steps_done: global steps trained in this epoch since the iteration started.
                Default: the whole steps of the samples a :class:`keystream.data.DataLoader`
                has handed to the training loop; with torch's DataLoader (which prefetches,
                so the sampler runs ahead of training), the whole steps this rank's
                iterator has yielded.
        """
        if steps_done is None:
            done = self._yielded_total() if self._delivered is None else self._delivered
            steps_done = done // self.per_rank
        steps_done = _int(steps_done, "steps_done", 0)
        handed = -(-self._yielded_total() // self.per_rank)  # (steps begun by this rank's iterator)
        if getattr(self, "_iterated", False) and steps_done > handed:
            raise ValueError(f"steps_done = {steps_done}, but this rank's iterator has handed out only {handed} "
                             f"steps of this epoch")
        position = min(self._start - self._start % self.batch_size + steps_done * self.batch_size,
                       self.steps * self.batch_size)
        return {"seed": self.seed, "epoch": self.epoch, "position": position, "n": self.n,
                "batch_size": self.batch_size, "stream_version": self.stream_version}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the global stream from ``state``, with this sampler's world size.

        Raises:
            ValueError: the state is from another seed, dataset length or global batch
                size, or its position is not a whole number of global batches.
        """
        if not isinstance(state, dict) or {"seed", "epoch", "position", "n"} - set(state):
            raise ValueError("state must be a dict from ShuffleSampler.state_dict()")
        if state["seed"] != self.seed:
            raise ValueError(f"the state is from seed {state['seed']}, this sampler has seed {self.seed}")
        if state["n"] != self.n:
            raise ValueError(f"the state is from a dataset of length {state['n']}, this one has {self.n}")
        if state.get("stream_version", 1) != self.stream_version:  # (states without one are version 1's)
            raise ValueError(f"the state is from stream version {state.get('stream_version', 1)}, this sampler has "
                             f"stream_version={self.stream_version}: make it with that stream_version")
        if state.get("batch_size", self.batch_size) != self.batch_size:
            raise ValueError(f"the state is from global batch size {state['batch_size']}, this sampler has "
                             f"{self.batch_size}")
        position = _int(state["position"], "position", 0)
        if position % self.batch_size:
            raise ValueError(f"position {position} is not a whole number of global batches of {self.batch_size}")
        if position > self.steps * self.batch_size:
            raise ValueError(f"position {position} is past the end of the epoch "
                             f"({self.steps} steps of {self.batch_size})")
        epoch = _int(state["epoch"], "epoch", 0)
        self.epoch = epoch
        self._start = position
        self._resumed = True  # (set_epoch of this epoch keeps the position)
        self._iterated = False
