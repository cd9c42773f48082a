"""Augmentation parameters per sample, batched, identical on every device.

Each sample's parameters come from the 32-bit words of its own stream,
``sample_generator(seed, epoch, index).fold_in("augment")``, at fixed slots:

=========  ======  ===========================================================
slot       words   use
=========  ======  ===========================================================
flip       0       flipped iff ``w0 < ceil(p * 2^32)``
crop       1-6     area fraction ``u(w1,w2)``, aspect ratio ``u(w3,w4)``, top ``w5``, left ``w6``
jitter     7-13    brightness, contrast, saturation, hue ``u(w)``; order from w11-w13
mix        14-17   mixup / cutmix ``lambda = u(w14,w15)`` (alpha = 1); cutmix centre ``w16``, ``w17``
beta       18-117  mixup / cutmix ``lambda ~ Beta(alpha, alpha)`` for alpha != 1 (see below)
=========  ======  ===========================================================

``u(a, b) = ((a + 2^32 b) >> 11) * 2^-53`` and ``u(w) = (w >> 8) * 2^-24``.  The words
are computed on the host with the reference block function (a few per sample), and
the parameters with IEEE ``+ - * /`` and ``sqrt`` in float64 only, plus the stream's own
log, sin/cos and ``exp`` (integer range reduction, fixed polynomials), so a batch made on
a GPU gets exactly the parameters a CPU pipeline computes one sample at a time.

NOTE [ Beta with a fixed number of words ]
``lambda = X / (X + Y)`` with X, Y ~ Gamma(alpha) from words 18-67 and 68-117.  A Gamma
of shape ``s = alpha`` (``alpha + 1`` when alpha < 1, then times ``U^(1/alpha)``, U from
the last two words) is Marsaglia and Tsang's method: ``d = s - 1/3``, ``c = 1 / sqrt(9d)``;
candidate i takes a Box-Muller normal z (words 8j..8j+3 of the pair j = i // 2 give the
radius word and the angle word; cos for even i, sin for odd i) and an acceptance word
(8j+4+2(i%2)..), ``v = (1 + c z)^3``, accepted when ``v > 0`` and
``-(-ln u) < z^2/2 + d - d v + d ln v``; the first accepted of 12 candidates gives ``d v``.
Each candidate is accepted with probability at least 0.95, so all 12 fail with
probability below 3e-16; then the value is ``d``.  Every sample uses the same words
whatever happens, so neighbouring parameters never shift.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch

from .._core._constants import u32
from .._core._detmath import exp
from .._core._keys import hash_bytes
from .._core._math.gamma import CANDIDATES
from .._core._math.numpy_forms import log_f64, neg_log_f64, sincos_f64
from .._core._philox import philox4x32
from .._engines import _cpu
from ._sampler import epoch_generator

__all__ = ["augment_words", "flip", "crop_boxes", "color_jitter", "mixup_lambda", "cutmix_boxes"]

NWORDS = 18
#: Words per sample when mixup / cutmix draw Beta(alpha, alpha) (alpha != 1).
NWORDS_BETA = 118
GAMMA_CANDIDATES = CANDIDATES  # (the gamma family's, with this layout of words)
_GAMMA_WORDS = 4 * GAMMA_CANDIDATES + 2  # a Box-Muller pair and 2 acceptance words per 2 candidates; U
_M = np.uint64(0xFFFFFFFF)


def _indices(indices: Sequence[int] | torch.Tensor | np.ndarray) -> np.ndarray:
    idx = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64).reshape(-1)
    if (idx < 0).any():
        raise ValueError("indices must be >= 0")
    return idx.astype(np.uint64)


def augment_words(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, nwords: int = NWORDS) -> np.ndarray:
    """Words ``0 .. nwords-1`` of each sample's augment stream: uint32 array [batch, nwords].

    Equal to ``sample_generator(seed, epoch, i).fold_in("augment").bits(nwords)`` per sample.
    """
    idx = _indices(indices)
    tag, version = u32("TAG_FOLD_INT"), u32("TAG_VERSION")
    parent = epoch_generator(seed, epoch).fold_in("sample").key
    fast = _cpu.augment_words(parent, hash_bytes(b"augment"), np.ascontiguousarray(idx), nwords)
    if fast is not None:  # (the C kernel of the same derivations and blocks)
        return fast
    k = philox4x32(idx & _M, idx >> np.uint64(32), tag, version, parent[0], parent[1])  # fold_in(index)
    d = hash_bytes(b"augment")
    k = philox4x32(d & 0xFFFFFFFF, d >> 32, u32("TAG_FOLD_BYTES"), version, k[0], k[1])  # fold_in("augment")
    blocks = -(-nwords // 4)
    out = np.empty((idx.size, blocks * 4), dtype=np.uint32)
    for b in range(blocks):
        w = philox4x32(b, 0, 0, 0, k[0], k[1])
        for j in range(4):
            out[:, 4 * b + j] = w[j]
    return out[:, :nwords]


def _u53(w: np.ndarray, a: int) -> np.ndarray:
    x = w[:, a].astype(np.uint64) | (w[:, a + 1].astype(np.uint64) << np.uint64(32))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _u24(w: np.ndarray, a: int) -> np.ndarray:
    return (w[:, a] >> 8).astype(np.float64) * 2.0**-24


def _below(w: np.ndarray, a: int, bound: np.ndarray) -> np.ndarray:
    """``floor(w * bound / 2^32)``: an integer in [0, bound) from one word (bound < 2^31)."""
    return ((w[:, a].astype(np.uint64) * bound.astype(np.uint64)) >> np.uint64(32)).astype(np.int64)


def _to(x: np.ndarray, device: torch.device | str | None) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device or "cpu")


def flip(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, p: float = 0.5,
         device: torch.device | str | None = None) -> torch.Tensor:
    """Whether each sample is flipped (probability ``p``): bool tensor [batch]."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    w = augment_words(seed, epoch, indices)
    return _to(w[:, 0].astype(np.uint64) < np.uint64(int(np.ceil(p * 2.0**32))), device)


def crop_boxes(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, height: int, width: int,
               scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
               device: torch.device | str | None = None) -> torch.Tensor:
    """RandomResizedCrop-style boxes ``(top, left, h, w)``: int64 tensor [batch, 4].

    Area fraction uniform in ``scale``; aspect ratio uniform in ``ratio`` (linearly, not
    log-uniformly as torchvision, so that no transcendental is needed); one attempt,
    clamped to the image.
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}, {width}")
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must satisfy 0 < scale[0] <= scale[1] <= 1, got {scale}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"ratio must satisfy 0 < ratio[0] <= ratio[1], got {ratio}")
    w = augment_words(seed, epoch, indices)
    area = float(height * width) * (scale[0] + (scale[1] - scale[0]) * _u53(w, 1))
    r = ratio[0] + (ratio[1] - ratio[0]) * _u53(w, 3)
    cw = np.clip(np.floor(np.sqrt(area * r)), 1, width).astype(np.int64)
    ch = np.clip(np.floor(np.sqrt(area / r)), 1, height).astype(np.int64)
    top = _below(w, 5, height - ch + 1)
    left = _below(w, 6, width - cw + 1)
    return _to(np.stack([top, left, ch, cw], axis=1), device)


def color_jitter(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, brightness: float = 0.0,
                 contrast: float = 0.0, saturation: float = 0.0, hue: float = 0.0,
                 device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
    """ColorJitter factors per sample and the order of the four operations.

    Returns ``{"brightness", "contrast", "saturation": factors uniform in
    [max(0, 1 - x), 1 + x], "hue": uniform in [-hue, hue], "order": int64 [batch, 4]}``.
    """
    for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    if not 0 <= hue <= 0.5:
        raise ValueError(f"hue must be in [0, 0.5], got {hue}")
    w = augment_words(seed, epoch, indices)
    out = {}
    for slot, (name, v) in enumerate((("brightness", brightness), ("contrast", contrast),
                                      ("saturation", saturation))):
        lo = max(0.0, 1.0 - v)
        out[name] = _to(lo + ((1.0 + v) - lo) * _u24(w, 7 + slot), device)
    out["hue"] = _to(-hue + (2.0 * hue) * _u24(w, 10), device)
    order = np.tile(np.arange(4, dtype=np.int64), (w.shape[0], 1))
    for k, slot in zip((3, 2, 1), (11, 12, 13)):  # Fisher-Yates from the last position
        j = _below(w, slot, np.full(w.shape[0], k + 1))
        rows = np.arange(w.shape[0])
        tmp = order[rows, k].copy()
        order[rows, k] = order[rows, j]
        order[rows, j] = tmp
    out["order"] = _to(order, device)
    return out


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 < float(alpha) < float("inf"):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    return float(alpha)


def _w64(w: np.ndarray, a: int) -> np.ndarray:
    return w[:, a].astype(np.uint64) | (w[:, a + 1].astype(np.uint64) << np.uint64(32))


def _gamma(w: np.ndarray, first: int, alpha: float) -> np.ndarray:
    """Gamma(alpha) per row from words ``first .. first + 49`` (NOTE [ Beta with a fixed
    number of words ]); float64, IEEE operations and the stream's own log / sin / cos / exp."""
    shape = alpha + 1.0 if alpha < 1.0 else alpha
    d = shape - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    value = np.full(w.shape[0], d)
    done = np.zeros(w.shape[0], dtype=bool)
    for i in range(GAMMA_CANDIDATES):
        base = first + 8 * (i // 2)
        radius = np.sqrt(2.0 * neg_log_f64(_w64(w, base)))
        cos_t, sin_t = sincos_f64(_w64(w, base + 2))
        z = radius * (cos_t if i % 2 == 0 else sin_t)
        neg_log_u = neg_log_f64(_w64(w, base + 4 + 2 * (i % 2)))
        t = 1.0 + c * z
        v = (t * t) * t
        positive = v > 0.0
        log_v = log_f64(np.where(positive, v, 1.0))
        rhs = (((0.5 * z) * z + d) - d * v) + d * log_v
        accept = positive & (-neg_log_u < rhs) & ~done
        value = np.where(accept, d * v, value)
        done |= accept
    if alpha < 1.0:  # Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha)
        power = -neg_log_f64(_w64(w, first + _GAMMA_WORDS - 2)) / alpha
        value = value * exp(torch.from_numpy(power)).numpy()
    return value


def _mix_lambda(w: np.ndarray, alpha: float) -> np.ndarray:
    """lambda ~ Beta(alpha, alpha) per row: ``u(w14, w15)`` when alpha = 1, else X / (X + Y)."""
    if alpha == 1.0:
        return _u53(w, 14)
    x = _gamma(w, NWORDS, alpha)
    y = _gamma(w, NWORDS + _GAMMA_WORDS, alpha)
    total = x + y
    return np.where(total > 0.0, x / np.where(total > 0.0, total, 1.0), 0.5)  # both 0: alpha tiny, p ~ 0


def _mix_words(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, alpha: float) -> np.ndarray:
    return augment_words(seed, epoch, indices, NWORDS if alpha == 1.0 else NWORDS_BETA)


def mixup_lambda(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, alpha: float = 1.0,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Mixup's lambda per sample, ``Beta(alpha, alpha)``: float64 tensor [batch].

    ``alpha = 1`` is uniform in [0, 1) (words 14-15); other alphas (mixup's usual 0.2 or
    0.4 included) use Gamma draws with a fixed number of words per sample, see the
    module's NOTE.

    Raises:
        ValueError: ``alpha`` is not a finite number > 0.
    """
    alpha = _check_alpha(alpha)
    return _to(_mix_lambda(_mix_words(seed, epoch, indices, alpha), alpha), device)


def cutmix_boxes(seed: int, epoch: int, indices: Sequence[int] | torch.Tensor, height: int, width: int,
                 alpha: float = 1.0, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix boxes ``(top, left, bottom, right)`` [batch, 4] and the area-corrected lambda [batch].

    ``lambda ~ Beta(alpha, alpha)`` as in :func:`mixup_lambda`; the box has side ratio
    ``sqrt(1 - lambda)`` around a uniform centre, clamped to the image.
    """
    alpha = _check_alpha(alpha)
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}, {width}")
    w = _mix_words(seed, epoch, indices, alpha)
    lam = _mix_lambda(w, alpha)
    cut = np.sqrt(1.0 - lam)
    cw = np.floor(width * cut).astype(np.int64)
    ch = np.floor(height * cut).astype(np.int64)
    cx = _below(w, 16, np.full(w.shape[0], width))
    cy = _below(w, 17, np.full(w.shape[0], height))
    top, bottom = np.clip(cy - ch // 2, 0, height), np.clip(cy + ch // 2, 0, height)
    left, right = np.clip(cx - cw // 2, 0, width), np.clip(cx + cw // 2, 0, width)
    lam_adj = 1.0 - ((bottom - top) * (right - left)).astype(np.float64) / float(height * width)
    return _to(np.stack([top, left, bottom, right], axis=1), device), _to(lam_adj, device)
