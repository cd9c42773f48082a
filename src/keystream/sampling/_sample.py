"""Keyed token sampling: the token of a row is a pure function of (its logits, its key, its
parameters), not of the batch it is in.

NOTE [ Keyed sampling ]
Row r with logits ``x`` (V values, as float32), key ``keys[r]`` and parameters
``temperature, top_k, top_p, min_p``:

1. ``temperature == 0``: the first index of ``max(x)`` (greedy).  Else ``s = x / t`` in
   float32, ``m = max(s)``, ``w_i = exp(s_i - m)`` (float64, the stream's exp: ``w = 1`` at
   the maximum, 0 at ``-inf``) and the integer weights ``q_i = floor(w_i 2^K)``,
   ``K = 62 - bit_length(V)`` (so every sum below is exact in int64, in any order).
2. The candidates in order of ``s`` descending, equal values by increasing token id.
   ``top_k``: the first ``k`` of that order.  ``top_p``: of those, token ``j`` stays while the
   sum of ``q`` over the tokens before it (exclusive prefix, exact) is below
   ``top_p * Q`` (``Q`` the sum over the top-k set, both as float64): the smallest prefix whose
   probability reaches ``top_p``, as transformers' TopPLogitsWarper.  ``min_p``: of those,
   the tokens with ``w_i >= min_p`` (probability at least ``min_p`` times the largest).
   The most probable token always stays.
3. The row's 64-bit word ``x64`` (words 0 and 1 of the Philox block with counter 0 under
   the row's key: ``Generator`` of that key, ``bits(1, uint64)``), ``T = floor(x64 Q_S /
   2^64)`` with ``Q_S`` the kept tokens' sum of ``q``, and the token is the smallest id
   whose inclusive prefix sum of kept ``q`` (in token-id order) exceeds ``T``.

A token whose weight is below ``2^-K`` of the largest (``K >= 30`` for V < 2^31) is never
drawn.  Everything is comparisons, exact integer sums, one IEEE operation per element and the
stream's exp: the same token on every device and engine, for any batch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .._core._constants import u32
from .._core._keys import canonical_seed
from .._core._math.torch_forms import exp_f64, log_f64, mulhi64
from .._core._philox import philox4x32
from .._engines import engine_for
from .._torch._draws import shown

__all__ = ["request_keys", "sample", "sample_probs"]

Tensor = torch.Tensor
_M32 = 0xFFFFFFFF


def _words(values: Any, name: str, batch: int | None = None) -> np.ndarray:
    """A number or a sequence / 1-D tensor of ints in [0, 2^64) as a uint64 array."""
    if isinstance(values, Tensor):
        values = values.tolist()
    items = list(values) if isinstance(values, (list, tuple, range, np.ndarray)) else [values]
    out = np.array([canonical_seed(v, name) for v in items], dtype=np.uint64)
    if batch is not None and out.size == 1:
        out = np.repeat(out, batch)
    return out


def _fold(k0: np.ndarray, k1: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fold_in_key`` of integers, one per lane (the keys' derivation block, vectorised)."""
    lo = (data & np.uint64(_M32)).astype(np.uint32)
    hi = (data >> np.uint64(32)).astype(np.uint32)
    w = philox4x32(lo, hi, u32("TAG_FOLD_INT"), u32("TAG_VERSION"), k0, k1)
    return w[0], w[1]


def request_keys(seeds: Any, steps: Any, samples: Any = 0) -> Tensor:
    """The (B, 2) key tensor of rows ``(seed, step, sample)``:
    ``Generator(seed).fold_in(sample).fold_in(step).key``, per row.

    Args:
        seeds: the requests' seeds (an int, or one per row).
        steps: the decoding step of each row (an int, or one per row).
        samples: which of a request's samples each row is (for n > 1 samples of a prompt).

    Returns:
        An int64 tensor [B, 2] of the 32-bit key words.

    Reproducibility:
        The keys depend only on (seed, sample, step): a request's tokens do not depend on
        the batch it is decoded in.
    """
    lengths = [v.numel() if isinstance(v, Tensor) else len(v) if isinstance(v, (list, tuple, range)) else np.size(v)
               for v in (seeds, steps, samples)]
    batch = max(lengths)
    s, t, n = (_words(v, name, batch) for v, name in ((seeds, "seeds"), (steps, "steps"), (samples, "samples")))
    if not (s.size == t.size == n.size == batch):
        raise ValueError(f"seeds, steps and samples must have one value or {batch} values, got {lengths}")
    k0 = (s & np.uint64(_M32)).astype(np.uint32)
    k1 = (s >> np.uint64(32)).astype(np.uint32)
    k0, k1 = _fold(k0, k1, n)
    k0, k1 = _fold(k0, k1, t)
    return torch.from_numpy(np.stack([k0, k1], 1).astype(np.int64))


def _per_row(value: Any, name: str, rows: int, kind: type, ok: Any, rule: str) -> Tensor | None:
    """A parameter for every row (a number, or a tensor / sequence of ``rows``); None when
    off.  Checked with ``ok``."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, complex)) or (
            isinstance(value, Tensor) and (value.is_complex() or value.dtype == torch.bool)):
        raise TypeError(f"{name} must be a real number, or one per row, got {type(value).__name__}"
                        + (f" of dtype {value.dtype}" if isinstance(value, Tensor) else ""))
    if kind is int and not isinstance(value, Tensor) and isinstance(value, int) and value >= 1 << 31:
        value = (1 << 31) - 1  # (a top_k beyond any vocabulary keeps every token)
    try:
        t = torch.as_tensor(value, dtype=torch.float64 if kind is float else torch.int64).reshape(-1)
    except (TypeError, ValueError, RuntimeError, OverflowError) as err:
        raise TypeError(f"{name} must be a real number, or one per row, got {value!r} ({err})") from None
    if t.numel() == 1:
        t = t.expand(rows)
    if t.numel() != rows:
        raise ValueError(f"{name} must be a number or have one value per row ({rows}), got {t.numel()}")
    if not bool(ok(t).all()):
        raise ValueError(f"{name} must be {rule}, got {shown(value)}")
    return t


def _check(logits: Any, keys: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or not logits.dtype.is_floating_point:
        raise TypeError("logits must be a float tensor [B, V]")
    rows, vocab = logits.shape
    if vocab == 0 or vocab >= 1 << 31:
        raise ValueError(f"logits must have between 1 and 2^31 - 1 tokens, got {vocab}")
    if not isinstance(keys, Tensor) or keys.shape != (rows, 2) or keys.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"keys must be an int64 tensor of shape ({rows}, 2) (see request_keys), got "
                         f"{getattr(keys, 'shape', type(keys).__name__)} {getattr(keys, 'dtype', '')}")
    x = logits.detach().float()
    if bool(torch.isnan(x).any()):
        raise ValueError("logits contain NaN")
    if bool((x == math.inf).any()):
        raise ValueError("logits contain +inf")
    if rows and bool((x == -math.inf).all(1).any()):
        raise ValueError("a row of logits is all -inf: no token can be drawn")
    k = keys.to(torch.int64)
    if keys.dtype == torch.int32:  # 32-bit words as their bit patterns
        k = k & _M32
    if bool(((k < 0) | (k > _M32)).any()):
        raise ValueError("keys must hold 32-bit words (0 .. 2^32 - 1)")
    return x, k


def _row_words(keys: Tensor) -> tuple[Tensor, Tensor]:
    """(hi, lo) 32-bit words of each row's 64-bit word: block 0 under the row's key."""
    k = keys.cpu().numpy().astype(np.uint32)
    zero = np.zeros(len(k), dtype=np.uint32)
    w = philox4x32(zero, zero, zero, zero, k[:, 0], k[:, 1])
    return (torch.from_numpy(w[1].astype(np.int64)).to(keys.device),
            torch.from_numpy(w[0].astype(np.int64)).to(keys.device))


def sample(logits: Tensor, keys: Tensor, *, temperature: Any = 1.0, top_k: Any = None, top_p: Any = None,
           min_p: Any = None) -> Tensor:
    """One token per row of ``logits`` [B, V], from the row's own stream (NOTE [ Keyed
    sampling ]); int64 [B] on ``logits``' device.

    Args:
        logits: float [B, V] (float16, bfloat16, float32; float64 is rounded to float32).
        keys: int64 [B, 2], each row's key (:func:`request_keys`); int32 keys are read as
            the bit patterns of the words.
        temperature: >= 0 (0: greedy), a number or one per row.
        top_k: keep the k most likely tokens (>= 1; None or 0: all), a number or one per row.
        top_p: keep the smallest set of most likely tokens whose probability reaches top_p
            (in (0, 1]; None or 1: all).
        min_p: keep the tokens at least min_p times as likely as the most likely one (in
            [0, 1]; None or 0: all).

    Raises:
        TypeError: logits not a 2-D float tensor.
        ValueError: NaN or +inf logits, a row of all -inf, keys of the wrong shape, dtype or
            range, a parameter outside its range or of the wrong length.

    Reproducibility:
        The token of row r depends only on ``logits[r]``, ``keys[r]`` and row r's
        parameters: not on the batch size, the row's position, the other rows, the engine
        or the device.
    """
    x, k = _check(logits, keys)
    rows, vocab = x.shape
    if temperature is None:
        raise TypeError("temperature must be a number >= 0 (0: greedy) or one per row, got None")
    temp = _per_row(temperature, "temperature", rows, float, lambda t: (t >= 0) & (t < math.inf), "finite and >= 0")
    kk = _per_row(top_k, "top_k", rows, int, lambda t: t >= 0, ">= 1 (0 or None: off)")
    pp = _per_row(top_p, "top_p", rows, float, lambda t: (t > 0) & (t <= 1), "in (0, 1]")
    mp = _per_row(min_p, "min_p", rows, float, lambda t: (t >= 0) & (t <= 1), "in [0, 1]")
    assert temp is not None
    dev = x.device
    engine = engine_for(dev)
    kernel = engine.sample_tokens(x, k, temp.to(dev), kk if kk is None else kk.to(dev),
                                  pp if pp is None else pp.to(dev), mp if mp is None else mp.to(dev))
    if kernel is not None:
        return kernel
    return _definition(x, k, temp.to(dev), kk, pp, mp)


def _definition(x: Tensor, k: Tensor, temp: Tensor, kk: Tensor | None, pp: Tensor | None, mp: Tensor | None
                ) -> Tensor:
    """NOTE [ Keyed sampling ] in torch ops (any device)."""
    greedy, q, keep = _kept(x, temp, kk, pp, mp)
    kept = torch.where(keep, q, 0)
    prefix = torch.cumsum(kept, 1)
    hi, lo = _row_words(k)
    th, tl = mulhi64(hi, lo, prefix[:, -1])
    target = (th << 32) | tl
    token = torch.searchsorted(prefix, target.unsqueeze(1), right=True).squeeze(1)
    return torch.where(greedy, torch.argmax(x, 1), token)


def _kept(x: Tensor, temp: Tensor, kk: Tensor | None, pp: Tensor | None, mp: Tensor | None
          ) -> tuple[Tensor, Tensor, Tensor]:
    """Steps 1 and 2: the greedy rows, the integer weights ``q`` and the kept tokens."""
    rows, vocab = x.shape
    dev = x.device
    temp32 = temp.to(torch.float32).to(dev)
    greedy = temp32 == 0
    s = x / torch.where(greedy, 1.0, temp32).unsqueeze(1)
    m = s.amax(1, keepdim=True)
    w = exp_f64(s.double() - m.double())
    scale = 62 - vocab.bit_length()
    q = torch.floor(w * float(2 ** scale)).to(torch.int64)
    keep = torch.ones_like(q, dtype=torch.bool)
    if kk is not None or pp is not None:
        order = torch.sort(s, dim=1, descending=True, stable=True).indices
        rank = torch.empty_like(order).scatter_(1, order, torch.arange(vocab, device=dev).expand(rows, vocab))
        if kk is not None:
            limit = torch.where(kk == 0, vocab, kk).to(dev)
            keep &= rank < limit.unsqueeze(1)
        if pp is not None:
            sorted_q = torch.gather(torch.where(keep, q, 0), 1, order)
            before = torch.cumsum(sorted_q, 1) - sorted_q
            total = sorted_q.sum(1, keepdim=True)
            stays = before.double() < pp.to(dev).unsqueeze(1) * total.double()
            keep &= torch.gather(stays, 1, rank)
    if mp is not None:
        keep &= w >= mp.to(dev).unsqueeze(1)
    return greedy, q, keep


def sample_probs(probs: Tensor, keys: Tensor, *, top_k: Any = None, top_p: Any = None, min_p: Any = None
                 ) -> Tensor:
    """:func:`sample` from probabilities [B, V] (>= 0, not necessarily normalised): the
    logits ``log(probs)`` (the stream's float64 log, rounded to float32) with temperature 1;
    zero probabilities are never drawn.

    Reproducibility:
        As :func:`sample`.
    """
    if not isinstance(probs, Tensor) or not probs.dtype.is_floating_point:
        raise TypeError("probs must be a float tensor [B, V]")
    if bool((probs < 0).any()) or bool(torch.isnan(probs).any()):
        raise ValueError("probs must be >= 0 and not NaN")
    return sample(log_f64(probs.detach().double()).float(), keys, top_k=top_k, top_p=top_p, min_p=min_p)
