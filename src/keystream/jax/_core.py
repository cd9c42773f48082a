"""keystream.jax's core: keys, offsets and dtypes in JAX, and a DrawSpec computed with the
reference forms on jax.numpy arrays (NOTE [ plans ] in ``_draws``; ``_math/xp.py``).

The stream's integer work needs 64-bit integers: every computation runs inside
``jax.enable_x64(True)`` (also under ``jax.jit``: the switch holds while tracing), so
keystream.jax works whether or not the program enables x64; results of a 64-bit dtype
(float64, int64, uint64) need x64 enabled, as every JAX array of those dtypes does.
"""
from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Any

import numpy as np
import torch

from .._core._constants import u32
from .._core._keys import canonical_seed, hash_bytes, key_from_seed
from .._core._philox import philox4x32
from .._core._spec import DrawSpec
from .._engines._reference import compute
from .._torch._draws import plan
from .._torch._generator import STREAM_VERSION
from .._torch._generator import Generator as TorchGenerator
from ..numpy._generator import _NP_TO_TORCH

try:
    import jax
    import jax.numpy as jnp
except ImportError as err:  # pragma: no cover - the optional extra
    raise ImportError("keystream.jax needs JAX: pip install 'keystream[jax]' (or pip install jax)") from err

from ._strict import strict  # noqa: E402 - after the check that JAX is installed

__all__ = ["as_key", "derive", "run_plan", "runtime", "runtime_key", "torch_dtype"]

#: JAX's dtypes are numpy's, and bfloat16.
_TORCH = {**_NP_TO_TORCH, jnp.dtype(jnp.bfloat16): torch.bfloat16}
_JAX = {t: j for j, t in _TORCH.items()}
_WIDE = {torch.float64, torch.int64, torch.uint64}
#: keystream's JAX PRNG implementation, once ``_prng`` (which builds on this module) has made it.
IMPL: list[Any] = []


def torch_dtype(dtype: Any) -> torch.dtype:
    """The torch dtype of a JAX / numpy dtype (the draws' definitions are in torch dtypes)."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be a JAX dtype, got {dtype!r}") from err
    if dt not in _TORCH:
        raise TypeError(f"dtype {dt} has no keystream draw")
    t = _TORCH[dt]
    if t in _WIDE and not jax.config.read("jax_enable_x64"):
        raise ValueError(f"dtype {dt} needs 64-bit JAX: jax.config.update('jax_enable_x64', True)")
    return t


def as_key(key: Any, offset: Any = 0) -> tuple[Any, Any]:
    """``(uint32[2] key words, offset)`` of a draw's ``key`` argument: a keystream key array
    (``jax.random.key(seed, impl=keystream.jax.impl)``), raw key words (uint32[2]), an int seed
    (:class:`keystream.Generator`'s key for it), or a :class:`keystream.Generator` (its key and
    offset; it is not advanced: JAX draws are functions)."""
    if isinstance(key, TorchGenerator):
        if not (isinstance(offset, int) and offset == 0):
            raise TypeError("offset: a keystream.Generator carries its own offset")
        return np.array(key.key, dtype=np.uint32), key.offset  # (numpy: known values stay concrete under jit)
    if isinstance(offset, bool) or not (isinstance(offset, numbers.Integral) or (
            isinstance(offset, jax.Array) and offset.ndim == 0 and jnp.issubdtype(offset.dtype, jnp.integer))):
        raise TypeError(f"offset must be an int or an integer scalar array, got {type(offset).__name__}")
    if isinstance(offset, numbers.Integral) and not 0 <= int(offset) < 1 << 64:
        raise ValueError(f"offset must be in [0, 2**64), got {offset}")
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return np.array(key_from_seed(canonical_seed(key, "key")), dtype=np.uint32), offset
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if not IMPL or jax.random.key_impl(key) != IMPL[0]:
            raise TypeError(f"key is a {jax.random.key_impl(key)} key; keystream's keys come from "
                            "jax.random.key(seed, impl=keystream.jax.impl)")
        key = jax.random.key_data(key)
    if not isinstance(key, (jax.Array, np.ndarray)) or tuple(key.shape) != (2,) or key.dtype != np.uint32:
        raise TypeError(f"key must be a keystream key, uint32 key words of shape (2,), an int seed or a "
                        f"keystream.Generator, got {type(key).__name__} {getattr(key, 'dtype', '')}"
                        f"{tuple(getattr(key, 'shape', ()))}")
    return jnp.asarray(key), offset


def derive(key: Any, value: Any, tag: str) -> Any:
    """keystream's key derivation (``_keys.derive_key``) on a uint32[2] key and a value below
    2^64 (an int, or an integer array of any shape: one child per value): words 0, 1 of the
    Philox block ``(value lo, value hi, tag, TAG_VERSION)``.  Inside ``jax.enable_x64``."""
    v = jnp.asarray(value).astype(jnp.uint64) if not isinstance(value, int) else jnp.asarray(value, jnp.uint64)
    w = philox4x32(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32), np.uint32(u32(tag)), np.uint32(u32("TAG_VERSION")),
                   key[..., 0], key[..., 1])
    return jnp.stack([w[0], w[1]], axis=-1).astype(jnp.uint32)


def fold_bytes(key: Any, data: str | bytes) -> Any:
    """``fold_in(key, data)`` for a str or bytes (its hash is computed here, on the host)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return derive(key, hash_bytes(raw), "TAG_FOLD_BYTES")


def run_plan(call: Any, key: Any, offset: Any, dtype: torch.dtype, version: int = STREAM_VERSION,
             what: str = "this draw") -> Any:
    """The values of the one kernel run ``call(generator)`` makes (NOTE [ plans ]), computed
    with the reference forms for ``key`` at ``offset``, as a JAX array of ``dtype``."""
    runs, _ = plan(call, version)
    if len(runs) != 1:
        raise NotImplementedError(f"keystream.jax computes draws of one kernel run; {what} makes {len(runs)} "
                                  "(tensor parameters, or a draw made of draws)")
    spec = runs[0]
    with jax.enable_x64(True):
        k, off = runtime_key(key, offset)
        return _compiled(spec, dtype)(k, off)


def runtime_key(key: Any, offset: Any, *arrays: Any) -> tuple[Any, ...]:
    """The key words (uint32[2]), the offset (uint64) and ``arrays`` as arrays the compiler
    cannot see into (inside ``jax.enable_x64``): NOTE [ strict floats in XLA ] needs a key whose
    value is known only at run time, and known parameters would be folded (:func:`runtime`)."""
    k = key if isinstance(key, jax.core.Tracer) else np.asarray(key, dtype=np.uint32)
    off = offset if isinstance(offset, jax.core.Tracer) else np.asarray(offset, dtype=np.uint64)
    k, off, *rest = runtime(k, off, *arrays)
    return (jnp.asarray(k, dtype=jnp.uint32), jnp.asarray(off, dtype=jnp.uint64), *rest)


def runtime(*arrays: Any) -> tuple[Any, ...]:
    """``arrays`` as arrays whose values the compiler cannot see: under jit, the concrete ones
    are read back from the host once per call, by one callback (XLA may merge callbacks that
    take no operands).  A compiler that knows a value folds it into the operations (a
    division by a constant becomes a product by its reciprocal; NOTE [ strict floats in XLA ])."""
    concrete = [i for i, a in enumerate(arrays) if not isinstance(a, jax.core.Tracer)]
    if not concrete or not _staging():
        return tuple(a if isinstance(a, jax.core.Tracer) else jnp.asarray(a) for a in arrays)
    values = [np.asarray(arrays[i]) for i in concrete]  # (converted here: traced, a conversion is a constant's)
    # 64-bit values travel as pairs of uint32 words: the callback's results are checked against
    # the dtypes of the x64 setting when the program runs, which may be off by then
    words = tuple(np.ascontiguousarray(v).view(np.uint32).reshape(*v.shape, 2) if v.dtype.itemsize == 8 else v
                  for v in values)
    read = jax.pure_callback(lambda: words, tuple(jax.ShapeDtypeStruct(w.shape, w.dtype) for w in words))
    out = list(arrays)
    for i, v, r in zip(concrete, values, read):
        out[i] = jax.lax.bitcast_convert_type(r, v.dtype) if v.dtype.itemsize == 8 else r
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _compiled(spec: DrawSpec, dtype: torch.dtype) -> Any:
    """The draw of ``spec`` (its key and offset aside) as a jitted function of the key words
    and the offset: compiled once per spec, called eagerly or inlined under an outer jit."""

    def values(k: Any, off: Any) -> Any:
        out = compute(dataclasses.replace(spec, key=(k[0], k[1]), offset=off + np.uint64(spec.offset)))
        return _as(jnp.asarray(out).reshape(spec.out_shape), spec, dtype)

    def run(k: Any, off: Any) -> Any:
        with jax.enable_x64(True):
            return strict(values, k, off)

    return jax.jit(run)


def _staging() -> bool:
    """Whether operations are being traced into a compiled program (``jax.jit``)."""
    return isinstance(jax.lax.add(jnp.uint32(0), jnp.uint32(0)), jax.core.Tracer)


def _as(values: Any, spec: DrawSpec, dtype: torch.dtype) -> Any:
    """The computed values (float32 storage for 16-bit floats, uint for bits, int64 for
    randint, bool for bernoulli) in ``dtype``: exact conversions."""
    target = _JAX[dtype]
    if spec.kind == "bits" and values.dtype != target:
        return jax.lax.bitcast_convert_type(values, target)
    return values.astype(target)
