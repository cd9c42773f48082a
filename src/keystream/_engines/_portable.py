"""The portable engine: the reference algorithm in plain torch tensor ops.

Runs on any torch device (CPU, CUDA, MPS, ...) and is the fallback wherever no
faster engine exists.  Words are held in int64 tensors (values in [0, 2^32)),
so nothing relies on unsigned tensor support, and every 32x32-bit product is
split into 16-bit halves so that no intermediate overflows int64.

Work is done per *group* (``_kinds.KernelKind.layout``: k elements from b blocks,
one of them 1): the groups the region touches are computed once each (``torch.unique``
of ``e // k`` for a scattered region, at most ``_CHUNK`` blocks at a time for a
contiguous one), then elements are gathered.  Float arithmetic is one torch op per IEEE operation, so every
operation is rounded on its own (no fused multiply-add).
"""
from __future__ import annotations

import dataclasses

import torch

from .._core._constants import f32, f64, u32
from .._core._kinds import elements_per_block, layout
from .._core._math import truncnorm
from .._core._math.feistel import ROUND_C2, ROUND_C3, ROUNDS_V2, SORT_MAX, feistel_keys, permutation_key
from .._core._math.torch_forms import (
    c32,
    c64,
    exp_f64,
    log_f64,
    mulhi64,
    mulhilo32,
    neg_log_f32,
    neg_log_f64,
    sincos_f32,
    sincos_f64,
    sqrt_f32,
    sqrt_f64,
)
from .._core._spec import DrawSpec, flat_strides
from ._base import Engine

__all__ = ["PortableEngine"]

_M32 = 0xFFFFFFFF
Tensor = torch.Tensor
#: Blocks computed at once for a contiguous run: bounds the int64 intermediates (tens of
#: bytes per word) whatever the draw's size.
_CHUNK = 1 << 20


def _mullo(a: Tensor, m: int) -> Tensor:
    return mulhilo32(a, m)[1]


def philox(c0: Tensor, c1: Tensor, key: tuple[int, int], c2: Tensor | None = None,
           c3: Tensor | None = None, rounds: int = u32("PHILOX_ROUNDS")) -> list[Tensor]:
    """Philox4x32-R on counters ``(c0, c1, c2, c3)`` (c2, c3 default 0); words as int64 tensors."""
    m0, m1, w0, w1 = u32("PHILOX_M0"), u32("PHILOX_M1"), u32("PHILOX_W0"), u32("PHILOX_W1")
    zero = torch.zeros_like(c0)
    x0, x1 = c0, c1
    x2 = zero if c2 is None else c2
    x3 = zero if c3 is None else c3
    for r in range(rounds):
        k0, k1 = (key[0] + r * w0) & _M32, (key[1] + r * w1) & _M32
        hi0, lo0 = mulhilo32(x0, m0)
        hi1, lo1 = mulhilo32(x2, m1)
        x0, x1, x2, x3 = hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0
    return [x0, x1, x2, x3]


def block_words(spec: DrawSpec, rel: Tensor) -> list[Tensor]:
    """Words of blocks ``offset + rel`` (``rel`` int64 >= 0), with a 64-bit carry."""
    off_lo, off_hi = spec.offset & _M32, spec.offset >> 32
    lo = (rel & _M32) + off_lo
    hi = ((rel >> 32) + off_hi + (lo >> 32)) & _M32
    return philox(lo & _M32, hi, spec.key)


# ------------------------------------------------------------------ distributions
_HALF_DROP = {torch.float32: (8, f32("TWO_M24_F32")), torch.float16: (21, f32("TWO_M11_F32")),
              torch.bfloat16: (24, f32("TWO_M8_F32"))}


def _round_to(x: Tensor, dtype: torch.dtype) -> Tensor:
    """Round float32 values to ``dtype`` (nearest even) and back; identity for float32."""
    return x if dtype == torch.float32 else x.to(dtype).to(torch.float32)


def _pairs64(w: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The two 64-bit elements of a block as (hi, lo) word columns of shape [nb, 2]."""
    return torch.stack([w[1], w[3]], 1), torch.stack([w[0], w[2]], 1)


def _words32(w: list[Tensor]) -> Tensor:
    return torch.stack(w, 1)


def _block_values(spec: DrawSpec, rel: Tensor) -> Tensor:
    """Values of every element of blocks ``rel``: shape [nb, k] (float32 for 16-bit floats)."""
    w = block_words(spec, rel)
    kind, dtype = spec.kind, spec.dtype
    f64_out = dtype == torch.float64
    if kind == "bits":
        if elements_per_block(kind, dtype) == 4:
            return _words32(w)
        hi, lo = _pairs64(w)
        return (hi << 32) | lo  # int64 bit pattern of the uint64 word
    if kind == "uniform":
        low, span, high, below = spec.params
        if f64_out:
            hi, lo = _pairs64(w)
            u = ((hi << 21) | (lo >> 11)).to(torch.float64) * f64("TWO_M53_F64")
            x = torch.tensor(low, dtype=torch.float64, device=u.device) + span * u
            return torch.where(x >= high, below, x)
        drop, scale = _HALF_DROP[dtype]
        u = (_words32(w) >> drop).to(torch.float32) * scale
        t = _round_to(torch.tensor(span, dtype=torch.float32, device=u.device) * u, dtype)
        x = _round_to(torch.tensor(low, dtype=torch.float32, device=u.device) + t, dtype)
        return torch.where(x >= high, torch.tensor(below, dtype=torch.float32, device=u.device), x)
    if kind == "uniform_v2":  # float32 arithmetic on the 24-bit uniform, rounded once
        low, span, high, below = spec.params
        u = (_words32(w) >> 8).to(torch.float32) * f32("TWO_M24_F32")
        x = _round_to(torch.tensor(low, dtype=torch.float32, device=u.device)
                      + torch.tensor(span, dtype=torch.float32, device=u.device) * u, dtype)
        return torch.where(x >= high, torch.tensor(below, dtype=torch.float32, device=u.device), x)
    if kind == "normal":
        mean, std = spec.params
        if f64_out:
            r = sqrt_f64(c64("TWO_F64", w[0]) * neg_log_f64(w[1], w[0]))
            c, s = sincos_f64(w[3], w[2])
            z = torch.stack([r * c, r * s], 1)
            ft = torch.float64
        else:
            r0 = sqrt_f32(c32("TWO_F32", w[0]) * neg_log_f32(w[0]))
            r1 = sqrt_f32(c32("TWO_F32", w[0]) * neg_log_f32(w[2]))
            c0, s0 = sincos_f32(w[1])
            c1, s1 = sincos_f32(w[3])
            z = torch.stack([r0 * c0, r0 * s0, r1 * c1, r1 * s1], 1)
            ft = torch.float32
        x = torch.tensor(mean, dtype=ft, device=z.device) + torch.tensor(std, dtype=ft, device=z.device) * z
        return x if f64_out else _round_to(x, dtype)
    if kind == "exponential":
        (lambd,) = spec.params
        if f64_out:
            hi, lo = _pairs64(w)
            return neg_log_f64(hi, lo) / torch.tensor(lambd, dtype=torch.float64, device=hi.device)
        e = neg_log_f32(_words32(w)) / torch.tensor(lambd, dtype=torch.float32, device=w[0].device)
        return _round_to(e, dtype)
    if kind == "randint":
        low, span = spec.params
        hi, lo = _pairs64(w)
        if span < 1 << 64:
            hi, lo = mulhi64(hi, lo, span)
        low %= 1 << 64
        lo = lo + (low & _M32)
        hi = (hi + (low >> 32) + (lo >> 32)) & _M32
        lo = lo & _M32
        return (torch.where(hi >= 1 << 31, hi - (1 << 32), hi) << 32) | lo
    if kind == "bernoulli":
        (threshold,) = spec.params
        return _words32(w) < threshold
    if kind == "cauchy":
        median, sigma = spec.params
        if f64_out:
            c, s = sincos_f64(*_pairs64(w))
            ft = torch.float64
        else:
            c, s = sincos_f32(_words32(w))
            ft = torch.float32
        x = torch.tensor(median, dtype=ft, device=c.device) + torch.tensor(sigma, dtype=ft, device=c.device) * (s / c)
        return x if f64_out else _round_to(x, dtype)
    if kind == "laplace":
        loc, scale = spec.params
        if f64_out:
            diff = (neg_log_f64(w[1], w[0]) - neg_log_f64(w[3], w[2])).unsqueeze(1)
            ft = torch.float64
        else:
            diff = torch.stack([neg_log_f32(w[0]) - neg_log_f32(w[1]), neg_log_f32(w[2]) - neg_log_f32(w[3])], 1)
            ft = torch.float32
        x = torch.tensor(loc, dtype=ft, device=diff.device) + torch.tensor(scale, dtype=ft, device=diff.device) * diff
        return x if f64_out else _round_to(x, dtype)
    if kind == "gumbel":
        loc, scale = spec.params
        hi, lo = _pairs64(w)
        y = torch.tensor(loc, dtype=torch.float64, device=hi.device) - torch.tensor(
            scale, dtype=torch.float64, device=hi.device) * log_f64(neg_log_f64(hi, lo))
        return y if f64_out else _round_to(y.to(torch.float32), dtype)
    if kind == "log_normal":
        ct = torch.float64 if f64_out else torch.float32
        v = _block_values(dataclasses.replace(spec, kind="normal", dtype=ct), rel)
        y = exp_f64(v)
        return y if f64_out else _round_to(y.to(torch.float32), dtype)
    if kind == "geometric":
        (lam,) = spec.params
        if f64_out:
            hi, lo = _pairs64(w)
            return torch.floor(neg_log_f64(hi, lo) / torch.tensor(lam, dtype=torch.float64, device=hi.device)) + 1.0
        lam32 = torch.tensor(lam, dtype=torch.float32, device=w[0].device)
        return _round_to(torch.floor(neg_log_f32(_words32(w)) / lam32) + 1.0, dtype)
    raise ValueError(f"unknown draw kind {kind!r}")


def _trunc_normal_v2(spec: DrawSpec, groups: Tensor) -> Tensor:
    """Stream version 2's truncated normal (the reference's ``trunc_normal_v2``): candidate
    ``c`` of element ``e`` is block ``32 e + c``; only the candidates of elements still
    waiting are computed."""
    mean, std, a, b, alpha, beta, sign, method, m = spec.params
    dev = groups.device
    if method == truncnorm.CONST:
        value = torch.full((groups.numel(),), min(max(mean, a), b), dtype=torch.float64, device=dev)
    else:
        value = torch.zeros(groups.numel(), dtype=torch.float64, device=dev)
        todo = torch.arange(groups.numel(), device=dev)
        half = f64("HALF_F64")
        last = truncnorm.CANDIDATES - 1
        for c in range(truncnorm.CANDIDATES):
            w = block_words(spec, groups[todo] * truncnorm.CANDIDATES + c)
            if method == truncnorm.NORMAL:
                r = sqrt_f64(c64("TWO_F64", w[0]) * neg_log_f64(w[1], w[0]))
                x = r * sincos_f64(w[3], w[2])[0]
                ok = (x >= alpha) & (x <= beta)
            elif method == truncnorm.UNIFORM:
                u = ((w[1] << 21) | (w[0] >> 11)).to(torch.float64) * f64("TWO_M53_F64")
                x = alpha + (beta - alpha) * u
                ok = neg_log_f64(w[3], w[2]) >= ((x - m) * half) * (x + m)
            else:
                x = alpha + neg_log_f64(w[1], w[0]) / m
                ok = (x <= beta) & (neg_log_f64(w[3], w[2]) >= ((x - m) * half) * (x - m))
            if c == last:  # none accepted: the last proposal, clamped
                ok = torch.ones_like(ok)
                x = x.clamp(min=alpha, max=beta)
            value[todo[ok]] = x[ok]
            todo = todo[~ok]
            if not todo.numel():
                break
        if sign < 0:
            value = (value.view(torch.int64) ^ (-(1 << 63))).view(torch.float64)
        value = (mean + std * value).clamp(min=a, max=b)
    value = value.unsqueeze(1)
    return value if spec.dtype == torch.float64 else _round_to(value.to(torch.float32), spec.dtype)


def _group_values(spec: DrawSpec, groups: Tensor) -> Tensor:
    """Values of every element of groups ``groups``: shape [ng, k] (``layout``)."""
    if spec.kind == "trunc_normal":
        return _trunc_normal(spec, groups)
    if spec.kind == "trunc_normal_v2":
        return _trunc_normal_v2(spec, groups)
    return _block_values(spec, groups)


def _trunc_normal(spec: DrawSpec, groups: Tensor) -> Tensor:
    """The first of each element's 16 candidates in [a, b], else the last one clamped
    (the reference's ``trunc_normal``): candidates from the element's blocks, randn layout."""
    mean, std, a, b = spec.params
    ct = torch.float64 if spec.dtype == torch.float64 else torch.float32
    _, blocks = layout(spec.kind, spec.dtype)
    rel = (groups.unsqueeze(1) * blocks + torch.arange(blocks, device=groups.device)).reshape(-1)
    normals = dataclasses.replace(spec, kind="normal", params=(mean, std), dtype=ct)
    z = _block_values(normals, rel).reshape(groups.numel(), -1)
    lo, hi = torch.tensor(a, dtype=ct, device=z.device), torch.tensor(b, dtype=ct, device=z.device)
    count = z.shape[1]
    inside = (z >= lo) & (z <= hi)
    first = torch.where(inside, torch.arange(count, device=z.device), count).amin(1, keepdim=True)
    picked = z.gather(1, first.clamp(max=count - 1))
    last = z[:, -1:]
    clamped = torch.where(last < lo, lo, torch.where(last > hi, hi, last))
    x = torch.where(first < count, picked, clamped)
    return x if ct == torch.float64 else _round_to(x, spec.dtype)


# ------------------------------------------------------------------- permutation
def _fmix32(v: Tensor) -> Tensor:
    v = v ^ (v >> 16)
    v = _mullo(v, u32("FMIX_M0"))
    v = v ^ (v >> 13)
    v = _mullo(v, u32("FMIX_M1"))
    return v ^ (v >> 16)


def _rounds(left: Tensor, right: Tensor, keys: list[int], mask: int) -> tuple[Tensor, Tensor]:
    for k in keys:
        left, right = right, left ^ (_fmix32(right ^ k) & mask)
    return left, right


def permute(i: Tensor, n: int, keys: list[int]) -> Tensor:
    """``pi(i)`` for int64 indices ``i`` in [0, n), n <= 2^63: Feistel on [0, 4^h) held as
    two h-bit halves (so h = 32 needs no uint64), cycle-walking until the value is < n."""
    h = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = (1 << h) - 1
    last_hi, last_lo = (n - 1) >> h, (n - 1) & mask

    def outside(left: Tensor, right: Tensor) -> Tensor:
        return (left > last_hi) | ((left == last_hi) & (right > last_lo))

    left, right = _rounds(i >> h, i & mask, keys, mask)
    todo = outside(left, right).nonzero().squeeze(1)
    while todo.numel():
        lw, rw = _rounds(left[todo], right[todo], keys, mask)
        left[todo], right[todo] = lw, rw
        todo = todo[outside(lw, rw)]
    return (left << h) | right


def _round_function(v: Tensor, r: int, pkey: tuple[int, int], mask: int) -> Tensor:
    """Version 2's round function (the reference's ``_round_function``)."""
    c2 = torch.full_like(v, ROUND_C2)
    ws = philox(v >> 2, torch.full_like(v, r), pkey, c2, torch.full_like(v, ROUND_C3))
    return torch.stack(ws, 1).gather(1, (v & 3).unsqueeze(1)).squeeze(1) & mask


def sort_keys(n: int, pkey: tuple[int, int], device: torch.device) -> Tensor:
    """Version 2's sort keys (the reference's ``sort_keys``) with the top bit flipped, so
    that int64 order is the keys' unsigned order."""
    j = torch.arange(n, device=device)
    ws = philox(j >> 1, torch.zeros_like(j), pkey)
    even = (j & 1) == 0
    lo, hi = torch.where(even, ws[0], ws[2]), torch.where(even, ws[1], ws[3])
    return ((hi - (1 << 31)) << 32) | lo


def permute_v2(i: Tensor, n: int, pkey: tuple[int, int]) -> Tensor:
    """Stream version 2's ``pi(i)`` (the reference's ``permute_v2``) for int64 indices."""
    if n <= SORT_MAX:
        order = torch.sort(sort_keys(n, pkey, i.device), stable=True).indices
        return order[i]
    k = (n - 1).bit_length()  # the reference's _feistel_v2 on the halves (k = 64 needs no uint64)
    a, b = (k + 1) // 2, k // 2
    ma, mb = (1 << a) - 1, (1 << b) - 1
    last_hi, last_lo = (n - 1) >> b, (n - 1) & mb

    def rounds(left: Tensor, right: Tensor) -> tuple[Tensor, Tensor]:
        for r in range(ROUNDS_V2):
            if r % 2 == 0:
                left = (left + _round_function(right, r, pkey, ma)) & ma
            else:
                right = (right + _round_function(left, r, pkey, mb)) & mb
        return left, right

    def outside(left: Tensor, right: Tensor) -> Tensor:
        return (left > last_hi) | ((left == last_hi) & (right > last_lo))

    left, right = rounds(i >> b, i & mb)
    todo = outside(left, right).nonzero().squeeze(1)
    while todo.numel():
        lw, rw = rounds(left[todo], right[todo])
        left[todo], right[todo] = lw, rw
        todo = todo[outside(lw, rw)]
    return (left << b) | right


class PortableEngine(Engine):
    """Torch tensor ops on any device: the fallback engine."""

    name = "portable"

    def supports(self, device: torch.device) -> bool:
        return device.type != "meta"

    def permute_indices(self, idx: Tensor, n: int, keys: tuple[int, ...]) -> Tensor | None:
        return permute(idx, n, list(keys))

    def permute_indices_v2(self, idx: Tensor, n: int, pkey: tuple[int, int], tables: object = None) -> Tensor | None:
        return permute_v2(idx, n, pkey)

    def fill(self, out: Tensor, spec: DrawSpec) -> None:
        if spec.out_numel == 0:
            return
        dev = out.device
        if spec.kind == "randperm":
            (n,) = spec.params
            i = _region_indices(spec, dev)
            out.copy_(permute(i, n, feistel_keys(spec.key, spec.offset)).reshape(spec.out_shape))
            return
        if spec.kind == "randperm_v2":
            (n,) = spec.params
            i = _region_indices(spec, dev)
            out.copy_(permute_v2(i.reshape(-1), n, permutation_key(spec.key, spec.offset)).reshape(spec.out_shape))
            return
        k, b = layout(spec.kind, spec.dtype)
        run = spec.contiguous_range()
        if run is not None:
            e0, e1 = run
            g0, g_end = e0 // k, (e1 - 1) // k + 1
            step = max(1, _CHUNK // b)
            parts = [_group_values(spec, torch.arange(g, min(g + step, g_end), device=dev)).reshape(-1)
                     for g in range(g0, g_end, step)]
            vals = (parts[0] if len(parts) == 1 else torch.cat(parts))[e0 - g0 * k : e1 - g0 * k]
        else:
            e = _region_indices(spec, dev).reshape(-1)
            groups, pos = torch.unique(e // k, sorted=True, return_inverse=True)
            vals = _group_values(spec, groups).reshape(-1)[pos * k + e % k]
        vals = vals.reshape(spec.out_shape)
        if spec.kind == "bits":
            out.view(torch.int32 if k == 4 else torch.int64).copy_(vals)
        else:
            out.copy_(vals)


def _region_indices(spec: DrawSpec, device: torch.device) -> Tensor:
    e = torch.zeros((), dtype=torch.int64, device=device)
    for (start, stop), stride in zip(spec.region, flat_strides(spec.shape)):
        e = e.unsqueeze(-1) + (torch.arange(stop - start, device=device) + start) * stride
    return e
