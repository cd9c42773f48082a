"""Keyed dropout modules: torch's ``nn.Dropout`` family with masks keyed by site and counters."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .._torch._generator import Generator
from . import functional as F
from ._schedule import Site

__all__ = ["AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"]


class _KeyedDropout(torch.nn.Module):
    """torch's ``_DropoutNd`` arguments plus the mask's key: a generator (its key; default
    :data:`keystream.default_generator`), a name (set by :func:`keystream.nn.name_modules`)
    and an optional placement of feature shards."""

    _fn: Callable[..., torch.Tensor]

    def __init__(self, p: float = 0.5, inplace: bool = False, *, generator: Generator | None = None,
                 name: str | None = None, features: Sequence[int] | None = None,
                 feature_start: Sequence[int] | None = None) -> None:
        super().__init__()
        F._check_p(p)
        self.p = float(p)
        self.inplace = inplace
        self.site = Site(name, generator)
        self.features = None if features is None else tuple(features)
        self.feature_start = None if feature_start is None else tuple(feature_start)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace, site=self.site, features=self.features,
                              feature_start=self.feature_start)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}, name={self.site.name!r}"

    def __getstate__(self) -> dict[str, Any]:  # (a Site holds a lock)
        state = self.__dict__.copy()
        state["site"] = (self.site.name, self.site.generator)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        name, generator = state["site"]
        state["site"] = Site(name, generator)
        self.__dict__.update(state)


class Dropout(_KeyedDropout):
    """:class:`torch.nn.Dropout` with a keyed mask (:func:`keystream.nn.functional.dropout`).

    Args:
        p: probability of an element to be zeroed.
        inplace: do the operation in place.
        generator: the key source (default :data:`keystream.default_generator`, read at each
            call); only its key is used, its offset never moves.
        name: the site's name (default: from :func:`keystream.nn.name_modules`, else the
            order of construction).
        features / feature_start: a shard's place in the global features.

    Reproducibility:
        NOTE [ Keyed masks ]: the mask depends on the key, the name, the training step, the
        call within the step and the global index of each element, so micro-batches, ranks,
        feature shards and activation checkpointing all see the masks of the whole batch.
    """

    _fn = staticmethod(F.dropout)


class Dropout1d(_KeyedDropout):
    """:class:`torch.nn.Dropout1d` with a keyed channel mask; arguments as :class:`Dropout`.

    Reproducibility:
        :func:`keystream.nn.functional.dropout1d`.
    """

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_KeyedDropout):
    """:class:`torch.nn.Dropout2d` with a keyed channel mask; arguments as :class:`Dropout`.

    Reproducibility:
        :func:`keystream.nn.functional.dropout2d`.
    """

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_KeyedDropout):
    """:class:`torch.nn.Dropout3d` with a keyed channel mask; arguments as :class:`Dropout`.

    Reproducibility:
        :func:`keystream.nn.functional.dropout3d`.
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_KeyedDropout):
    """:class:`torch.nn.AlphaDropout` with a keyed mask; arguments as :class:`Dropout`.

    Reproducibility:
        :func:`keystream.nn.functional.alpha_dropout`.
    """

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_KeyedDropout):
    """:class:`torch.nn.FeatureAlphaDropout` with a keyed channel mask; arguments as
    :class:`Dropout`.

    Reproducibility:
        :func:`keystream.nn.functional.feature_alpha_dropout`.
    """

    _fn = staticmethod(F.feature_alpha_dropout)
