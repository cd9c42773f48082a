"""The engine interface: one small abstract class every engine implements."""
from __future__ import annotations

import abc

import torch

from .._spec import DrawSpec

__all__ = ["Engine"]


class Engine(abc.ABC):
    """Turns a :class:`~keystream._spec.DrawSpec` into numbers on some devices.

    Engines hold no state.  ``fill`` must write exactly ``full[spec.region]`` of the
    virtual draw into ``out``, bit for bit as the reference engine does, for any
    thread count, launch geometry or chunking the engine uses internally.
    """

    #: Short name shown by ``keystream selftest`` and accepted by ``use_engine``.
    name: str = "?"

    def available(self) -> bool:
        """Whether the engine can run in this process (its extension or Triton loaded)."""
        return True

    @abc.abstractmethod
    def supports(self, device: torch.device) -> bool:
        """Whether the engine can fill tensors on ``device``."""

    @abc.abstractmethod
    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        """Write the draw into ``out``.

        Args:
            out: a contiguous tensor of shape ``spec.out_shape`` and dtype ``spec.dtype``
                on a device this engine supports.
            spec: the draw; already validated by the caller.
        """

    def __repr__(self) -> str:
        return f"<keystream engine {self.name!r}>"
