"""In-place fills of (possibly sharded) tensors: the one place init touches tensors.

A parameter is filled as the region of a virtual draw of its *global* shape: a plain
tensor is the whole region, a DTensor shard is the region of its local piece.  So any
sharding gives exactly the slices of the single-device values.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .._torch import _draws
from .._torch._generator import Generator, resolve_generator

__all__ = ["local_region", "fill_"]


def _dtensor_type() -> Any:
    try:
        from torch.distributed.tensor import DTensor

        return DTensor
    except Exception:  # noqa: BLE001 - torch without distributed
        return None


def local_region(tensor: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...], tuple[slice, ...]]:
    """``(local tensor, global shape, region of the global shape it holds)``."""
    dtensor = _dtensor_type()
    if dtensor is not None and isinstance(tensor, dtensor):
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        shape = tuple(tensor.shape)
        local_shape, offset = compute_local_shape_and_global_offset(shape, tensor.device_mesh, tensor.placements)
        region = tuple(slice(o, o + n) for o, n in zip(offset, local_shape))
        return tensor.to_local(), shape, region
    return tensor, tuple(tensor.shape), tuple(slice(0, n) for n in tensor.shape)


def fill_(tensor: torch.Tensor, draw: Callable[..., torch.Tensor], generator: Generator | None,
          **kwargs: Any) -> torch.Tensor:
    """Fill ``tensor`` in place with ``draw(global_shape, region=..., generator=..., dtype=..., device=...)``."""
    g = resolve_generator(generator)
    local, shape, region = local_region(tensor)
    # Always float32 values, cast to the parameter's dtype: initialising in bfloat16 equals
    # initialising in float32 and casting (the "dtype path" does not matter).
    dtype = torch.float32
    with torch.no_grad():
        values = draw(shape, region=region, generator=g, dtype=dtype, device=local.device, **kwargs)
        local.copy_(values.reshape(local.shape))
    return tensor


def check_tensor(tensor: Any, name: str = "tensor") -> None:
    """A tensor that can be written in place: checked before anything is drawn."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(f"{name}: an inference tensor cannot be written outside torch.inference_mode()")
    if torch._debug_has_internal_overlap(tensor) == 1:  # (1: yes; 2: too hard to tell, torch's copy decides)
        raise RuntimeError(f"{name}: more than one element refers to the same memory (an expanded tensor): "
                           "it cannot be filled in place; clone() it first")


def real(value: Any, name: str) -> float:
    """A number argument as a float (ints, floats, numpy and one-element tensor scalars).

    Raises:
        TypeError: ``value`` is not a number (None, a string, a bool, ...).
    """
    if value is None or isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None


def finite(value: Any, name: str) -> float:
    """A finite number argument as a float."""
    v = real(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def uniform_draw(shape: tuple[int, ...], *, a: float, b: float, **kw: Any) -> torch.Tensor:
    return _draws.uniform(a, b, shape, **kw)


def normal_draw(shape: tuple[int, ...], *, mean: float, std: float, **kw: Any) -> torch.Tensor:
    return _draws.normal(mean, std, shape, **kw)


def trunc_normal_draw(shape: tuple[int, ...], *, mean: float, std: float, a: float, b: float,
                      **kw: Any) -> torch.Tensor:
    return _draws.trunc_normal(mean, std, a, b, shape, **kw)
