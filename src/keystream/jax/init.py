"""Initialisers for JAX (``flax.linen`` / ``nn.initializers`` style) keyed like
:mod:`keystream.init`: a torch model initialised by :func:`keystream.init.init_module`
and its JAX port get the same weights.

Each factory returns ``init(key, shape, dtype=jnp.float32)``.  With ``seed`` and ``name``
(the torch parameter's qualified name, ``"encoder.0.weight"``) the values are those of the
same-named :mod:`keystream.init` function on the parameter keyed by
``keystream.init.parameter_generator(seed, name)``, and ``key`` is not used; without them
they are drawn from ``key`` (a keystream key or key words) at offset 0.

``layout="flax"`` reads ``shape`` in flax's order, inputs before outputs (a ``Dense``
kernel ``(in, out)``, a ``Conv`` kernel ``(*window, in, out)``): the values are torch's
``(out, in, *window)`` weight, transposed; ``layout="torch"`` (the default) takes the shape
as torch's.

Example:
    >>> import jax.numpy as jnp, keystream.jax.init as kinit
    >>> w = kinit.kaiming_uniform(a=5 ** 0.5, seed=0, name="fc.weight", layout="flax")(None, (3, 2))
    >>> w.shape
    (3, 2)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import torch

from .. import init as _init
from .._torch._generator import STREAM_VERSION
from .._torch._generator import Generator as TorchGenerator
from ._core import as_key, run_plan, torch_dtype

__all__ = ["kaiming_normal", "kaiming_uniform", "normal", "trunc_normal", "uniform", "xavier_normal",
           "xavier_uniform"]

Initializer = Callable[..., Any]


def _torch_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    if layout == "torch" or len(shape) < 2:
        return shape
    return (shape[-1], shape[-2], *shape[:-2])


def _from_torch(values: Any, layout: str) -> Any:
    if layout == "torch" or values.ndim < 2:
        return values
    n = values.ndim
    return jnp.transpose(values, (*range(2, n), 1, 0))


def _factory(fn: Callable[..., Any], what: str, seed: int | TorchGenerator | None, name: str | None, layout: str,
             **params: Any) -> Initializer:
    if layout not in ("torch", "flax"):
        raise ValueError(f"layout must be 'torch' or 'flax', got {layout!r}")
    if (seed is None) != (name is None):
        raise TypeError("give seed and name together (keystream.init's key), or neither (use init's key)")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")

    def init(key: Any, shape: Any, dtype: Any = jnp.float32) -> Any:
        shape = tuple(int(d) for d in shape)
        tshape = _torch_shape(shape, layout)
        dt = torch_dtype(dtype)
        if seed is not None:
            g = _init.parameter_generator(seed, name)  # type: ignore[arg-type]
            words, offset, version = *as_key(g), g.stream_version
        else:
            words, offset = as_key(key)
            version = STREAM_VERSION
        values = run_plan(lambda g: fn(torch.empty(tshape, dtype=dt, device="meta"), generator=g, **params),
                          words, offset, dt, version, what)
        return _from_torch(values, layout)

    init.__name__ = what
    return init


def uniform(a: float = 0.0, b: float = 1.0, *, seed: int | TorchGenerator | None = None, name: str | None = None,
            layout: str = "torch") -> Initializer:
    """:func:`keystream.init.uniform_`: U(a, b)."""
    return _factory(_init.uniform_, "uniform", seed, name, layout, a=a, b=b)


def normal(mean: float = 0.0, std: float = 1.0, *, seed: int | TorchGenerator | None = None,
           name: str | None = None, layout: str = "torch") -> Initializer:
    """:func:`keystream.init.normal_`: N(mean, std^2)."""
    return _factory(_init.normal_, "normal", seed, name, layout, mean=mean, std=std)


def trunc_normal(mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, *,
                 seed: int | TorchGenerator | None = None, name: str | None = None,
                 layout: str = "torch") -> Initializer:
    """:func:`keystream.init.trunc_normal_`: N(mean, std^2) truncated to [a, b]."""
    return _factory(_init.trunc_normal_, "trunc_normal", seed, name, layout, mean=mean, std=std, a=a, b=b)


def xavier_uniform(gain: float = 1.0, *, seed: int | TorchGenerator | None = None, name: str | None = None,
                   layout: str = "torch") -> Initializer:
    """:func:`keystream.init.xavier_uniform_` (fans of torch's shape)."""
    return _factory(_init.xavier_uniform_, "xavier_uniform", seed, name, layout, gain=gain)


def xavier_normal(gain: float = 1.0, *, seed: int | TorchGenerator | None = None, name: str | None = None,
                  layout: str = "torch") -> Initializer:
    """:func:`keystream.init.xavier_normal_`."""
    return _factory(_init.xavier_normal_, "xavier_normal", seed, name, layout, gain=gain)


def kaiming_uniform(a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                    seed: int | TorchGenerator | None = None, name: str | None = None,
                    layout: str = "torch") -> Initializer:
    """:func:`keystream.init.kaiming_uniform_` (``a=sqrt(5)``: torch's Linear and Conv weights)."""
    return _factory(_init.kaiming_uniform_, "kaiming_uniform", seed, name, layout, a=a, mode=mode,
                    nonlinearity=nonlinearity)


def kaiming_normal(a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                   seed: int | TorchGenerator | None = None, name: str | None = None,
                   layout: str = "torch") -> Initializer:
    """:func:`keystream.init.kaiming_normal_`."""
    return _factory(_init.kaiming_normal_, "kaiming_normal", seed, name, layout, a=a, mode=mode,
                    nonlinearity=nonlinearity)
