"""Keyed dropout, functional forms: torch's arguments, plus the site that keys the mask.

Each function takes torch's ``(input, p, training, inplace)`` and a keyword ``site`` (NOTE
[ dropout without a site ] for calls without one): a
:class:`~keystream.nn.Site` or a name (one process-wide site per name), which with the
step and batch counters (:func:`keystream.nn.batch`) keys the mask (NOTE [ Keyed masks ]).
``features`` and ``feature_start`` place a shard of the features (tensor or sequence
parallelism) in the global feature shape: ``input[:, a:b]`` of a ``(N, S, H)`` activation
sharded on S is ``features=(S, H), feature_start=(a, 0)``.

Reproducibility:
    The mask of an element depends on the generator's key, the site name, the step, the
    site's call number within the step, the element's global sample index and its feature
    position: not on the device, micro-batching, ranks, feature shards or recompute.

NOTE [ dropout without a site ]
Without ``site`` (torch's call as it is), the mask is not keyed: it is drawn from
``generator`` (default: keystream's default generator) as under ``keystream.torch_random``:
``bernoulli(1 - p)`` of the input's shape (``(N, C, 1, ...)`` for the channel forms), so it
depends on the generator's position, the batch shape and the device's engine as torch's
does, and on nothing else.  Name a site for masks that do not depend on them.
"""
from __future__ import annotations

import numbers
import threading
from collections.abc import Sequence
from typing import Any

import torch

from .._mode._dropout import dropout as unkeyed_dropout
from .._torch._generator import Generator, resolve_generator
from ._op import count_call, keyed_dropout
from ._schedule import Site

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout"]

Tensor = torch.Tensor
_SITES: dict[Any, Site] = {}  # name, or (name, id(generator)) -> Site
_SITES_LOCK = threading.Lock()


def _site(site: Site | str, generator: Generator | None = None) -> Site:
    """The site of a call: a Site as given, or the process-wide site of a name and the
    ``generator`` that keys it (None: the default generator)."""
    if isinstance(site, Site):
        if generator is not None and site.generator is not generator:
            raise ValueError("generator: the Site has its own generator (Site(name, generator=...)); "
                             "give the generator there, not to the call")
        return site
    if not isinstance(site, str):
        raise TypeError(f"site must be a keystream.nn.Site or a name (str), got {type(site).__name__}")
    if generator is not None:
        resolve_generator(generator)
    key = site if generator is None else (site, id(generator))  # (the site keeps its generator alive)
    with _SITES_LOCK:
        found = _SITES.get(key)
        if found is None:
            found = _SITES[key] = Site(site, generator)
        return found


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a number, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:  # (NaN fails too)
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _ints(values: Any, name: str) -> list[int]:
    """A sequence of ints (a shape or a position)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {type(values).__name__}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be a sequence of ints, got an element {v!r}")
    return [int(v) for v in values]


def _placement(x: Tensor, feature: bool, features: Sequence[int] | None,
               feature_start: Sequence[int] | None) -> tuple[list[int], list[int]]:
    local = list(x.shape[1:])
    glob = local if features is None else _ints(features, "features")
    starts = [0] * len(glob) if feature_start is None else _ints(feature_start, "feature_start")
    if len(glob) != len(local):
        raise ValueError(f"features has {len(glob)} dimensions but the input has {len(local)} after the batch")
    if len(starts) != len(glob):
        raise ValueError(f"feature_start has {len(starts)} entries, features {len(glob)}")
    for d, (s, n, g) in enumerate(zip(starts, local, glob)):
        if s < 0 or s + n > g:
            raise ValueError(f"feature_start[{d}] = {s} with {n} local features is outside features[{d}] = {g}")
    return glob, starts


def _run(x: Tensor, p: float, training: bool, inplace: bool, site: Site | str | None, feature: bool, alpha: bool,
         features: Sequence[int] | None, feature_start: Sequence[int] | None,
         generator: Generator | None = None) -> Tensor:
    p = _check_p(p)
    if not isinstance(x, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
    if site is None:  # NOTE [ dropout without a site ]
        if features is not None or feature_start is not None:
            raise ValueError("features and feature_start place a keyed mask: they need a site")
        if training and p > 0.0 and not x.dtype.is_floating_point:
            raise TypeError(f"input must be a floating point tensor, got {x.dtype}")
        return unkeyed_dropout(x, p, training, inplace, resolve_generator(generator), feature, alpha)
    s = _site(site, generator)
    if not training or p == 0.0 or x.numel() == 0:
        return x  # (torch returns the input itself)
    if not x.dtype.is_floating_point:
        raise TypeError(f"input must be a floating point tensor, got {x.dtype}")
    if feature and x.dim() < 2:
        raise ValueError(f"feature dropout needs an input with at least 2 dimensions, got {x.dim()}")
    original = x
    if x.dim() == 0:  # one element, the batch of one; the result keeps the input's shape
        x = x.reshape(1)
    glob, starts = _placement(x, feature, features, feature_start)
    if x.device.type == "meta":  # a meta result, and a call of the site (as on a real device)
        count_call(s, x)
        return original if inplace else torch.empty_like(original)
    if p == 1.0:  # torch's input * 0 (a call of the site all the same)
        count_call(s, x)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        return original.mul_(zero) if inplace else original * zero
    y = keyed_dropout(s, x.contiguous(), p, alpha, feature, glob, starts).reshape(original.shape)
    return original.copy_(y) if inplace else y


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            site: Site | str | None = None, features: Sequence[int] | None = None,
            feature_start: Sequence[int] | None = None, generator: Generator | None = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``, as
    :func:`torch.nn.functional.dropout`, with the keyed mask of ``site``.

    Args:
        input: a float tensor whose first dimension is the batch.
        p: the probability of an element to be zeroed.
        training: apply dropout (else return ``input``).
        inplace: write the result into ``input``.
        site: what keys the mask (a :class:`~keystream.nn.Site`, or a name).
        features: the global shape of the dimensions after the batch (default: the input's).
        feature_start: where the input's features start in ``features`` (default: zeros).
        generator: with a site name, the key source of the mask (default: the default
            generator's key; its offset never moves); without a site, the generator drawn from.

    Raises:
        ValueError: ``p`` outside [0, 1]; a shard outside ``features``; a Site and a
            different ``generator``.
        TypeError: ``input`` not a float tensor; ``site`` neither a Site nor a str.

    Reproducibility:
        Element ``(b, f)`` keeps iff word ``e % 4`` of block ``e // 4`` of the site's mask
        key is below ``ceil((1 - p) 2^32)``, ``e`` the flat index of ``(start + b, f)`` in
        ``(start + N, *features)`` (NOTE [ Keyed masks ]).  The backward pass recomputes
        the mask from three saved counters.
    """
    return _run(input, p, training, inplace, site, False, False, features, feature_start, generator)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                  site: Site | str | None = None, features: Sequence[int] | None = None,
                  feature_start: Sequence[int] | None = None, generator: Generator | None = None) -> Tensor:
    """:func:`torch.nn.functional.alpha_dropout` (SELU-preserving) with a keyed mask: a
    dropped element takes SELU's negative saturation, then the affine map that keeps the
    mean and variance.  Arguments as :func:`dropout` (``training`` defaults to False, as
    torch's).

    Reproducibility:
        The mask of :func:`dropout`.
    """
    return _run(input, p, training, inplace, site, False, True, features, feature_start, generator)


def _feature(name: str, dims: tuple[int, ...], input: Tensor, p: float, training: bool, inplace: bool,
             site: Site | str | None, alpha: bool, features: Sequence[int] | None,
             feature_start: Sequence[int] | None, generator: Generator | None) -> Tensor:
    """A channel-wise form: ``dims`` are the accepted ranks, the larger one batched."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dim() not in dims:
        raise RuntimeError(f"{name}: expected a {dims[0]}D or {dims[1]}D input, got a {input.dim()}D input")
    if input.dim() == dims[1]:
        return _run(input, p, training, inplace, site, True, alpha, features, feature_start, generator)
    result = _run(input.unsqueeze(0), p, training, False, site, True, alpha, features, feature_start,
                  generator).squeeze(0)
    return input.copy_(result) if inplace and result is not input else result


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              site: Site | str | None = None, features: Sequence[int] | None = None,
              feature_start: Sequence[int] | None = None, generator: Generator | None = None) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` input, as
    :func:`torch.nn.functional.dropout1d`, with the keyed mask of ``site``.

    Reproducibility:
        Channel ``(b, c)`` keeps iff the word of ``(start + b, c)`` of a ``(start + N, C)``
        mask does (the unbatched input is sample ``start``); ``features`` / ``feature_start``
        place a channel shard as in :func:`dropout`.
    """
    return _feature("dropout1d", (2, 3), input, p, training, inplace, site, False, features, feature_start, generator)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              site: Site | str | None = None, features: Sequence[int] | None = None,
              feature_start: Sequence[int] | None = None, generator: Generator | None = None) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` input, as :func:`torch.nn.functional.dropout2d`
    (a 3D input is ``(N, C, L)``, as torch treats it today), with the keyed mask of ``site``.

    Reproducibility:
        The channel mask of :func:`dropout1d`.
    """
    dims = (2, 3) if input.dim() == 3 else (3, 4)
    return _feature("dropout2d", dims, input, p, training, inplace, site, False, features, feature_start, generator)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              site: Site | str | None = None, features: Sequence[int] | None = None,
              feature_start: Sequence[int] | None = None, generator: Generator | None = None) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input, as
    :func:`torch.nn.functional.dropout3d`, with the keyed mask of ``site``.

    Reproducibility:
        The channel mask of :func:`dropout1d`.
    """
    return _feature("dropout3d", (4, 5), input, p, training, inplace, site, False, features, feature_start, generator)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                          site: Site | str | None = None, features: Sequence[int] | None = None,
                          feature_start: Sequence[int] | None = None,
                          generator: Generator | None = None) -> Tensor:
    """:func:`torch.nn.functional.feature_alpha_dropout`: alpha dropout of whole channels of a
    batched ``(N, C, ...)`` input, with the keyed mask of ``site``.

    Reproducibility:
        The channel mask of :func:`dropout1d`.
    """
    p = _check_p(p)
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dim() < 2:
        raise ValueError(f"feature dropout needs an input with at least 2 dimensions, got {input.dim()}")
    return _run(input, p, training, inplace, site, True, True, features, feature_start, generator)

