"""IEEE arithmetic under XLA: NOTE [ strict floats in XLA ].

XLA's CPU and GPU compilers contract a multiply feeding an add into a fused multiply-add,
and rewrite some operations with a constant operand (a division by a constant into a
multiplication by its rounded reciprocal, ``x + 0`` into ``x``); no flag turns this off.
The stream forbids both (docs/spec.md: each IEEE operation rounded on its own).  So the
reference forms are traced to a jaxpr and replayed here with two changes that XLA cannot
undo: every floating-point product goes through ``nextafter(p, p)`` (the same value, but no
longer a product the add could absorb), and a constant operand of a floating-point
add, subtract, multiply or divide becomes ``select(x != x, x, c)`` of the other operand ``x``
(``c`` unless ``x`` is NaN, where the result is that NaN either way), which no rewrite
recognises as a constant.  Every divisor becomes ``select(x != x, x, d)`` the same way: XLA
turns a division by a broadcast (``x / total[:, None]``, a select of broadcasts, a caller's
broadcast once inlined) into a product by the broadcast reciprocal; and a square root that is
a divisor becomes ``sqrt(y) - 0`` (a zero computed at run time), which ``x / sqrt(y)`` does
not turn into ``x * rsqrt(y)``.
Eagerly every operation runs on its own and nothing is changed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.extend.core import Literal

__all__ = ["strict"]

_ARITH = {"add", "sub", "mul", "div"}
_CALLS = {"pjit", "jit", "closed_call", "core_call"}


def _opaque(c: Any, x: Any) -> Any:
    """The constant ``c`` as a value of ``x``'s shape that no compiler rewrite sees as one."""
    c = jnp.broadcast_to(jnp.asarray(c, dtype=x.dtype), x.shape) if jnp.shape(c) != x.shape else jnp.asarray(c)
    return lax.select(x != x, x, c)


def _replay(jaxpr: Any, consts: list[Any], args: list[Any], zero: Callable[[Any], Any],
            data: list[bool] | None = None) -> tuple[list[Any], list[bool]]:
    """Evaluate ``jaxpr`` with the changes of NOTE [ strict floats in XLA ]; ``data`` says
    which arguments depend on the inputs (the rest, like the constants, are constants)."""
    env: dict[Any, Any] = {}
    dep: dict[Any, bool] = {}

    def out_shape(eqn: Any) -> tuple[int, ...]:
        return tuple(eqn.outvars[0].aval.shape)

    divisors = {e.invars[1] for e in jaxpr.eqns if e.primitive.name == "div" and not isinstance(e.invars[1], Literal)}

    def read(v: Any) -> Any:
        return v.val if isinstance(v, Literal) else env[v]

    def is_data(v: Any) -> bool:
        return not isinstance(v, Literal) and dep.get(v, False)

    for var, val in zip(jaxpr.constvars, consts):
        env[var], dep[var] = val, False
    for i, (var, val) in enumerate(zip(jaxpr.invars, args)):
        env[var], dep[var] = val, True if data is None else data[i]
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        flags = [is_data(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name in _CALLS and "jaxpr" in eqn.params:
            sub = eqn.params["jaxpr"]
            inner, inner_consts = (sub.jaxpr, sub.consts) if hasattr(sub, "consts") else (sub, [])
            outs, out_flags = _replay(inner, list(inner_consts), invals, zero, flags)
        elif name in _ARITH and jnp.issubdtype(eqn.outvars[0].aval.dtype, jnp.floating) and any(flags):
            if not all(flags):  # a constant operand: opaque (no rewrite with a constant)
                x = next(v for v, f in zip(invals, flags) if f)
                shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in invals))
                x = jnp.broadcast_to(x, shape) if jnp.shape(x) != shape else x
                invals = [v if f else _opaque(v, x) for v, f in zip(invals, flags)]
            elif name == "div":
                # x / broadcast(t) would become x * broadcast(1 / t), and XLA makes broadcasts of
                # its own (a select of broadcasts, a caller's inlined one): the divisor as a select of x's
                x = invals[0]
                shape = out_shape(eqn)
                x = jnp.broadcast_to(x, shape) if jnp.shape(x) != shape else x
                d = jnp.broadcast_to(invals[1], shape) if jnp.shape(invals[1]) != shape else invals[1]
                invals = [invals[0], lax.select(x != x, x, d)]
            out = eqn.primitive.bind(*invals, **eqn.params)
            if name == "mul":
                out = out - zero(out.dtype)  # the product stays rounded (no fused multiply-add)
            outs, out_flags = [out], [True]
        elif name == "sqrt" and any(flags) and eqn.outvars[0] in divisors:  # x / sqrt(y) would become x * rsqrt(y)
            out = eqn.primitive.bind(*invals, **eqn.params)
            outs, out_flags = [out - zero(out.dtype)], [True]
        else:
            out = eqn.primitive.bind(*invals, **eqn.params)
            outs = list(out) if eqn.primitive.multiple_results else [out]
            out_flags = [any(flags)] * len(outs)
        for var, val, f in zip(eqn.outvars, outs, out_flags):
            env[var], dep[var] = val, f
    return [read(v) for v in jaxpr.outvars], [is_data(v) for v in jaxpr.outvars]


def strict(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` (one array result) with every floating-point operation rounded on its
    own under XLA (NOTE [ strict floats in XLA ]); one of ``args`` must be a runtime array of
    non-negative integers (the key)."""
    closed = jax.make_jaxpr(fn)(*args)
    zeros: dict[Any, Any] = {}

    source = next(a for a in args if jnp.issubdtype(a.dtype, jnp.integer))

    def zero(dtype: Any) -> Any:
        # +0.0 as the result of a reduction of a runtime integer argument (the key, the mask's
        # words): computed by a kernel of its own and read from memory by the others, whose
        # compiler cannot know its value (min(v, 1) * 0 is +0.0 for every v >= 0)
        if dtype not in zeros:
            zeros[dtype] = jnp.min(jnp.minimum(source, 1).astype(dtype) * jnp.zeros((), dtype))
        return zeros[dtype]

    (out,), _ = _replay(closed.jaxpr, list(closed.consts), list(args), zero)
    return out
