"""Which mask a dropout site draws: its key, training step, call and batch start.

NOTE [ Keyed masks ]
A dropout mask is a pure function of ``(generator key, site name, step, call, global index)``:

- the *site* is one dropout module (its name: the module's path in the model, given by
  :func:`name_modules`, else a name from the order of construction);
- the *step* is the training step: the number of optimizer steps this process has taken
  (every ``torch.optim`` optimizer; :func:`set_step` to resume), or the one
  :func:`batch` names;
- the *call* counts the site's forward calls within one step (within one :func:`batch`
  block): a module applied twice in a step draws two independent masks;
- the *global index* is the element's position in a virtual tensor whose first dimension is
  the global batch: the input's first sample is sample ``start`` (0, or what :func:`batch`
  names), so micro-batches and data-parallel ranks that give their first sample's global
  index draw exactly the masks of the whole batch on one device.

The site's mask key is ``fold_in(fold_in(fold_in(key, "keystream.nn.dropout:" + name), step),
call)`` (the keys of :func:`keystream.Generator.fold_in`); its words are a ``bits`` draw of
the virtual mask tensor at offset 0 of that key, so any region of it is computable alone.

Recompute: a forward that runs inside a backward pass (activation checkpointing recomputing
a segment) draws the mask of the site's latest forward, not a new one: no RNG state is saved
or restored.  When the site ran more than once in that step its recompute would be
ambiguous, and it raises.
"""
from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .._core._keys import Key, fold_in_key
from .._torch._generator import Generator, resolve_generator
from .._torch._opaque import OpaqueMeta

__all__ = ["Site", "batch", "get_step", "name_modules", "set_step"]

_DOMAIN = "keystream.nn.dropout:"
_U64 = 1 << 64


class _Steps:
    """The process's training step: optimizer steps taken (a post-step hook on every
    optimizer counts them) unless :func:`set_step` moved it."""

    def __init__(self) -> None:
        self.count = 0
        self.runs = 0
        self.hooked = False
        self.lock = threading.Lock()

    def hook(self) -> None:
        if not self.hooked:
            with self.lock:
                if not self.hooked:
                    from torch.optim.optimizer import register_optimizer_step_post_hook
                    register_optimizer_step_post_hook(self._stepped)
                    self.hooked = True

    def _stepped(self, *_: Any) -> None:
        with self.lock:
            self.count += 1


_STEPS = _Steps()
_tokens = itertools.count(1)
_local = threading.local()
_names = itertools.count()


def get_step() -> int:
    """The training step masks are drawn for outside :func:`batch`: the optimizer steps this
    process has taken since import (or since :func:`set_step`).

    Reproducibility:
        Every ``torch.optim`` optimizer's ``step()`` counts (a global post-step hook, installed
        when the first keystream dropout module is made); two optimizers stepping once each
        count two.
    """
    return _STEPS.count


def set_step(step: int) -> None:
    """Set the step counter (resuming a run at step ``step``: the masks continue as if the
    run had not stopped); the sites' call counts restart.

    Raises:
        TypeError / ValueError: ``step`` is not an int in [0, 2^64).

    Reproducibility:
        A run resumed with ``set_step(n)`` draws, from step ``n`` on, the masks of the run that
        never stopped.
    """
    step = _check_index(step, "step")
    with _STEPS.lock:
        # a new run of steps: call counts restart (a site's first call at `step` draws call 0)
        _STEPS.count, _STEPS.runs = step, _STEPS.runs + 1


def _check_index(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < _U64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return value


@dataclass(frozen=True)
class _Batch:
    token: int
    step: int
    start: int


@contextlib.contextmanager
def batch(start: int = 0, *, step: int | None = None) -> Iterator[None]:
    """Draw the masks of samples ``start, start + 1, ...`` of training step ``step``.

    Args:
        start: the global index of the first sample of the inputs in this block (a
            micro-batch's or a rank's offset in the global batch).
        step: the training step (default: :func:`get_step`).

    Every keystream dropout site called in the block (in this thread) draws from these
    counters; its call count restarts at 0, so the masks of a micro-batch at ``start``
    are exactly rows ``start ..`` of the masks the whole batch gets at ``start = 0``.

    Example:
        >>> import keystream.nn as knn
        >>> with knn.batch(start=8, step=3):   # the second micro-batch of 8 samples
        ...     pass                           # loss = model(x[8:16]); loss.backward()

    Reproducibility:
        NOTE [ Keyed masks ]: the mask of an element depends on the generator's key, the
        site's name, ``step``, the call and ``start`` + its index, nothing else.
    """
    start = _check_index(start, "start")
    step = get_step() if step is None else _check_index(step, "step")
    previous = getattr(_local, "batch", None)
    _local.batch = _Batch(next(_tokens), step, start)
    try:
        yield
    finally:
        _local.batch = previous


def _in_backward() -> bool:
    return torch._C._current_autograd_node() is not None


@dataclass(frozen=True)
class MaskKey:
    """The counters of one mask: its key words and the global index of the first sample."""

    key: Key
    start: int


class Site(metaclass=OpaqueMeta):
    """One dropout site: its name, its generator and the counters of its latest call.

    Args:
        name: the site's name (a module's path; None: named by the order of construction at
            its first call).
        generator: the key source (None: :data:`keystream.default_generator`, read at each
            call); only its key is used.

    Reproducibility:
        NOTE [ Keyed masks ]: the masks of a site depend on the key, the name, the step, the
        call within the step and the elements' global indices.
    """

    __slots__ = ("name", "generator", "_path_key", "_last", "_calls", "_lock")

    def __init__(self, name: str | None = None, generator: Generator | None = None) -> None:
        if generator is not None:
            resolve_generator(generator)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self.name = name
        self.generator = generator
        self._path_key: tuple[Key, str, Key] | None = None
        self._last: tuple[tuple[int, int], int, MaskKey] | None = None  # (when, calls then, counters)
        self._calls: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        _STEPS.hook()

    def _name(self) -> str:
        if self.name is None:  # (unnamed: the order of construction decides)
            self.name = f"#{next(_names)}"
        return self.name

    def _site_key(self) -> Key:
        g = resolve_generator(self.generator)
        key, name = g.key, self._name()
        cached = self._path_key
        if cached is not None and cached[0] == key and cached[1] == name:
            return cached[2]
        derived = fold_in_key(key, _DOMAIN + name)
        self._path_key = (key, name, derived)
        return derived

    def next_mask(self) -> MaskKey:
        """The counters of this call (a new mask), or of the latest one for a recompute."""
        if _in_backward():
            last = self._last
            if last is None:
                raise RuntimeError(f"dropout site {self._name()!r} is recomputed in a backward pass but "
                                   "never ran forward")
            if last[1] > 1:
                raise RuntimeError(
                    f"dropout site {self._name()!r} ran {last[1]} times in this step and is recomputed in a "
                    "backward pass (activation checkpointing): the recompute cannot tell which mask it "
                    "needs. Give each application its own module.")
            return last[2]
        current = getattr(_local, "batch", None)
        when = (current.token, current.step) if current is not None else (-1 - _STEPS.runs, _STEPS.count)
        start = current.start if current is not None else 0
        site_key = self._site_key()
        with self._lock:
            call = self._calls.get(when, 0)
            # only the latest step's counts are needed
            self._calls = {when: call + 1}
        key = fold_in_key(fold_in_key(site_key, when[1]), call)
        mask = MaskKey(key, start)
        self._last = (when, call + 1, mask)
        return mask


def name_modules(model: torch.nn.Module, prefix: str = "") -> torch.nn.Module:
    """Name every keystream dropout module of ``model`` by its path (``"encoder.layers.0.dropout"``),
    so that its masks do not depend on the order in which modules were built; returns ``model``.

    Reproducibility:
        The name is part of the mask key (NOTE [ Keyed masks ]): renaming a module changes
        its masks, adding other modules does not.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for path, module in model.named_modules(prefix=prefix):
        site = getattr(module, "site", None)
        if isinstance(site, Site):
            site.name = path
    return model
