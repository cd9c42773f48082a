"""Engine registry: which engine fills a tensor on which device.

Engines plug in here and nowhere else; the public API never names one.  For a
device, the first *available* engine in :data:`_PREFERENCE` that supports it
runs the draw.  ``use_engine`` forces one (for tests, debugging and
benchmarks); bits never depend on the choice.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

from ._base import Engine
from ._cpu import CpuEngine, warn_if_unavailable
from ._portable import PortableEngine
from ._reference import ReferenceEngine
from ._triton import TritonEngine, warn_if_too_old

__all__ = ["Engine", "get_engine", "engine_for", "all_engines", "available_engines", "use_engine", "register"]

_ENGINES: dict[str, Engine] = {}
#: Order of preference: fastest first; "reference" is never chosen automatically.
_PREFERENCE: list[str] = []
class _Forced(threading.local):
    name: str | None = None  # (a class default: reading it costs no AttributeError)


_forced = _Forced()


def register(engine: Engine, *, preferred: bool = True) -> None:
    """Add an engine; ``preferred`` engines go before the portable fallback."""
    _ENGINES[engine.name] = engine
    if preferred:
        _PREFERENCE.insert(0, engine.name)
    _DEFAULT.clear()


#: The default engine per (device type, draw kind, dtype), found once (availability does
#: not change while a process runs, and asking costs more than a small draw's arithmetic).
_DEFAULT: dict[tuple[str, str | None, torch.dtype | None], Engine] = {}


def get_engine(name: str) -> Engine:
    """The engine called ``name``.

    Raises:
        ValueError: no engine has that name.
    """
    try:
        return _ENGINES[name]
    except KeyError:
        raise ValueError(f"engine must be one of {sorted(_ENGINES)}, got {name!r}") from None


def all_engines() -> list[Engine]:
    return list(_ENGINES.values())


def available_engines() -> list[str]:
    """Names of the engines that can run in this process."""
    return [e.name for e in _ENGINES.values() if e.available()]


def engine_for(device: torch.device, kind: str | None = None, dtype: torch.dtype | None = None) -> Engine:
    """The engine that fills tensors on ``device`` (honouring :func:`use_engine`).

    With ``kind`` and ``dtype``: the first engine of :data:`_PREFERENCE` that runs here,
    supports ``device`` and implements that draw (``Engine.implements``), else the portable
    engine, which implements every draw on every device.

    Raises:
        ValueError: the engine forced by :func:`use_engine` cannot fill tensors on
            ``device`` or does not implement the draw; no engine supports ``device``.
    """
    forced = _forced.name
    if forced is not None:
        engine = _ENGINES[forced]
        if not engine.supports(device):
            raise ValueError(f"engine {forced!r} cannot fill tensors on device {device}")
        if kind is not None and dtype is not None and not engine.implements(kind, dtype):
            raise ValueError(f"engine {forced!r} does not implement {kind} at {dtype}")
        return engine
    cache_key = (device.type, kind, dtype)
    default = _DEFAULT.get(cache_key)
    if default is not None:
        return default
    if device.type == "cpu":
        warn_if_unavailable()
    elif device.type == "cuda":
        warn_if_too_old()
    for name in _PREFERENCE:
        engine = _ENGINES[name]
        if engine.supports(device) and engine.available() and (
                kind is None or dtype is None or engine.implements(kind, dtype)):
            _DEFAULT[cache_key] = engine
            return engine
    raise ValueError(f"no keystream engine supports device {device}")


def forced_engine() -> str | None:
    """The engine :func:`use_engine` forces in this thread, or None."""
    return _forced.name


@contextlib.contextmanager
def use_engine(name: str) -> Iterator[Engine]:
    """Run the draws of this thread, inside the ``with`` block, on engine ``name``."""
    engine = get_engine(name)
    if not engine.available():
        raise RuntimeError(f"engine {name!r} is not available in this process")
    previous = _forced.name
    _forced.name = name
    try:
        yield engine
    finally:
        _forced.name = previous


register(ReferenceEngine(), preferred=False)
register(PortableEngine())
register(CpuEngine())
register(TritonEngine())
# The Triton kernels in Triton's CPU interpreter: never chosen automatically; tests and
# `keystream selftest` use it to check the GPU kernels on machines without a GPU.
register(TritonEngine(interpret=True), preferred=False)
