"""keystream for numpy: the same numbers as keystream's torch draws, as numpy arrays.

* :class:`Generator` / :func:`default_rng`: numpy's method names (``random``,
  ``standard_normal``, ``integers``, ``choice``, ...), each one keystream draw, so its
  values equal the torch draw's bit for bit for the same state.
* :class:`Permutation`: :class:`keystream.Permutation` with numpy indices.
* :class:`KeystreamBitGenerator` / :func:`bit_generator`: a ``numpy.random.BitGenerator``
  whose raw words are :func:`keystream.bits`: ``numpy.random.Generator(bit_generator(g))``
  gives every numpy distribution on keystream's words (the distributions are numpy's own).

Example:
    >>> import numpy as np, keystream.numpy as ksnp
    >>> rng = ksnp.default_rng(7)
    >>> rng.random(3).dtype
    dtype('float64')
    >>> np.random.Generator(ksnp.bit_generator(7)).standard_normal(2).shape
    (2,)
"""
from __future__ import annotations

from ._bitgen import KeystreamBitGenerator, bit_generator
from ._generator import Generator, default_rng
from ._permutation import Permutation

__all__ = ["Generator", "KeystreamBitGenerator", "Permutation", "bit_generator", "default_rng"]
