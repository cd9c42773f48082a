"""keystream.montecarlo's estimate with its chunks computed as Dask tasks."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from ..montecarlo._estimate import DEFAULT_CHUNK, Draws, Estimate, _check, _finish, partial_sums

__all__ = ["estimate"]

#: Tasks a run is split into, at most (each takes every ``tasks``-th chunk).
MAX_TASKS = 64


def estimate(fn: Callable[[Draws], torch.Tensor], n_samples: int, *, seed: int, chunk_size: int | None = None,
             tasks: int | None = None, antithetic: bool = False, confidence: float = 0.95,
             device: str = "cpu") -> Estimate:
    """:func:`keystream.montecarlo.estimate` on Dask: the same chunks, computed as
    ``tasks`` Dask tasks (default: one per chunk, at most 64) by whatever scheduler is
    active (a ``distributed.Client``'s cluster, threads, processes).

    Args:
        fn, n_samples, seed, chunk_size, antithetic, confidence, device: as
            :func:`keystream.montecarlo.estimate` (``fn`` is sent to the workers: with the
            distributed scheduler it must pickle, as cloudpickle does a lambda).
        tasks: how many tasks; task ``i`` evaluates chunks ``i, i + tasks, ...``.

    Reproducibility:
        Each task returns exact integer sums, so the result is the same bits as
        :func:`keystream.montecarlo.estimate` with the same ``chunk_size``, for any
        ``tasks``, worker count or scheduler (and the chunk size never changes it either).
    """
    import dask

    if chunk_size is None:
        chunk_size = DEFAULT_CHUNK
    _check(n_samples, chunk_size, confidence)
    chunks = math.ceil(n_samples / chunk_size)
    if tasks is None:
        tasks = min(chunks, MAX_TASKS)
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks <= 0:
        raise ValueError(f"tasks must be an int > 0, got {tasks!r}")
    tasks = min(tasks, chunks)
    work = [dask.delayed(partial_sums, pure=True)(fn, n_samples, seed, chunk_size, range(i, chunks, tasks), device,
                                                  antithetic) for i in range(tasks)]
    t0 = time.perf_counter()
    parts: Any = dask.compute(*work)
    elapsed = max(time.perf_counter() - t0, 1e-9)
    total = sum(p[0] for p in parts)
    total_sq = sum(p[1] for p in parts)
    done = sum(p[2] for p in parts)
    return _finish(total, total_sq, done, confidence, done / elapsed, False)
