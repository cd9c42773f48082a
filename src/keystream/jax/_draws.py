"""keystream's draws as JAX functions of a key and an offset.

``keystream.jax.rand(key, shape, offset=b)`` equals ``keystream.rand(shape,
generator=g)`` for a :class:`keystream.Generator` ``g`` with that key at offset ``b``, bit
for bit, eagerly and under ``jax.jit`` / ``jax.vmap`` (NOTE [ plans ] in ``keystream._torch._draws``:
the draw's own checks and parameters, computed with the reference forms on jax.numpy).
Distribution parameters are Python numbers (they are the kernel's parameters); ``key`` and
``offset`` may be traced.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from .._torch import _draws as _kd
from .._torch._generator import STREAM_VERSION
from .._torch._generator import Generator as TorchGenerator
from ._core import as_key, run_plan, torch_dtype

__all__ = ["bernoulli", "bits", "cauchy", "exponential", "geometric", "gumbel", "laplace", "log_normal", "normal",
           "rand", "randint", "randn", "trunc_normal", "uniform"]

Region = Any


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        return (int(shape),)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in shape):
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}")
    return tuple(int(d) for d in shape)


def _draw(name: str, key: Any, offset: Any, dtype: Any, version: int,
          call: Callable[[TorchGenerator, Any], Any]) -> Any:
    k, off = as_key(key, offset)
    if isinstance(key, TorchGenerator):
        version = key.stream_version
    dt = torch_dtype(dtype)
    return run_plan(lambda g: call(g, dt), k, off, dt, version, name)


def rand(key: Any, shape: Any = (), dtype: Any = jnp.float32, *, offset: Any = 0, region: Region = None,
         stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.rand`: uniform [0, 1) in float16, bfloat16, float32 or float64.

    Args:
        key: a keystream key (``jax.random.key(seed, impl=keystream.jax.impl)``), uint32 key
            words of shape (2,), an int seed, or a :class:`keystream.Generator` (its key and
            offset; not advanced).
        shape: the draw's (virtual) shape.
        dtype: the result's dtype.
        offset: the first block (a Generator's ``offset``): an int or a traced integer.
        region: a slice or tuple of slices: exactly ``full[region]``.
        stream_version: 1 or 2, as :class:`keystream.Generator`.

    Reproducibility:
        The values of ``keystream.rand(shape, dtype=..., region=..., generator=g)`` for ``g``
        at this key and offset, on every device and under ``jit``.
    """
    s = _shape(shape)
    return _draw("rand", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.rand(s, generator=g, dtype=dt, device="meta", region=region))


def randn(key: Any, shape: Any = (), dtype: Any = jnp.float32, *, offset: Any = 0, region: Region = None,
          stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.randn` (arguments as :func:`rand`)."""
    s = _shape(shape)
    return _draw("randn", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.randn(s, generator=g, dtype=dt, device="meta", region=region))


def bits(key: Any, shape: Any = (), dtype: Any = jnp.uint32, *, offset: Any = 0, region: Region = None,
         stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.bits`: raw words, uint32 / int32 (32-bit) or uint64 / int64 (64-bit)."""
    s = _shape(shape)
    return _draw("bits", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.bits(s, generator=g, dtype=dt, device="meta", region=region))


def uniform(key: Any, shape: Any = (), dtype: Any = jnp.float32, low: float = 0.0, high: float = 1.0, *,
            offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.uniform` in [low, high) (numbers)."""
    s = _shape(shape)
    return _draw("uniform", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.uniform(low, high, s, generator=g, dtype=dt, device="meta", region=region))


def normal(key: Any, shape: Any = (), dtype: Any = jnp.float32, mean: float = 0.0, std: float = 1.0, *,
           offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.normal`: ``mean + std * z`` (numbers)."""
    s = _shape(shape)
    return _draw("normal", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.normal(mean, std, s, generator=g, dtype=dt, device="meta", region=region))


def randint(key: Any, shape: Any, low: int, high: int, dtype: Any = jnp.int32, *, offset: Any = 0,
            region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.randint` in [low, high) (JAX's default int32; the values are those of
    keystream's int64 draw when they fit)."""
    s = _shape(shape)
    return _draw("randint", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.randint(low, high, s, generator=g, dtype=dt, device="meta", region=region))


def bernoulli(key: Any, p: float, shape: Any = (), dtype: Any = jnp.bool_, *, offset: Any = 0,
              region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.bernoulli` with a number ``p`` (default dtype bool)."""
    s = _shape(shape)
    return _draw("bernoulli", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.bernoulli(p, s, generator=g, dtype=dt, device="meta", region=region))


def exponential(key: Any, shape: Any = (), dtype: Any = jnp.float32, lambd: float = 1.0, *, offset: Any = 0,
                region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.exponential` with rate ``lambd``."""
    s = _shape(shape)
    return _draw("exponential", key, offset, dtype, stream_version,
                 lambda g, dt: _kd.exponential(s, lambd=lambd, generator=g, dtype=dt, device="meta", region=region))


def cauchy(key: Any, shape: Any = (), dtype: Any = jnp.float32, median: float = 0.0, sigma: float = 1.0, *,
           offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.cauchy`."""
    s = _shape(shape)
    return _draw("cauchy", key, offset, dtype, stream_version, lambda g, dt: _kd.cauchy(
        s, median=median, sigma=sigma, generator=g, dtype=dt, device="meta", region=region))


def laplace(key: Any, shape: Any = (), dtype: Any = jnp.float32, loc: float = 0.0, scale: float = 1.0, *,
            offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.laplace`."""
    s = _shape(shape)
    return _draw("laplace", key, offset, dtype, stream_version, lambda g, dt: _kd.laplace(
        s, loc=loc, scale=scale, generator=g, dtype=dt, device="meta", region=region))


def gumbel(key: Any, shape: Any = (), dtype: Any = jnp.float32, loc: float = 0.0, scale: float = 1.0, *,
           offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.gumbel`."""
    s = _shape(shape)
    return _draw("gumbel", key, offset, dtype, stream_version, lambda g, dt: _kd.gumbel(
        s, loc=loc, scale=scale, generator=g, dtype=dt, device="meta", region=region))


def log_normal(key: Any, shape: Any = (), dtype: Any = jnp.float32, mean: float = 1.0, std: float = 2.0, *,
               offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.log_normal` (torch's defaults ``mean=1``, ``std=2``)."""
    s = _shape(shape)
    return _draw("log_normal", key, offset, dtype, stream_version, lambda g, dt: _kd.log_normal(
        s, mean=mean, std=std, generator=g, dtype=dt, device="meta", region=region))


def geometric(key: Any, p: float, shape: Any = (), dtype: Any = jnp.float32, *, offset: Any = 0,
              region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.geometric`: trials up to the first success."""
    s = _shape(shape)
    return _draw("geometric", key, offset, dtype, stream_version, lambda g, dt: _kd.geometric(
        s, p=p, generator=g, dtype=dt, device="meta", region=region))


def trunc_normal(key: Any, shape: Any, mean: float, std: float, a: float, b: float, dtype: Any = jnp.float32, *,
                 offset: Any = 0, region: Region = None, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.trunc_normal` on ``[a, b]`` (absolute bounds)."""
    s = _shape(shape)
    return _draw("trunc_normal", key, offset, dtype, stream_version, lambda g, dt: _kd.trunc_normal(
        mean, std, a, b, s, generator=g, dtype=dt, device="meta", region=region))


def permutation(key: Any, x: Any, dtype: Any = jnp.int32, *, offset: Any = 0, region: Region = None,
                stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.randperm` as ``jax.random.permutation``: for an int ``x``, the permutation
    of ``range(x)`` (``dtype``: JAX's int32 by default); for an array, its rows in that order.

    Stream version 2, ``x`` up to ``2**16`` (the sorted 64-bit keys; the Feistel network of
    larger permutations loops on data, which this front end does not trace).

    Reproducibility:
        ``keystream.randperm(n, generator=g)`` for ``g`` at this key and offset: the same
        permutation (and the same one block taken) as torch's, numpy's and Dask's.
    """
    if stream_version != 2 and not (isinstance(key, TorchGenerator) and key.stream_version == 2):
        raise NotImplementedError("keystream.jax.permutation computes stream version 2's permutations")
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        n = int(x)
        return _draw("randperm", key, offset, dtype, 2,
                     lambda g, dt: _kd.randperm(n, generator=g, dtype=dt, device="meta", region=region))
    arr = jnp.asarray(x)
    if arr.ndim == 0:
        raise TypeError("x must be an int or an array with at least one dimension")
    order = permutation(key, arr.shape[0], jnp.int32, offset=offset, region=region, stream_version=2)
    return arr[order]
