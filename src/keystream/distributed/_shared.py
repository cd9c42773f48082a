"""Shared and per-rank generators over torch.distributed (any backend: gloo, nccl)."""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

from .._core._keys import canonical_seed
from .._torch._generator import Generator

__all__ = ["shared_generator", "check_shared", "rank_generator"]


def _require() -> None:
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("torch.distributed is not initialised: call init_process_group first")


def shared_generator(seed: int | None = None, group: Any = None, device: torch.device | str | None = None) -> Generator:
    """A generator with the same state on every rank of ``group``.

    With ``seed=None``, rank 0 draws a seed from the operating system and broadcasts it
    (the returned generator's ``initial_seed()`` tells it, for the logs).  Without an
    initialised process group this is simply ``Generator(seed)``.
    """
    if not (dist.is_available() and dist.is_initialized()):
        if seed is not None:
            canonical_seed(seed)  # (checked: Generator takes a string for a device)
        g = Generator(seed, device=device)
        if seed is None:
            g.seed()
        return g
    box = [seed if seed is not None else int.from_bytes(os.urandom(8), "little")]
    src = dist.get_global_rank(group, 0) if group is not None else 0
    dist.broadcast_object_list(box, src=src, group=group)
    return Generator(box[0], device=device)


def check_shared(generator: Generator, group: Any = None) -> None:
    """Raise if ``generator``'s state differs between ranks, naming the ranks that differ.

    Raises:
        RuntimeError: some ranks' states differ from rank 0's (all ranks raise).
    """
    _require()
    states: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(states, generator.state_dict(), group=group)
    bad = [i for i, s in enumerate(states) if s != states[0]]
    if bad:
        raise RuntimeError(f"generator state differs from rank 0's on ranks {bad}: {states[bad[0]]} vs {states[0]}")


def rank_generator(generator: Generator, rank: int | None = None, group: Any = None) -> Generator:
    """This rank's own stream: ``generator.fold_in("rank").fold_in(rank)``; ``generator`` is unchanged."""
    if rank is None:
        _require()
        rank = dist.get_rank(group)
    return generator.fold_in("rank").fold_in(rank)
