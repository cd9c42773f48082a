"""keystream's gamma family as JAX functions of a key and an offset: standard_gamma, gamma,
chi2, beta, dirichlet and student_t, bit for bit the values of the torch front end's draws for a
generator at that key and offset (eagerly and under ``jax.jit``).

Each element's 12 normals and 13 exponentials come from the draws' own plans (NOTE [ plans ]
in ``keystream._torch._draws``), the rest is the definition's numpy form
(``_core/_math/gamma.py``) on jax.numpy, with every IEEE operation rounded on its own (NOTE
[ strict floats in XLA ]).  The parameters are arrays or numbers; concrete ones are checked
(finite and > 0), traced ones cannot be.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

from .._core._math.gamma import CANDIDATES, beta_rows, dirichlet_rows, marsaglia_tsang
from .._core._math.numpy_forms import c64, exp_f64, log_f64
from .._engines._reference import compute
from .._torch import _draws as _kd
from .._torch._composite import _gamma_blocks
from .._torch._generator import STREAM_VERSION
from .._torch._generator import Generator as TorchGenerator
from ._core import _JAX, as_key, runtime_key, torch_dtype
from ._strict import strict

__all__ = ["beta", "chi2", "dirichlet", "gamma", "standard_gamma", "student_t"]

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _param(value: Any, name: str) -> Any:
    """A parameter as a float64 array: a numpy one, checked (finite and > 0), where its values
    are known (:func:`_run` hides them from the compiler), else the traced one."""
    with jax.enable_x64(True):
        if isinstance(value, jax.core.Tracer):
            if not (jnp.issubdtype(value.dtype, jnp.floating) or jnp.issubdtype(value.dtype, jnp.integer)):
                raise TypeError(f"{name} must be a real number or array, got dtype {value.dtype}")
            return value.astype(jnp.float64)
        v = np.asarray(value)
        if v.dtype == np.bool_ or not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)
                                       or v.dtype == jnp.bfloat16):
            raise TypeError(f"{name} must be a real number or array, got dtype {v.dtype}")
        v = v.astype(np.float64)
        if v.size and not (np.all(v > 0) and np.all(np.isfinite(v))):
            shown = v.tolist() if v.size <= 6 else f"an array of shape {v.shape} with values in [{v.min()}, {v.max()}]"
            raise ValueError(f"{name} must be finite and > 0, got {shown}")
        return v


def _shape(shape: Any, *params: Any) -> tuple[int, ...]:
    """The draw's shape: ``shape``, else the parameters' broadcast shape."""
    if shape is None:
        return tuple(jnp.broadcast_shapes(*(jnp.shape(p) for p in params)))
    s = (int(shape),) if isinstance(shape, int) else tuple(int(d) for d in shape)
    for p in params:
        if jnp.broadcast_shapes(jnp.shape(p), s) != s:
            raise ValueError(f"a parameter of shape {jnp.shape(p)} does not broadcast to shape {s}")
    return s


def _version(key: Any, stream_version: int) -> int:
    return key.stream_version if isinstance(key, TorchGenerator) else stream_version


@functools.lru_cache(maxsize=128)
def _program(n: int, version: int, what: str, dtype: torch.dtype) -> Any:
    """The jitted draw of ``n`` Gamma variates (k per element: their parameters are ``[n]``
    arrays) as a function of the key words, the offset and the parameters: ``what`` says
    what is made of them (NOTE [ Gamma with a fixed number of candidates ])."""
    (z_spec,), _ = _kd.plan(lambda g: _kd.normal(0.0, 1.0, (n, CANDIDATES), generator=g, dtype=torch.float64,
                                                 device="meta"), version)
    (e_spec,), _ = _kd.plan(lambda g: _kd.exponential((n, CANDIDATES + 1), generator=g, dtype=torch.float64,
                                                      device="meta"), version)
    (x_spec,), x_blocks = _kd.plan(lambda g: _kd.normal(0.0, 1.0, (n,), generator=g, dtype=torch.float64,
                                                        device="meta"), version)
    z_blocks, _ = _gamma_blocks(n)
    # (Student's t draws its normals X first, then the Gammas from the next blocks)
    first = np.uint64(x_blocks if what.startswith("student_t") else 0)

    def variates(k: Any, off: Any, alpha: Any, with_log: bool) -> tuple[Any, Any]:
        key = (k[0], k[1])
        z = compute(dataclasses.replace(z_spec, key=key, offset=off + first + np.uint64(z_spec.offset)))
        e = compute(dataclasses.replace(e_spec, key=key, offset=off + first + np.uint64(z_blocks + e_spec.offset)))
        return marsaglia_tsang(alpha, jnp.reshape(z, (n, CANDIDATES)), jnp.reshape(e, (n, CANDIDATES + 1)),
                               version, with_log)

    def values(k: Any, off: Any, *params: Any) -> Any:
        x: Any
        if what.startswith("student_t"):  # X / sqrt((2 G) / df); in log space where df / 2 < 1
            df = params[0]
            x = compute(dataclasses.replace(x_spec, key=(k[0], k[1]), offset=off + np.uint64(x_spec.offset)))
            half_df = df * c64("HALF_F64")
            logs = what.endswith(":log")
            gam, lg = variates(k, off, half_df, logs)
            value = x / jnp.sqrt((c64("TWO_F64") * gam) / df)
            if logs:
                scaled = x * exp_f64(c64("HALF_F64") * (log_f64(half_df) - lg), subnormal=True)
                value = jnp.where(half_df < 1.0, scaled, value)
            return value.astype(_JAX[dtype])
        if what == "standard_gamma":
            x = variates(k, off, params[0], False)[0]
        elif what == "gamma":
            x = variates(k, off, params[0], False)[0] / params[1]
        elif what == "chi2":
            x = c64("TWO_F64") * variates(k, off, params[0] * c64("HALF_F64"), False)[0]
        else:  # beta, dirichlet: rows of k parameters (params[1]: [rows, k])
            rows = params[1]
            x, lx = variates(k, off, params[0], version >= 2 and what.endswith(":log"))
            x = jnp.reshape(x, rows.shape)
            lx = None if lx is None else jnp.reshape(lx, rows.shape)
            x = beta_rows(rows, x, lx) if what.startswith("beta") else dirichlet_rows(rows, x, lx)
        return x.astype(_JAX[dtype])

    def run(k: Any, off: Any, *params: Any) -> Any:
        with jax.enable_x64(True):
            return strict(values, k, off, *params)

    return jax.jit(run)


def _run(key: Any, offset: Any, n: int, version: int, what: str, dtype: Any, *params: Any) -> Any:
    k, off = as_key(key, offset)
    dt = torch_dtype(dtype)
    if dt not in _FLOATS:
        raise TypeError(f"dtype must be a float dtype, got {jnp.dtype(dtype)}")
    with jax.enable_x64(True):
        k, off, *hidden = runtime_key(k, off, *params)  # (one callback for all the compiler must not see)
        return _program(n, version, what, dt)(k, off, *hidden)


def _xp(*arrays: Any) -> Any:
    """numpy for known values (kept from the compiler until :func:`_run`), else jax.numpy."""
    return jnp if any(isinstance(a, jax.core.Tracer) for a in arrays) else np


def _flat(p: Any, shape: tuple[int, ...]) -> Any:
    with jax.enable_x64(True):
        xp = _xp(p)
        return xp.reshape(xp.broadcast_to(p, shape), (-1,))


def standard_gamma(key: Any, alpha: Any, shape: Any = None, dtype: Any = jnp.float32, *, offset: Any = 0,
                   stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.standard_gamma`: Gamma(``alpha``, 1) (``jax.random.gamma``).

    Args:
        key: as :func:`keystream.jax.rand` (a keystream key, key words, an int seed or a
            :class:`keystream.Generator`).
        alpha: a number or an array (finite, > 0).
        shape: the draw's shape (``alpha`` broadcasts to it); default ``alpha``'s shape.
        dtype: a float dtype.
        offset: the first block (a Generator's ``offset``).
        stream_version: 1 or 2, as :class:`keystream.Generator`.

    Reproducibility:
        ``keystream.standard_gamma(alpha, shape, generator=g)`` for ``g`` at this key and
        offset: the same values, and ``6n + ceil(13n / 2)`` blocks for ``n`` elements.
    """
    a = _param(alpha, "alpha")
    s = _shape(shape, a)
    return jnp.reshape(_run(key, offset, math.prod(s), _version(key, stream_version), "standard_gamma", dtype,
                            _flat(a, s)), s)


def gamma(key: Any, concentration: Any, rate: Any = 1.0, shape: Any = None, dtype: Any = jnp.float32, *,
          offset: Any = 0, stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.gamma`: Gamma(``concentration``, ``rate``), :func:`standard_gamma`
    divided by ``rate`` in float64 (arguments as :func:`standard_gamma`)."""
    c, r = _param(concentration, "concentration"), _param(rate, "rate")
    s = _shape(shape, c, r)
    return jnp.reshape(_run(key, offset, math.prod(s), _version(key, stream_version), "gamma", dtype,
                            _flat(c, s), _flat(r, s)), s)


def chi2(key: Any, df: Any, shape: Any = None, dtype: Any = jnp.float32, *, offset: Any = 0,
         stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.chi2`: ``2 standard_gamma(df / 2)`` (``jax.random.chisquare``)."""
    d = _param(df, "df")
    s = _shape(shape, d)
    return jnp.reshape(_run(key, offset, math.prod(s), _version(key, stream_version), "chi2", dtype, _flat(d, s)), s)


def student_t(key: Any, df: Any, shape: Any = None, dtype: Any = jnp.float32, *, offset: Any = 0,
              stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.student_t`: ``X / sqrt(Z / df)`` (``jax.random.t``), ``X`` the normals
    drawn first, ``Z`` chi-square(df) from the next blocks; stream version 2 takes ``ln Z``
    where ``df < 2`` (NOTE [ Gamma in log space ])."""
    d = _param(df, "df")
    s = _shape(shape, d)
    version = _version(key, stream_version)
    logs = version >= 2 and (isinstance(d, jax.core.Tracer) or bool(np.any(d < 2.0)))
    return jnp.reshape(_run(key, offset, math.prod(s), version, "student_t" + (":log" if logs else ""), dtype,
                            _flat(d, s)), s)


def beta(key: Any, a: Any, b: Any, shape: Any = None, dtype: Any = jnp.float32, *, offset: Any = 0,
         stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.beta`: ``X / (X + Y)`` of the Gammas of ``a`` and ``b``, from their logs
    where a parameter is below 1 (stream version 2; NOTE [ Gamma in log space ])."""
    pa, pb = _param(a, "a"), _param(b, "b")
    s = _shape(shape, pa, pb)
    with jax.enable_x64(True):
        rows = _xp(pa, pb).stack([_flat(pa, s), _flat(pb, s)], axis=-1)
    return jnp.reshape(_rows(key, offset, rows, "beta", dtype, stream_version), s)


def dirichlet(key: Any, alpha: Any, dtype: Any = jnp.float32, *, offset: Any = 0,
              stream_version: int = STREAM_VERSION) -> Any:
    """:func:`keystream.dirichlet`: the Gammas of ``alpha`` (an array: categories last)
    divided by their sum, from their logs in rows with a parameter below 1 (stream version 2)."""
    a = _param(alpha, "alpha")
    if a.ndim == 0 or a.shape[-1] == 0:
        raise ValueError(f"alpha must have a last dimension of at least one category, got shape {a.shape}")
    with jax.enable_x64(True):
        rows = _xp(a).reshape(a, (-1, a.shape[-1]))
    return jnp.reshape(_rows(key, offset, rows, "dirichlet", dtype, stream_version), a.shape)


def _rows(key: Any, offset: Any, rows: Any, what: str, dtype: Any, stream_version: int) -> Any:
    version = _version(key, stream_version)
    # (log space where a parameter is below 1: known for concrete parameters; traced ones take it always,
    # which gives the same values: rows without such a parameter keep the ratio of the values)
    logs = version >= 2 and (isinstance(rows, jax.core.Tracer) or bool(np.any(rows < 1.0)))
    with jax.enable_x64(True):
        flat = _xp(rows).reshape(rows, (-1,))
    return _run(key, offset, int(flat.shape[0]), version, what + (":log" if logs else ""), dtype, flat, rows)
