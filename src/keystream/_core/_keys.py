"""Keys: seeds, fold_in and spawn (docs/spec.md section 2).

A key is two 32-bit words ``(k0, k1)``.  A seed maps to its key by splitting
the 64 bits; a derived key is words ``(w0, w1)`` of one Philox block whose
counter carries a domain tag in ``(c2, c3)``.  Draw blocks always have
``c2 = c3 = 0``, so a derivation block can never be a draw block.
"""
from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable

from ._constants import u32
from ._philox import philox4x32_scalar

__all__ = ["Key", "TAG_FOLD_INT", "canonical_seed", "derive_key", "fold_in_key", "hash_bytes", "key_from_seed",
           "spawn_key", "use_compiled_derive"]

#: The C module's derivation (one Philox block, about 0.1 us against 3 in Python), which the C
#: engine hands over when it loads (use_compiled_derive); the Python one is the definition.
_native_derive: Callable[[int, int, int, int], tuple[int, int]] | None = None

Key = tuple[int, int]
_U64 = 1 << 64


def canonical_seed(seed: object, name: str = "seed") -> int:
    """Validate ``seed`` and return it as an integer in [0, 2^64).

    Negative seeds in [-2^63, 0) wrap modulo 2^64, as torch does.

    Raises:
        TypeError: ``seed`` is not an integer (bool, float, str and None included).
        ValueError: ``seed`` is outside [-2^63, 2^64).
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__}")
    value = int(seed)
    if not -(1 << 63) <= value < _U64:
        raise ValueError(f"{name} must be in [-2**63, 2**64), got {value}")
    return value % _U64


def key_from_seed(seed: int) -> Key:
    """Split a canonical seed into its key words ``(seed & 0xFFFFFFFF, seed >> 32)``."""
    return seed & 0xFFFFFFFF, seed >> 32


def hash_bytes(data: bytes) -> int:
    """Reduce bytes to 64 bits: BLAKE2b with an 8-byte digest, read little-endian."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


_TAGS = {name: u32(name) for name in ("TAG_FOLD_INT", "TAG_FOLD_BYTES", "TAG_SPAWN")}
#: fold_in(int)'s domain tag, for callers that derive checked ints directly (derive_key).
TAG_FOLD_INT = _TAGS["TAG_FOLD_INT"]


def use_compiled_derive(derive: Callable[[int, int, int, int], tuple[int, int]]) -> None:
    """Derive keys with ``derive(k0, k1, value, tag)``: the same words as :func:`derive_key`'s
    own Philox block (``tests/test_cpu_engine.py`` compares them), computed in C."""
    global _native_derive
    _native_derive = derive


def derive_key(parent: Key, value: int, tag: int) -> Key:
    """The child key of ``parent`` for a checked ``value`` in [0, 2^64) under domain ``tag``."""
    if _native_derive is not None:
        return _native_derive(parent[0], parent[1], value, tag)
    w = philox4x32_scalar((value & 0xFFFFFFFF, value >> 32, tag, u32("TAG_VERSION")), parent)
    return w[0], w[1]


def fold_in_key(parent: Key, data: object) -> Key:
    """Derive the child key of ``parent`` for ``data`` (int in [0, 2^64), str or bytes).

    Integers use tag ``TAG_FOLD_INT``; str (UTF-8) and bytes are first hashed by
    :func:`hash_bytes` and use tag ``TAG_FOLD_BYTES``, so ``fold_in(5)`` and
    ``fold_in(b"...")`` never collide by construction.

    Raises:
        TypeError: ``data`` is not an int, str or bytes.
        ValueError: an int ``data`` is outside [0, 2^64).
    """
    if type(data) is int and 0 <= data < _U64:  # (the common case first)
        return derive_key(parent, data, _TAGS["TAG_FOLD_INT"])
    if isinstance(data, str):
        return derive_key(parent, hash_bytes(data.encode("utf-8")), _TAGS["TAG_FOLD_BYTES"])
    if isinstance(data, (bytes, bytearray, memoryview)):
        return derive_key(parent, hash_bytes(bytes(data)), _TAGS["TAG_FOLD_BYTES"])
    if isinstance(data, bool) or not isinstance(data, numbers.Integral):
        raise TypeError(f"data must be an int, str or bytes, got {type(data).__name__}")
    value = int(data)
    if not 0 <= value < _U64:
        raise ValueError(f"data must be in [0, 2**64) when it is an int, got {value}")
    return derive_key(parent, value, _TAGS["TAG_FOLD_INT"])


def spawn_key(parent: Key, index: int) -> Key:
    """Key of the ``index``-th child ever spawned from ``parent`` (tag ``TAG_SPAWN``)."""
    if not 0 <= index < _U64:
        raise OverflowError("spawn count exhausted 2**64 children")
    return derive_key(parent, index, _TAGS["TAG_SPAWN"])
