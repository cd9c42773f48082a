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

from .. import _draws
from .._generator import Generator, resolve_generator

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
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")


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


def uniform_draw(shape: tuple[int, ...], *, a: float, b: float, **kw: Any) -> torch.Tensor:
    return _draws.uniform(a, b, shape, **kw)


def normal_draw(shape: tuple[int, ...], *, mean: float, std: float, **kw: Any) -> torch.Tensor:
    return _draws.normal(mean, std, shape, **kw)


#: trunc_normal_: candidates per element (see init.trunc_normal_).
TRUNC_CANDIDATES = 16


def trunc_normal_draw(shape: tuple[int, ...], *, mean: float, std: float, a: float, b: float,
                      region: tuple[slice, ...], generator: Generator, dtype: torch.dtype,
                      device: torch.device) -> torch.Tensor:
    """First of 16 normal candidates per element inside [a, b] (virtual shape (*shape, 16)).

    Rows of the region are drawn a chunk at a time, so the candidates never take more
    than about 16 MiB at once.
    """
    ct = torch.float64 if dtype == torch.float64 else torch.float32
    k = TRUNC_CANDIDATES
    ext = shape + (k,)
    out_shape = tuple(s.stop - s.start for s in region)
    out = torch.empty(out_shape, dtype=ct, device=device)
    if out.numel() == 0 or not shape:
        if not shape:  # a 0-d tensor: one element of a (16,) draw
            z = _draws.normal(mean, std, (k,), generator=generator, dtype=ct, device=device)
            return _first_inside(z.unsqueeze(0), a, b).reshape(())
        generator.advance(_normal_blocks(math.prod(ext), ct))
        return out
    rows = max(1, (1 << 20) // max(1, math.prod(out_shape[1:]) * k))
    start = generator.offset
    r0, r1 = region[0].start, region[0].stop
    for lo in range(r0, r1, rows):
        hi = min(r1, lo + rows)
        g = generator.clone()
        g.offset = start
        z = _draws.normal(mean, std, ext, generator=g, dtype=ct, device=device,
                          region=(slice(lo, hi),) + tuple(region[1:]) + (slice(0, k),))
        out[lo - r0 : hi - r0] = _first_inside(z, a, b)
    generator.advance(_normal_blocks(math.prod(ext), ct))
    return out


def _normal_blocks(numel: int, ct: torch.dtype) -> int:
    return -(-numel // (2 if ct == torch.float64 else 4))


def _first_inside(z: torch.Tensor, a: float, b: float) -> torch.Tensor:
    inside = (z >= a) & (z <= b)
    k = z.shape[-1]
    # index of the first candidate inside, else the last one (then clamped)
    first = torch.where(inside, torch.arange(k, device=z.device), k).min(-1).values.clamp(max=k - 1)
    pick = z.gather(-1, first.unsqueeze(-1)).squeeze(-1)
    return pick.clamp(a, b)
