"""A numpy BitGenerator on keystream's words.

``numpy.random.Generator`` accepts any object with a ``capsule`` (a ``bitgen_t``, numpy's C
interface of four word functions) and a ``lock``.  keystream's C module makes the capsule
(``_csrc/pymod.c``); its words are those of :func:`keystream.bits`, so every numpy
distribution runs on keystream's stream.  The distributions are numpy's own algorithms:
their values are numpy's functions of these words, not keystream's draws.
"""
from __future__ import annotations

import numbers
import threading
from typing import Any

import numpy as np
import torch

from .._core._keys import fold_in_key, spawn_key
from .._torch._generator import Generator as TorchGenerator

__all__ = ["KeystreamBitGenerator", "bit_generator"]

_U64 = 1 << 64


def _native() -> Any:
    from .._engines._cpu import _NATIVE, pack_params

    packed = pack_params("bits", torch.uint32, ())
    if _NATIVE is None or packed is None:
        raise RuntimeError("keystream.numpy.KeystreamBitGenerator needs keystream's compiled C modules "
                           "(_native and _kscore), which this install lacks (rebuild: pip install -e .)")
    return _NATIVE, packed[0]


class KeystreamBitGenerator:
    """A ``numpy.random.BitGenerator``-compatible source of keystream's words.

    Args:
        seed: an int or ``None``, as :class:`keystream.Generator`: the words are those of
            ``keystream.bits(..., generator=keystream.Generator(seed))`` from offset 0.
        key: instead of ``seed``, a key (two 32-bit words) to read from.
        block: the first block (a :class:`keystream.Generator`'s ``offset``).

    Use it as ``numpy.random.Generator(KeystreamBitGenerator(seed))``.

    Reproducibility:
        The 32-bit words are ``keystream.bits(n, dtype=torch.uint32)`` of the key from
        ``block`` on, in order; a 64-bit word is two of them, low first (so reading only
        64-bit words gives ``bits(n, dtype=torch.uint64)``); a double is numpy's
        ``(w >> 11) * 2^-53`` of a 64-bit word.  :meth:`spawn` keys children like
        :meth:`keystream.Generator.spawn`; :meth:`jumped` is the key
        ``fold_in(key, b"jumped" + jumps as 8 little-endian bytes)`` from block 0.
    """

    def __init__(self, seed: int | None = None, *, key: tuple[int, int] | None = None, block: int = 0) -> None:
        native, packed = _native()
        if key is None:
            key = TorchGenerator(seed).key
        elif seed is not None:
            raise TypeError("give seed or key, not both")
        if (not isinstance(key, tuple) or len(key) != 2
                or not all(isinstance(k, int) and 0 <= k < 1 << 32 for k in key)):
            raise ValueError(f"key must be two ints in [0, 2^32), got {key!r}")
        if isinstance(block, bool) or not isinstance(block, int) or not 0 <= block < _U64:
            raise ValueError(f"block must be an int in [0, 2^64), got {block!r}")
        self._native = native
        self._spawn_count = 0
        self.lock = threading.Lock()
        self.capsule = native.bitgen_new(packed, key[0], key[1], block, 0)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> dict[str, Any]:
        """``{"bit_generator": "KeystreamBitGenerator", "state": {"key", "block", "word"},
        "spawn_count"}``: the next word is word ``word`` (0..3) of block ``block``."""
        with self.lock:
            k0, k1, block, word = self._native.bitgen_get(self.capsule)
        return {"bit_generator": type(self).__name__, "state": {"key": [k0, k1], "block": block, "word": word},
                "spawn_count": self._spawn_count}

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict) or value.get("bit_generator") != type(self).__name__:
            raise ValueError(f"state must be a dict from {type(self).__name__}.state")
        try:
            inner = value["state"]
            k0, k1 = (int(k) for k in inner["key"])
            block, word, spawn = int(inner["block"]), int(inner["word"]), int(value.get("spawn_count", 0))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"state is malformed: {err}") from None
        if not 0 <= block < _U64 or not 0 <= spawn < _U64:
            raise ValueError("state: block and spawn_count must be in [0, 2^64)")
        with self.lock:
            self._native.bitgen_set(self.capsule, k0, k1, block, word)
            self._spawn_count = spawn

    @property
    def key(self) -> tuple[int, int]:
        k = self.state["state"]["key"]
        return (k[0], k[1])

    # --------------------------------------------------------------- words
    def random_raw(self, size: Any = None, output: bool = True) -> Any:
        """The next 64-bit words (numpy's ``random_raw``)."""
        shape = () if size is None else ((int(size),) if isinstance(size, numbers.Integral) else tuple(size))
        out = np.empty(shape, dtype=np.uint64)
        with self.lock:
            self._native.bitgen_raw(self.capsule, out.size, out.ctypes.data)
        if not output:
            return None
        return out[()] if size is None else out

    # ---------------------------------------------------------- derivation
    def spawn(self, n_children: int) -> list[KeystreamBitGenerator]:
        """``n_children`` independent bit generators keyed by keystream's spawn derivation
        (child ``i``: ``spawn_key(key, spawn_count + i)``, from block 0)."""
        if isinstance(n_children, bool) or not isinstance(n_children, int) or n_children < 0:
            raise ValueError(f"n_children must be an int >= 0, got {n_children!r}")
        key = self.key
        with self.lock:
            start = self._spawn_count
            if start + n_children >= _U64:
                raise OverflowError("spawn_count would pass 2**64 - 1")
            self._spawn_count = start + n_children
        return [KeystreamBitGenerator(key=spawn_key(key, start + i)) for i in range(n_children)]

    def jumped(self, jumps: int = 1) -> KeystreamBitGenerator:
        """A new bit generator keyed by ``fold_in(key, b"jumped" + jumps)`` (see the class)."""
        if isinstance(jumps, bool) or not isinstance(jumps, int) or not 0 <= jumps < _U64:
            raise ValueError(f"jumps must be an int in [0, 2^64), got {jumps!r}")
        return KeystreamBitGenerator(key=fold_in_key(self.key, b"jumped" + jumps.to_bytes(8, "little")))

    # ---------------------------------------------------------- protocol
    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.state,))

    def __repr__(self) -> str:
        s = self.state
        k = s["state"]["key"]
        return (f"KeystreamBitGenerator(key=(0x{k[0]:08x}, 0x{k[1]:08x}), block={s['state']['block']}, "
                f"word={s['state']['word']})")


def _restore(state: dict[str, Any]) -> KeystreamBitGenerator:
    bg = KeystreamBitGenerator(key=tuple(state["state"]["key"]))  # type: ignore[arg-type]
    bg.state = state
    return bg


def bit_generator(source: Any = None) -> KeystreamBitGenerator:
    """A :class:`KeystreamBitGenerator`: of a seed (an int or ``None``), or, for a
    :class:`keystream.Generator` or :class:`keystream.numpy.Generator`, of the stream of its
    next spawned child (``source.spawn(1)[0]``; the source's ``spawn_count`` moves by one,
    its draws stay independent of the bit generator's words).

    Example:
        >>> import numpy as np, keystream, keystream.numpy as ksnp
        >>> g = keystream.Generator(3)
        >>> rng = np.random.Generator(ksnp.bit_generator(g))
        >>> g.spawn_count
        1
    """
    from ._generator import Generator as NumpyGenerator

    if isinstance(source, NumpyGenerator):
        source = source.generator
    if isinstance(source, TorchGenerator):
        child = source.spawn(1)[0]
        return KeystreamBitGenerator(key=child.key, block=child.offset)
    if source is None or (isinstance(source, (numbers.Integral, np.integer)) and not isinstance(source, bool)):
        return KeystreamBitGenerator(None if source is None else int(source))
    raise TypeError(f"source must be an int, None or a keystream generator, got {type(source).__name__}")
