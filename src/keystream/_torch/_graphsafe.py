"""Graph-safe draws: the generator's offset kept and advanced on the device (CUDA graphs).

NOTE [ graph-safe state ]
A captured CUDA graph replays its kernels with the arguments they were captured with, so a
draw whose offset is a kernel argument would repeat its numbers at every replay (and a draw
under capture raises for that reason).  Inside ``with keystream.graph_safe(g, "cuda"):`` the
generator's offset lives in a one-element int64 tensor on the device: each draw's kernel reads
it when it runs and a captured ``add_`` advances it by the draw's blocks, so every replay
draws the next numbers, exactly those the same sequence of eager draws would give (torch's
``graphsafe_set_state`` does the same for its generator).  The host offset is set from the
device when the block exits.  Served: the draws of the Triton engine's element-wise kernels
(every kind but randperm, the truncated normal and stream version 2's kinds, which have no
Triton kernel yet); other draws from the generator raise
while the block is open.  The logic runs on the CPU with the Triton interpreter engine (the
tests); it has not run on a GPU yet.
"""
from __future__ import annotations

import math
import threading
from types import TracebackType
from typing import Any

import torch

from .._core._spec import DrawSpec, blocks_for
from ._devices import usable_device
from ._generator import GRAPH_SAFE, Generator, resolve_generator

__all__ = ["GraphSafeState", "graph_safe"]

_U64 = 1 << 64
#: id(generator) -> its open state (one per generator; the Generator module's table).
_OPEN = GRAPH_SAFE
_LOCK = threading.Lock()


class GraphSafeState:
    """The device-side offset of one generator while :func:`graph_safe` is open."""

    def __init__(self, generator: Generator | None, device: Any) -> None:
        self.generator = resolve_generator(generator)
        self.device = usable_device(device)
        self.tensor: torch.Tensor | None = None

    @property
    def offset(self) -> int:
        """The device offset now (synchronises with the device)."""
        if self.tensor is None:
            raise RuntimeError("the graph-safe state is not open")
        return int(self.tensor.item()) % _U64

    def __enter__(self) -> GraphSafeState:
        g = self.generator
        with _LOCK:
            if id(g) in _OPEN:
                raise RuntimeError("keystream.graph_safe is already open for this generator")
            start = g.offset
            self.tensor = torch.tensor([start - _U64 if start >= 1 << 63 else start], dtype=torch.int64,
                                       device=self.device)
            _OPEN[id(g)] = self
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        offset = self.offset
        with _LOCK:
            _OPEN.pop(id(self.generator), None)
        self.generator.offset = offset


def graph_safe(generator: Generator | None = None, device: Any = "cuda") -> GraphSafeState:
    """Keep ``generator``'s offset on ``device`` while the block is open (NOTE [ graph-safe state ]).

    Args:
        generator: the generator (default :data:`keystream.default_generator`).
        device: where the offset lives and the draws run (a CUDA device; the CPU with the
            Triton interpreter engine, for tests).

    Example:
        >>> # with keystream.graph_safe(g, "cuda"):
        >>> #     with torch.cuda.graph(graph):
        >>> #         noise = g.randn(n, device="cuda")
        >>> #     for _ in range(k):
        >>> #         graph.replay()          # new numbers each time
        >>> # g.offset is now where k eager draws would have left it

    Reproducibility:
        Each replay draws what the next eager draw of the same arguments would.
    """
    return GraphSafeState(generator, device)


def open_state(g: Generator) -> GraphSafeState | None:
    """The open graph-safe state of ``g``, if any."""
    return _OPEN.get(id(g)) if _OPEN else None


def run(state: GraphSafeState, kind: str, params: tuple[Any, ...], shape: tuple[int, ...], dtype: torch.dtype,
        device: torch.device, region: tuple[tuple[int, int], ...], target: torch.Tensor) -> None:
    """Fill ``target`` with a draw at the device offset, then advance it (both on the device)."""
    from .._engines import engine_for

    if device != state.device:
        raise RuntimeError(f"keystream.graph_safe holds this generator's offset on {state.device}; "
                           f"a draw on {device} cannot read it")
    try:
        engine = engine_for(device, kind, dtype)
    except ValueError as err:  # (a forced engine without this kind's kernel)
        raise RuntimeError(f"keystream.graph_safe: {err}; make this draw outside the block") from None
    if not hasattr(engine, "device_offset"):
        raise RuntimeError(f"keystream.graph_safe: the {engine.name} engine reads offsets on the host; graph-safe "
                           "draws run on the Triton engine")
    assert state.tensor is not None
    key = state.generator.key
    with engine.device_offset(state.tensor):
        engine.fill(target, DrawSpec(kind, params, key, 0, shape, region, dtype))
    state.tensor.add_(blocks_for(kind, dtype, math.prod(shape)))
