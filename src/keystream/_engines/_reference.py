"""The reference engine: numpy, written for reading, the oracle of every test.

Every other engine must equal this one bit for bit.  It computes each output
element on its own from its flat index ``e`` (recomputing a block for each of
its elements), which is slow but leaves no room for indexing tricks.  The
steps follow docs/spec.md sections 4 to 7 in order.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .._core._constants import u32
from .._core._kinds import elements_per_block, layout
from .._core._math import truncnorm
from .._core._math.feistel import ROUND_C2, ROUND_C3, ROUNDS_V2, SORT_MAX, feistel_keys, half_bits, permutation_key
from .._core._math.numpy_forms import (
    c32,
    c64,
    exp_f64,
    log_f64,
    neg_log_f32,
    neg_log_f64,
    sincos_f32,
    sincos_f64,
)
from .._core._math.xp import namespace
from .._core._philox import philox4x32
from .._core._spec import DrawSpec, flat_strides
from ._base import Engine

__all__ = ["ReferenceEngine", "permute", "permute_v2"]

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
_u = np.uint64


# --------------------------------------------------------------------------- raw words
def _xp(spec: DrawSpec) -> Any:
    """numpy, or jax.numpy where the spec's key or offset is a JAX array (keystream.jax)."""
    return namespace(spec.offset, *spec.key)


def block_words(spec: DrawSpec, rel: U64) -> tuple[U32, U32, U32, U32]:
    """The four words of the draw's blocks ``rel`` (block ``offset + rel`` mod 2^64: counter
    ``(c lo, c hi, 0, 0)``)."""
    xp = _xp(spec)
    if xp is not np:  # keystream.jax: the offset is a uint64 JAX scalar (wraps like numpy's)
        blocks = xp.asarray(spec.offset, dtype=np.uint64) + rel
    else:
        with np.errstate(over="ignore"):
            blocks = _u(spec.offset) + rel
    return philox4x32(blocks & _u(0xFFFFFFFF), blocks >> _u(32), 0, 0, spec.key[0], spec.key[1])


def word32(spec: DrawSpec, e: U64) -> U32:
    """Element ``e`` of a 32-bit draw: word ``e % 4`` of block ``offset + e // 4``."""
    xp = _xp(spec)
    w = block_words(spec, e // _u(4))
    i = e % _u(4)
    if xp is not np:  # (jax.numpy's choose: selects)
        return xp.where(i == 0, w[0], xp.where(i == 1, w[1], xp.where(i == 2, w[2], w[3])))  # type: ignore[no-any-return]
    return np.choose(i.astype(np.intp), w).astype(np.uint32)


def word64(spec: DrawSpec, e: U64) -> U64:
    """Element ``e`` of a 64-bit draw: ``w[2i] + 2^32 w[2i+1]``, ``i = e % 2``, block ``e // 2``."""
    xp = _xp(spec)
    w = block_words(spec, e // _u(2))
    lo = xp.where(e % _u(2) == 0, w[0], w[2]).astype(np.uint64)
    hi = xp.where(e % _u(2) == 0, w[1], w[3]).astype(np.uint64)
    return lo | (hi << _u(32))


def element_words(spec: DrawSpec, e: U64) -> list[U32]:
    """The ``4b`` words of element ``e`` of a kind of layout ``(1, b)``: words 0-3 of block
    ``offset + b e``, then of block ``offset + b e + 1``, ... (spec section 4)."""
    _, b = layout(spec.kind, spec.dtype)
    return [w for j in range(b) for w in block_words(spec, e * _u(b) + _u(j))]


# ---------------------------------------------------------------- distributions
def _round_bf16(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Round float32 to the nearest bfloat16 (ties to even), kept in float32 storage."""
    xp = namespace(x)
    b = x.view(np.uint32).astype(np.uint64)
    rounded = (b + _u(0x7FFF) + ((b >> _u(16)) & _u(1))) & _u(0xFFFF0000)
    rounded = xp.where(xp.isnan(x), b | _u(0x00400000), rounded)  # keep NaN a (quiet) NaN
    return rounded.astype(np.uint32).view(np.float32)


def _round_to(x: npt.NDArray[np.float32], dtype: torch.dtype) -> npt.NDArray[np.float32]:
    """Round float32 values to ``dtype`` (ties to even); identity for float32."""
    if dtype == torch.float16:
        with np.errstate(over="ignore"):  # beyond 65504 is inf, as torch rounds
            return x.astype(np.float16).astype(np.float32)
    if dtype == torch.bfloat16:
        return _round_bf16(x)
    return x


def uniform01(spec: DrawSpec, e: U64) -> npt.NDArray[np.floating]:
    """The exact [0, 1) value of element ``e`` (float64 storage for float64, else float32)."""
    if spec.dtype == torch.float64:
        return (word64(spec, e) >> _u(11)).astype(np.float64) * c64("TWO_M53_F64")
    w = word32(spec, e)
    drop, unit = {torch.float32: (8, "TWO_M24_F32"), torch.float16: (21, "TWO_M11_F32"),
                  torch.bfloat16: (24, "TWO_M8_F32")}[spec.dtype]
    return (w >> np.uint32(drop)).astype(np.float32) * c32(unit)


def uniform(spec: DrawSpec, e: U64) -> np.ndarray:
    """``x = low + span*u`` with each operation rounded to the output dtype; ``x >= high`` becomes
    ``below`` (the largest value of the dtype below ``high``), so ``high`` is never returned."""
    xp = _xp(spec)
    low, span, high, below = spec.params
    u = uniform01(spec, e)
    if spec.dtype == torch.float64:
        y = np.float64(low) + np.float64(span) * u
        return xp.where(y >= np.float64(high), np.float64(below), y)
    t = _round_to(np.float32(span) * u, spec.dtype)
    x = _round_to(np.float32(low) + t, spec.dtype)
    return xp.where(x >= np.float32(high), np.float32(below), x)


def uniform_v2(spec: DrawSpec, e: U64) -> np.ndarray:
    """Stream version 2's 16-bit uniform: ``x = low + span*u`` in float32 with the float32
    uniform ``u`` (24 bits), rounded once to the dtype; ``x >= high`` becomes ``below``."""
    xp = _xp(spec)
    low, span, high, below = spec.params
    u = (word32(spec, e) >> np.uint32(8)).astype(np.float32) * c32("TWO_M24_F32")
    x = _round_to(np.float32(low) + np.float32(span) * u, spec.dtype)
    return xp.where(x >= np.float32(high), np.float32(below), x)


def standard_normal(spec: DrawSpec, e: U64) -> np.ndarray:
    """Box-Muller: radius from the first word (pair), angle from the second; cos then sin."""
    xp = _xp(spec)
    if spec.dtype == torch.float64:
        j, i = e // _u(2), e % _u(2)
        w = block_words(spec, j)
        xa = w[0].astype(np.uint64) | (w[1].astype(np.uint64) << _u(32))
        xb = w[2].astype(np.uint64) | (w[3].astype(np.uint64) << _u(32))
        r64 = xp.sqrt(c64("TWO_F64") * neg_log_f64(xa))
        cos64, sin64 = sincos_f64(xb)
        return r64 * xp.where(i == 0, cos64, sin64)
    j, p = e // _u(4), e % _u(4)
    w = block_words(spec, j)
    wr = xp.where(p < 2, w[0], w[2]).astype(np.uint32)  # pair (w0, w1) -> elements 4j, 4j+1
    wa = xp.where(p < 2, w[1], w[3]).astype(np.uint32)
    r = xp.sqrt(c32("TWO_F32") * neg_log_f32(wr))
    c, s = sincos_f32(wa)
    return r * xp.where(p % _u(2) == 0, c, s)


def normal(spec: DrawSpec, e: U64) -> np.ndarray:
    """``x = mean + std*z`` in the compute dtype (float64 for float64, else float32), then rounded
    once to the output dtype."""
    mean, std = spec.params
    z = standard_normal(spec, e)
    if spec.dtype == torch.float64:
        return np.float64(mean) + np.float64(std) * z
    return _round_to(np.float32(mean) + np.float32(std) * z, spec.dtype)


def exponential(spec: DrawSpec, e: U64) -> np.ndarray:
    """``x = (-ln u) / lambd`` in the compute dtype, then rounded once to the output dtype."""
    (lambd,) = spec.params
    if spec.dtype == torch.float64:
        return neg_log_f64(word64(spec, e)) / np.float64(lambd)
    return _round_to(neg_log_f32(word32(spec, e)) / np.float32(lambd), spec.dtype)


def cauchy(spec: DrawSpec, e: U64) -> np.ndarray:
    """``median + sigma * tan t``, ``tan t = sin t / cos t`` of the element's angle word (the
    normal's sin/cos; ``cos t`` is never 0), in the compute dtype, then rounded once."""
    median, sigma = spec.params
    if spec.dtype == torch.float64:
        c, s = sincos_f64(word64(spec, e))
        return np.float64(median) + np.float64(sigma) * (s / c)
    c32_, s32_ = sincos_f32(word32(spec, e))
    return _round_to(np.float32(median) + np.float32(sigma) * (s32_ / c32_), spec.dtype)


def laplace(spec: DrawSpec, e: U64) -> np.ndarray:
    """``loc + scale * (E_a - E_b)``, two exponentials ``E = -ln u`` from the element's two
    words (float64: two 64-bit words), in the compute dtype, then rounded once."""
    xp = _xp(spec)
    loc, scale = spec.params
    if spec.dtype == torch.float64:
        w = block_words(spec, e)
        xa = w[0].astype(np.uint64) | (w[1].astype(np.uint64) << _u(32))
        xb = w[2].astype(np.uint64) | (w[3].astype(np.uint64) << _u(32))
        return np.float64(loc) + np.float64(scale) * (neg_log_f64(xa) - neg_log_f64(xb))
    w = block_words(spec, e // _u(2))
    first = e % _u(2) == 0
    wa = xp.where(first, w[0], w[2]).astype(np.uint32)  # (w0, w1) -> element 2j, (w2, w3) -> 2j + 1
    wb = xp.where(first, w[1], w[3]).astype(np.uint32)
    diff = neg_log_f32(wa) - neg_log_f32(wb)
    return _round_to(np.float32(loc) + np.float32(scale) * diff, spec.dtype)


def gumbel(spec: DrawSpec, e: U64) -> np.ndarray:
    """``loc - scale * ln(-ln u)`` in float64 from the element's 64-bit word, for every dtype
    (the log of a float is the stream's float64 log); float32 rounded once, 16-bit from that."""
    loc, scale = spec.params
    y = np.float64(loc) - np.float64(scale) * log_f64(neg_log_f64(word64(spec, e)))
    return y if spec.dtype == torch.float64 else _round_to(y.astype(np.float32), spec.dtype)


def log_normal(spec: DrawSpec, e: U64) -> np.ndarray:
    """``exp(v)``, ``v = mean + std*z`` the element's normal in the compute dtype, with the
    stream's float64 exp; float32 rounded once from float64, 16-bit from that float32."""
    ct = torch.float64 if spec.dtype == torch.float64 else torch.float32
    v = normal(dataclasses.replace(spec, kind="normal", dtype=ct), e)
    y = exp_f64(v.astype(np.float64))
    return y if ct == torch.float64 else _round_to(y.astype(np.float32), spec.dtype)


def geometric(spec: DrawSpec, e: U64) -> np.ndarray:
    """Trials up to the first success: ``1 + floor((-ln u) / lam)``, ``lam = -ln(1 - p)``,
    in the compute dtype, then rounded once."""
    xp = _xp(spec)
    (lam,) = spec.params
    if spec.dtype == torch.float64:
        return xp.floor(neg_log_f64(word64(spec, e)) / np.float64(lam)) + np.float64(1.0)
    q = xp.floor(neg_log_f32(word32(spec, e)) / np.float32(lam)) + np.float32(1.0)
    return _round_to(q, spec.dtype)


def _mulhi64(x: U64, span: int) -> U64:
    """``floor(x * span / 2^64)`` for ``span`` in [1, 2^64], from 32-bit limb products."""
    if span == 1 << 64:
        return x
    m = _u(0xFFFFFFFF)
    xl, xh = x & m, x >> _u(32)
    rl, rh = _u(span & 0xFFFFFFFF), _u(span >> 32)
    ll, lh, hl, hh = xl * rl, xl * rh, xh * rl, xh * rh
    mid = (ll >> _u(32)) + (lh & m) + (hl & m)  # < 3 * 2^32, no overflow
    return hh + (lh >> _u(32)) + (hl >> _u(32)) + (mid >> _u(32))


def randint(spec: DrawSpec, e: U64) -> np.ndarray:
    """``low + floor(x * span / 2^64)`` with ``x`` the element's 64-bit word (computed mod 2^64)."""
    low, span = spec.params
    with np.errstate(over="ignore"):  # addition modulo 2^64 is the definition
        v = _mulhi64(word64(spec, e), span) + _u(low % (1 << 64))
    return v.view(np.int64)


def trunc_normal(spec: DrawSpec, e: U64) -> np.ndarray:
    """The first of the element's 16 candidates ``mean + std*z`` (compute dtype) inside
    ``[a, b]``, else the last one clamped to ``[a, b]``; then rounded once to the dtype.

    Candidate ``c`` of element ``e`` is element ``16e + c`` of a normal draw of the
    compute dtype at the same offset: the element's ``b`` blocks in the randn layout."""
    xp = _xp(spec)
    mean, std, a, b = spec.params
    ct = torch.float64 if spec.dtype == torch.float64 else torch.float32
    _, blocks = layout(spec.kind, spec.dtype)
    count = blocks * elements_per_block("normal", ct)
    normals = dataclasses.replace(spec, kind="normal", params=(mean, std), dtype=ct)
    lo, hi = (np.float64(a), np.float64(b)) if ct == torch.float64 else (np.float32(a), np.float32(b))
    last = normal(normals, e * _u(count) + _u(count - 1))  # none inside: the last one, clamped
    value = xp.where(last < lo, lo, xp.where(last > hi, hi, last))
    for c in range(count - 2, -1, -1):  # from the last to the first: the first inside wins
        z = normal(normals, e * _u(count) + _u(c))
        value = xp.where((z >= lo) & (z <= hi), z, value)
    return value if ct == torch.float64 else _round_to(value, spec.dtype)


def _pair64(w: tuple[U32, U32, U32, U32]) -> tuple[U64, U64]:
    """A block's two 64-bit words ``w0 + 2^32 w1`` and ``w2 + 2^32 w3``."""
    xa = w[0].astype(np.uint64) | (w[1].astype(np.uint64) << _u(32))
    xb = w[2].astype(np.uint64) | (w[3].astype(np.uint64) << _u(32))
    return xa, xb


def trunc_normal_v2(spec: DrawSpec, e: U64) -> np.ndarray:
    """Stream version 2 (NOTE [ Truncated normal by rejection ] in ``_math/truncnorm.py``):
    candidate ``c`` of element ``e`` is block ``32e + c``; its 64-bit words ``xa``, ``xb``
    give the proposal and the acceptance test; the first accepted candidate wins."""
    xp = _xp(spec)
    mean, std, a, b, alpha, beta, sign, method, m = (np.float64(v) for v in spec.params)
    if method == truncnorm.CONST:
        value = xp.full(e.shape, min(max(mean, a), b), np.float64)
    else:
        half = c64("HALF_F64")
        value = xp.zeros(e.shape, np.float64)
        done = xp.zeros(e.shape, bool)
        for c in range(truncnorm.CANDIDATES):
            xa, xb = _pair64(block_words(spec, e * _u(truncnorm.CANDIDATES) + _u(c)))
            if method == truncnorm.NORMAL:
                x = xp.sqrt(c64("TWO_F64") * neg_log_f64(xa)) * sincos_f64(xb)[0]
                ok = (x >= alpha) & (x <= beta)
            elif method == truncnorm.UNIFORM:
                x = alpha + (beta - alpha) * ((xa >> _u(11)).astype(np.float64) * c64("TWO_M53_F64"))
                ok = neg_log_f64(xb) >= (half * (x - m)) * (x + m)
            else:
                x = alpha + neg_log_f64(xa) / m
                ok = (x <= beta) & (neg_log_f64(xb) >= (half * (x - m)) * (x - m))
            if c == truncnorm.CANDIDATES - 1:  # none accepted: the last proposal, clamped
                ok = ok | ~done
                x = xp.minimum(xp.maximum(x, alpha), beta)
            value = xp.where(ok & ~done, x, value)
            done = done | ok
        flip = xp.full(e.shape, sign < 0)
        value = mean + std * _flip64(value, flip)
        value = xp.minimum(xp.maximum(value, a), b)
    return value if spec.dtype == torch.float64 else _round_to(value.astype(np.float32), spec.dtype)


def _flip64(x: npt.NDArray[np.float64], flip: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Negate where ``flip`` by the sign bit."""
    xp = namespace(x)
    return (x.view(np.uint64) ^ xp.where(flip, _u(1 << 63), _u(0))).view(np.float64)


def bernoulli(spec: DrawSpec, e: U64) -> np.ndarray:
    """1 where the element's word is below ``threshold = ceil(p * 2^32)``, else 0."""
    (threshold,) = spec.params
    return word32(spec, e).astype(np.uint64) < _u(threshold)


def _fmix32(v: U64) -> U64:
    m = _u(0xFFFFFFFF)
    v = v ^ (v >> _u(16))
    v = (v * _u(u32("FMIX_M0"))) & m
    v = v ^ (v >> _u(13))
    v = (v * _u(u32("FMIX_M1"))) & m
    return v ^ (v >> _u(16))


def _feistel(x: U64, keys: list[int], h: int) -> U64:
    mask = _u((1 << h) - 1)
    left, right = x >> _u(h), x & mask
    for k in keys:
        left, right = right, left ^ (_fmix32(right ^ _u(k)) & mask)
    return (left << _u(h)) | right


def _cycle_walk(i: U64, n: int, step) -> U64:  # type: ignore[no-untyped-def]
    """``step`` applied to ``i``, then again to each value while it is ``>= n``."""
    y = step(i)
    out = y >= _u(n)
    while out.any():
        y[out] = step(y[out])
        out = y >= _u(n)
    return y


def permute(i: U64, n: int, keys: list[int]) -> U64:
    """``pi(i)`` for a permutation of [0, n): Feistel on [0, 4^h), cycle-walking into [0, n)."""
    h = half_bits(n)
    return _cycle_walk(i, n, lambda x: _feistel(x, keys, h))


def _round_function(v: U64, r: int, pkey: tuple[int, int], mask: int) -> U64:
    """Round ``r``'s function of version 2's Feistel network: word ``v % 4`` of the Philox
    block with counter ``(v // 4, r, TAG_PERM_ROUND, 2)`` under the permutation key, its
    bits under ``mask``."""
    ws = philox4x32(v >> _u(2), np.full(v.shape, r, np.uint64), ROUND_C2, ROUND_C3, pkey[0], pkey[1])
    i = (v & _u(3)).astype(np.intp)
    return np.choose(i, ws).astype(np.uint64) & _u(mask)


def _feistel_v2(x: U64, pkey: tuple[int, int], k: int) -> U64:
    """Version 2's unbalanced Feistel network on ``[0, 2^k)``: ``x = L 2^b + R`` with ``L``
    of ``a = ceil(k/2)`` bits and ``R`` of ``b = floor(k/2)``; even rounds add ``F_r(R)`` to
    ``L`` modulo ``2^a``, odd rounds ``F_r(L)`` to ``R`` modulo ``2^b`` (adding, unlike XOR,
    reaches odd permutations)."""
    a, b = (k + 1) // 2, k // 2
    ma, mb = (1 << a) - 1, (1 << b) - 1
    left, right = x >> _u(b), x & _u(mb)
    for r in range(ROUNDS_V2):
        if r % 2 == 0:
            left = (left + _round_function(right, r, pkey, ma)) & _u(ma)
        else:
            right = (right + _round_function(left, r, pkey, mb)) & _u(mb)
    return (left << _u(b)) | right


def sort_keys(n: int, pkey: tuple[int, int]) -> U64:
    """The ``n`` 64-bit sort keys of version 2's small permutations: a uint64 bits draw of
    ``n`` elements under the permutation key at offset 0."""
    bits = DrawSpec("bits", (), pkey, 0, (n,), ((0, n),), torch.uint64)
    return word64(bits, np.arange(n, dtype=np.uint64))


def permute_v2(i: U64, n: int, pkey: tuple[int, int]) -> U64:
    """Stream version 2's ``pi(i)``: for ``n <= 2^16`` the ranks of a stable sort of ``n``
    64-bit keys (``pi`` lists the keys' indices in increasing key order, ties by index);
    above, a 10-round Feistel network with modular addition on ``[0, 2^k)``, ``k`` the bit
    length of ``n - 1``, cycle-walked into ``[0, n)`` (fewer than 2 steps on average)."""
    if n <= SORT_MAX:
        keys = sort_keys(n, pkey)
        xp = namespace(keys)  # (numpy before 2.0 knows kind="stable", jax.numpy stable=True)
        order = (np.argsort(keys, kind="stable") if xp is np else xp.argsort(keys, stable=True)).astype(np.uint64)
        return order[i.astype(np.intp)]
    if namespace(*pkey) is not np:  # (the cycle walk's data-dependent loop: numpy only)
        raise NotImplementedError(f"keystream.jax computes permutations of at most {SORT_MAX} elements, got {n}")
    k = (n - 1).bit_length()
    return _cycle_walk(i, n, lambda x: _feistel_v2(x, pkey, k))


_DRAWS = {
    "uniform": uniform,
    "normal": normal,
    "exponential": exponential,
    "randint": randint,
    "bernoulli": bernoulli,
    "trunc_normal": trunc_normal,
    "cauchy": cauchy,
    "laplace": laplace,
    "gumbel": gumbel,
    "log_normal": log_normal,
    "geometric": geometric,
    "uniform_v2": uniform_v2,
    "trunc_normal_v2": trunc_normal_v2,
}


def region_indices(spec: DrawSpec) -> U64:
    """Flat indices ``e`` of the region's elements, in C order."""
    e = np.zeros((), np.uint64)
    for (start, stop), stride in zip(spec.region, flat_strides(spec.shape)):
        e = e[..., None] + (np.arange(stop - start, dtype=np.uint64) + _u(start)) * _u(stride)
    return e


def compute(spec: DrawSpec) -> np.ndarray:
    """The region of the draw as a numpy array (float32 storage for 16-bit floats)."""
    e = region_indices(spec)
    if spec.kind == "bits":
        k = elements_per_block(spec.kind, spec.dtype)
        return word32(spec, e) if k == 4 else word64(spec, e)
    if spec.kind == "randperm":
        (n,) = spec.params
        return permute(e, n, feistel_keys(spec.key, spec.offset)).view(np.int64)
    if spec.kind == "randperm_v2":
        (n,) = spec.params
        return permute_v2(e, n, permutation_key(spec.key, spec.offset)).view(np.int64)
    return _DRAWS[spec.kind](spec, e)


class ReferenceEngine(Engine):
    """The numpy oracle.  CPU tensors only; slow on purpose (one block per element)."""

    name = "reference"

    def supports(self, device: torch.device) -> bool:
        return device.type == "cpu"

    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        values = np.ascontiguousarray(compute(spec)).reshape(spec.out_shape)
        if spec.kind == "bits":
            src = torch.from_numpy(values.view(np.int32 if values.dtype == np.uint32 else np.int64).copy())
            out.view(src.dtype).copy_(src)
        else:
            out.copy_(torch.from_numpy(values.copy()))  # exact: values are representable in out.dtype
