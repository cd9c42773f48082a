"""keystream as a JAX PRNG implementation (``jax.extend.random.define_prng_impl``).

A key is keystream's two key words (uint32[2]).  ``jax.random.key(seed, impl=impl)`` is
:class:`keystream.Generator(seed)`'s key; ``jax.random.fold_in(k, i)`` is
``Generator.fold_in(i)``'s key; ``jax.random.split(k, n)`` gives the keys of
``Generator.spawn(n)`` (spawn indices 0 .. n - 1); ``jax.random.bits(k, shape)`` is
``keystream.bits(shape)`` at offset 0 (64-bit: ``dtype=uint64``; 8 and 16 bits: the low
bits of the 32-bit words).  JAX's distributions on these keys (``jax.random.uniform``,
``normal``, ...) are JAX's own functions of the words; :mod:`keystream.jax`'s draws are
keystream's.
"""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch
from jax.extend.random import define_prng_impl

from .._core._keys import canonical_seed, key_from_seed
from .._torch import _draws as _kd
from .._torch._generator import Generator as TorchGenerator
from ._core import IMPL, as_key, derive, fold_bytes, run_plan

__all__ = ["fold_in", "impl", "key", "key_of", "spawn"]


def _seed(seed: Any) -> Any:
    with jax.enable_x64(True):
        s = jnp.asarray(seed)
        # keystream's seed: an integer modulo 2^64 (negative seeds wrap, as torch's)
        wide = s.astype(jnp.int64).astype(jnp.uint64) if jnp.issubdtype(s.dtype, jnp.signedinteger) \
            else s.astype(jnp.uint64)
        return jnp.stack([(wide & np.uint64(0xFFFFFFFF)).astype(jnp.uint32), (wide >> np.uint64(32)).astype(
            jnp.uint32)])


def _split(k: Any, shape: tuple[int, ...]) -> Any:
    n = math.prod(shape)
    with jax.enable_x64(True):
        children = derive(k, jnp.arange(n, dtype=jnp.uint64), "TAG_SPAWN")
    return children.reshape(*shape, 2)


def _fold_in(k: Any, data: Any) -> Any:
    with jax.enable_x64(True):
        return derive(k, jnp.asarray(data).astype(jnp.uint32), "TAG_FOLD_INT")


def _random_bits(k: Any, bit_width: int, shape: tuple[int, ...]) -> Any:
    dt = torch.uint64 if bit_width == 64 else torch.uint32
    words = run_plan(lambda g: _kd.bits(shape, generator=g, dtype=dt, device="meta"), k, 0, dt, what="bits")
    if bit_width in (8, 16):
        return words.astype(jnp.uint8 if bit_width == 8 else jnp.uint16)  # (the low bits)
    return words


#: keystream's PRNG implementation: ``jax.random.key(seed, impl=keystream.jax.impl)``.
impl = define_prng_impl(key_shape=(2,), seed=_seed, split=_split, random_bits=_random_bits, fold_in=_fold_in,
                        name="keystream", tag="ks")
IMPL.append(impl)


def key(seed: int) -> Any:
    """``jax.random.key(seed, impl=impl)``: the key of ``keystream.Generator(seed)``."""
    if not isinstance(seed, jax.Array):
        seed = canonical_seed(seed)  # (an int in [-2^63, 2^64), as keystream's seeds)
        return jax.random.wrap_key_data(jnp.asarray(np.array(key_from_seed(seed), dtype=np.uint32)), impl=impl)
    return jax.random.key(seed, impl=impl)


def key_of(generator: TorchGenerator) -> tuple[Any, int]:
    """A :class:`keystream.Generator`'s key as a JAX key, and its offset (pass it as the
    draws' ``offset=`` to continue its stream)."""
    if not isinstance(generator, TorchGenerator):
        raise TypeError(f"generator must be a keystream.Generator, got {type(generator).__name__}")
    words, offset = as_key(generator)
    return jax.random.wrap_key_data(words, impl=impl), offset


def fold_in(k: Any, data: int | str | bytes) -> Any:
    """``keystream.Generator.fold_in``'s key for an int (also traced), str or bytes ``data``."""
    words, _ = as_key(k)
    if isinstance(data, (str, bytes, bytearray)):
        with jax.enable_x64(True):
            child = fold_bytes(words, data)
    elif isinstance(data, int) and not isinstance(data, bool):
        if not 0 <= data < 1 << 64:
            raise ValueError(f"data must be in [0, 2**64) when it is an int, got {data}")
        with jax.enable_x64(True):
            child = derive(words, data, "TAG_FOLD_INT")
    elif isinstance(data, jax.Array) and jnp.issubdtype(data.dtype, jnp.integer) and data.ndim == 0:
        with jax.enable_x64(True):
            child = derive(words, data, "TAG_FOLD_INT")
    else:
        raise TypeError(f"data must be an int, str or bytes, got {type(data).__name__}")
    return jax.random.wrap_key_data(child, impl=impl)


def spawn(k: Any, n: int) -> Any:
    """The keys of ``keystream.Generator.spawn(n)`` for a generator of key ``k`` that has
    spawned none yet (``jax.random.split`` with this impl gives the same)."""
    words, _ = as_key(k)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    return jax.random.wrap_key_data(_split(words, (n,)), impl=impl)
