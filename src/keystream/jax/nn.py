"""Keyed dropout for JAX: the masks of :mod:`keystream.nn` for the same key, site name,
step, call and global sample index (NOTE [ Keyed masks ] in ``keystream/nn/_schedule.py``).

Example:
    >>> import jax.numpy as jnp, keystream.jax as ksj
    >>> y = ksj.nn.dropout(jnp.ones((2, 3)), 0.5, ksj.key(0), name="encoder.drop", step=0)
    >>> y.shape
    (2, 3)
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

from .._torch import _draws as _kd
from ..nn._mask import _scale, keep_threshold
from ..nn._schedule import _DOMAIN
from ._core import as_key, derive, fold_bytes, run_plan
from ._strict import strict

__all__ = ["dropout", "mask_key"]


def mask_key(key: Any, name: str, step: Any, call: Any = 0) -> Any:
    """The site's mask key words: ``fold_in(fold_in(fold_in(key, "keystream.nn.dropout:" +
    name), step), call)``; ``step`` and ``call`` may be traced."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    words, _ = as_key(key)
    with jax.enable_x64(True):
        k = fold_bytes(words, _DOMAIN + name)
        k = derive(k, step, "TAG_FOLD_INT")
        return derive(k, call, "TAG_FOLD_INT")


def dropout(x: Any, rate: float, key: Any, *, name: str, step: Any, call: Any = 0, start: int = 0,
            features: tuple[int, ...] | None = None, feature_start: tuple[int, ...] | None = None,
            deterministic: bool = False) -> Any:
    """:func:`keystream.nn.functional.dropout`'s result for batched ``x`` (first dimension
    the batch, whose first sample is global sample ``start``): ``x * keep / (1 - rate)``
    with torch's arithmetic in ``x``'s dtype.

    Args:
        x: a float array.
        rate: the probability to zero an element (a number).
        key: the model's key (a keystream key, key words, an int seed or a
            :class:`keystream.Generator`: its key).
        name: the site's name (the torch module's path, as :func:`keystream.nn.name_modules`).
        step: the training step (may be traced); ``call``: the site's call in that step.
        start: the global index of ``x``'s first sample.
        features, feature_start: a shard's place in the global features, as torch's.
        deterministic: return ``x`` (evaluation).
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be a number in [0, 1], got {rate!r}")
    if deterministic or rate == 0.0:
        return x
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be a float array, got {x.dtype}")
    if rate == 1.0:
        return x * jnp.zeros((), x.dtype)
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"start must be an int >= 0, got {start!r}")
    local = tuple(x.shape[1:])
    feats = local if features is None else tuple(features)
    starts = (0,) * len(feats) if feature_start is None else tuple(feature_start)
    if len(feats) != len(local) or len(starts) != len(local) or any(
            s < 0 or s + n > f for s, n, f in zip(starts, local, feats)):
        raise ValueError(f"x's features {local} at {starts} do not fit features {feats}")
    shape = (start + x.shape[0], *feats)
    region = (slice(start, start + x.shape[0]), *(slice(s, s + n) for s, n in zip(starts, local)))
    words = run_plan(lambda g: _kd.bits(shape, generator=g, dtype=torch.uint32, device="meta", region=region),
                     mask_key(key, name, step, call), 0, torch.uint32, what="dropout's mask")
    threshold = keep_threshold(rate)
    dt = torch.float64 if x.dtype == jnp.float64 else torch.float32
    scale = np.asarray(_scale(rate, dt)).astype(x.dtype)  # 1 / (1 - rate) as torch's division makes it

    def apply(x: Any, words: Any) -> Any:
        keep = words.astype(np.uint64) < np.uint64(threshold) if threshold < 1 << 32 else words == words
        return x * jnp.where(keep, scale, jnp.zeros((), x.dtype))

    with jax.enable_x64(True):
        return strict(apply, x, words)
