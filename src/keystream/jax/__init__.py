"""keystream for JAX: the same numbers as keystream's torch draws, as JAX arrays.

* the draws (``rand``, ``randn``, ``bits``, ``uniform``, ``normal``, ``randint``, ...,
  the gamma family: ``standard_gamma``, ``gamma``, ``chi2``, ``beta``, ``dirichlet``,
  ``student_t``) as
  functions of a key and an offset, bit-identical to :mod:`keystream`'s for the same key and
  offset, eagerly and under ``jax.jit`` and ``jax.vmap``;
* :data:`impl`: keystream as a JAX PRNG implementation, ``jax.random.key(seed,
  impl=keystream.jax.impl)``, whose ``fold_in`` and ``split`` follow keystream's key
  derivation and whose ``jax.random.bits`` are :func:`keystream.bits`;
* :mod:`keystream.jax.init` (initialisers keyed like :mod:`keystream.init`) and
  :mod:`keystream.jax.nn` (dropout masks equal to :mod:`keystream.nn`'s).

Needs JAX (``pip install 'keystream[jax]'``).
"""
from __future__ import annotations

try:
    import jax as _jax  # noqa: F401 - the optional dependency, checked first
except ImportError as _err:
    raise ImportError("keystream.jax needs JAX: pip install 'keystream[jax]' (or pip install jax)") from _err

from ._draws import (
    bernoulli,
    bits,
    cauchy,
    exponential,
    geometric,
    gumbel,
    laplace,
    log_normal,
    normal,
    permutation,
    rand,
    randint,
    randn,
    trunc_normal,
    uniform,
)
from ._gamma import beta, chi2, dirichlet, gamma, standard_gamma, student_t
from ._prng import fold_in, impl, key, key_of, spawn

__all__ = ["bernoulli", "beta", "bits", "cauchy", "chi2", "dirichlet", "exponential", "fold_in", "gamma", "geometric",
           "gumbel", "impl", "key", "key_of", "laplace", "log_normal", "normal", "permutation", "rand", "randint",
           "randn", "spawn", "standard_gamma", "student_t", "trunc_normal", "uniform"]
