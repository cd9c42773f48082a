"""Small draws on a short path: what the full path decided for the same arguments, remembered.

NOTE [ memoised small draws ]
A draw of a few elements is dominated by what surrounds the kernel: argument checks,
canonical parameters, the DrawSpec, the engine lookup, the transaction, the ctypes call
(about 20 us against torch's 1-2).  Every elementwise draw with number parameters ends in one
kernel run whose packed parameters depend only on the call's number arguments, its dtype
arguments, torch's default dtype and the generator's stream version.  So:

1. A call the short path can serve (number parameters of type int or float, sizes of ints,
   at most ``SMALL_MAX`` elements, ``device=`` None or the CPU, no ``region=`` / factory options, a CPU
   ``keystream.Generator``, ``out=`` a plain contiguous CPU tensor that autograd lets us
   write) first looks up its *key*: the draw's name, each number with its type (and the
   sign of a zero), the dtype asked for (``dtype=``, else ``out``'s), torch's default dtype
   and the stream version.
2. On a miss the full path runs, with all its checks, and ``_run`` reports the kernel runs
   it made (:func:`record`).  If the call made exactly one run on the C engine, into the
   very tensor it returned, that run's packed parameters are remembered under the key.
3. On a hit the short path allocates the result (or takes ``out``), takes the blocks from
   the generator and has the C module fill them on this thread: the same kernel, the same
   parameters, so the same bits; ``out`` gets its version bumped as the full path does.

Anything the key does not capture makes the short path step aside (returns None): a forced
engine, a graph-safe state, a torch function mode, Dynamo tracing, tensor parameters, a
non-contiguous or grad-requiring ``out``.  Bad arguments never reach the table (their full
call raised), so errors, their messages and the unchanged state on failure are the full
path's.  One reservation and a fill that cannot fail need no transaction.
"""
from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import _engines
from .._core._kinds import PERM_V2_KEY_BLOCKS
from .._engines import _forced as _FORCED
from .._engines._cpu import _NATIVE, CpuEngine, pack_params
from ._generator import GRAPH_SAFE, Generator, default_generator

__all__ = ["SMALL_MAX", "Binder", "context", "randint_binder", "randperm_binder", "record", "serve"]

#: Draws of at most this many elements take the short paths (NOTE [ small draws ] in _draws.py too).
SMALL_MAX = 1 << 14
#: The table's bound: past it, nothing more is remembered (a program that draws with
#: ever-new parameters keeps the full path's speed, and bounded memory).
_MAX_ENTRIES = 4096
#: Whole permutations of at most this many elements are sorted on the C stack
#: (keystream.h's KS_PERM_SORT_STACK): stream version 2's randperm takes the short path up to it.
PERM_SORT_STACK = 2048

_serve: Any = getattr(_NATIVE, "serve", None)
_RUNS = threading.local()  # .runs: the kernel runs of the full call being recorded, or None
#: key -> (packed parameters, elements per block, result dtype, the engine choice's key)
_ENTRIES: dict[tuple[Any, ...], tuple[bytes, int, torch.dtype, tuple[str, str, torch.dtype]]] = {}
_MISSING = object()
_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)
_CPU = torch.device("cpu")
Tensor = torch.Tensor


def record(kind: str, params: tuple[Any, ...], dtype: torch.dtype, target: Tensor, engine: Any) -> None:
    """Called by ``_draws._run`` for each kernel run of a full call being recorded."""
    runs = getattr(_RUNS, "runs", None)
    if runs is not None:
        runs.append((kind, params, dtype, target, engine))


def _shape(sizes: Any) -> tuple[int, ...] | None:
    """Sizes given as ints, or one tuple / list / torch.Size of ints; None otherwise."""
    if len(sizes) == 1 and type(sizes[0]) is not int:
        if not isinstance(sizes[0], (tuple, list)):
            return None
        sizes = sizes[0]
    for d in sizes:
        if type(d) is not int or d < 0:
            return None
    return tuple(sizes)


def _writable(out: Any, shape: tuple[int, ...]) -> bool:
    """``out`` is a tensor the short path may write: what the full path's checks would pass
    and its engine would write in place (contiguous, on the CPU)."""
    return (type(out) in _PLAIN_TENSORS and out.is_cpu and out.layout is torch.strided and out.is_contiguous()
            and tuple(out.shape) == shape and not (out.requires_grad and torch.is_grad_enabled())
            and not (out.is_inference() and not torch.is_inference_mode_enabled()))


def context(entries: dict[Any, Any]) -> tuple[Any, ...]:
    """What the C module's ``small`` and ``serve`` read (pymod.c), with ``entries`` their table."""
    from ._generator import _TRANSACTIONS, CPU

    return (Generator, GRAPH_SAFE, _FORCED, torch._C._is_torch_function_mode_enabled, torch.get_default_dtype,
            _engines, CpuEngine, torch.empty, default_generator, entries, CPU, _TRANSACTIONS,
            torch.autograd.graph.increment_version, torch._C._get_tracing_state)


_CONTEXT: list[tuple[Any, ...]] = []  # (built at the first call: the package is still being imported here)


def serve(name: str, numbers: tuple[Any, ...], shape: tuple[int, ...] | None, out: Any, dtype: Any,
          generator: Any, full: Callable[[], Any], device: Any = None) -> Any:
    """The draw ``name`` on the short path, or ``full()`` (recorded) where it has no entry.

    ``numbers`` are the call's number arguments in the draw's order (``_MISSING`` where not
    given); ``shape`` the parsed sizes (None: not plain ints).  Returns ``full()``'s result
    whenever the short path does not apply."""
    if shape is None or _serve is None or ("torch._dynamo" in sys.modules and torch.compiler.is_compiling()):
        return full()
    if device is not None and not (device == "cpu" or (type(device) is torch.device and device == _CPU)):
        return full()  # (device="cpu" with a CPU generator: the draw without it)
    key_numbers = []
    for v in numbers:
        t = type(v)
        if t is int:
            key_numbers.append(v)
        elif t is float:  # (its type, and the sign of zero: 0.0 == -0.0 == 0 in a dict)
            key_numbers.append((v, math.copysign(1.0, v)))
        elif v is _MISSING:
            key_numbers.append(None)
        else:
            return full()
    if out is not None:
        if not _writable(out, shape) or (dtype is not None and dtype != out.dtype):
            return full()
        dtype = out.dtype
    g = default_generator if generator is None else generator
    if type(g) is not Generator:
        return full()
    key = (name, tuple(key_numbers), dtype, torch.get_default_dtype(), g._version)
    if not _CONTEXT:
        _CONTEXT.append(context(_ENTRIES))
    result = _serve(_CONTEXT[0], g, key, shape, out)
    if result is not None:
        return result
    return full() if key in _ENTRIES else _learn(key, full)


def _learn(key: tuple[Any, ...], full: Callable[[], Any]) -> Any:
    """``full()``, remembering its one kernel run under ``key`` (step 2 of the note)."""
    outer = getattr(_RUNS, "runs", None)
    runs: list[tuple[Any, ...]] = []
    _RUNS.runs = runs
    try:
        result = full()
    finally:
        _RUNS.runs = outer
    if len(runs) == 1 and len(_ENTRIES) < _MAX_ENTRIES:
        kind, params, dtype, target, engine = runs[0]
        if target is not result or type(engine) is not CpuEngine or result.dtype != dtype or _FORCED.name is not None:
            return result
        if kind == "randperm" or (kind == "randperm_v2" and not (
                dtype == torch.int64 and 0 < params[0] <= PERM_SORT_STACK and PERM_V2_KEY_BLOCKS == 1)):
            return result  # (whole small int64 permutations of version 2 only: ks_fill_small sorts them)
        packed = pack_params(kind, dtype, params)
        if packed is not None:
            _ENTRIES[key] = (*packed, dtype, ("cpu", kind, dtype))
    return result


class Binder:
    """How one draw's arguments map onto :func:`serve`'s: its number parameters, and whether
    its sizes are ``*sizes`` (``rand(2, 3)``) or a ``size`` parameter after the numbers
    (``uniform(low, high, size)``)."""

    __slots__ = ("name", "numbers", "var_sizes", "allowed", "positional")

    def __init__(self, name: str, numbers: Sequence[str], var_sizes: bool) -> None:
        self.name = name
        self.numbers = tuple(numbers)
        self.var_sizes = var_sizes
        self.allowed = frozenset({"size", "generator", "out", "dtype", "device", *numbers})
        self.positional = self.numbers + ("size",)

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any], full: Callable[[], Any]) -> Any:
        if kwargs and not self.allowed.issuperset(kwargs):
            return full()
        if self.var_sizes:
            sizes: Any = args
            numbers = tuple(kwargs.get(k, _MISSING) for k in self.numbers)
            if "size" in kwargs:
                size = kwargs["size"]
                if args:
                    return full()
                sizes = (size,)
        else:
            if len(args) > len(self.positional):
                return full()
            values = dict(zip(self.positional, args))
            for k, v in kwargs.items():
                if k in values:
                    return full()
                values[k] = v
            numbers = tuple(values.get(k, _MISSING) for k in self.numbers)
            size = values.get("size")
            sizes = (size,) if size is not None else ()
            if size is None:
                return full()
        return serve(self.name, numbers, _shape(sizes), kwargs.get("out"), kwargs.get("dtype"),
                     kwargs.get("generator"), full, kwargs.get("device"))


def randint_binder(args: tuple[Any, ...], kwargs: dict[str, Any], full: Callable[[], Any]) -> Any:
    """:class:`Binder` for ``randint(high, size)`` / ``randint(low, high, size)``."""
    if kwargs and not {"generator", "out", "dtype", "device"}.issuperset(kwargs):
        return full()
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2:
        low, (high, size) = _MISSING, args
    else:
        return full()
    return serve("randint", (low, high), _shape((size,)), kwargs.get("out"), kwargs.get("dtype"),
                 kwargs.get("generator"), full, kwargs.get("device"))


def randperm_binder(args: tuple[Any, ...], kwargs: dict[str, Any], full: Callable[[], Any]) -> Any:
    """:class:`Binder` for ``randperm(n)``: an entry for each ``n`` (its size)."""
    if len(args) != 1 or (kwargs and not {"generator", "out", "dtype", "device"}.issuperset(kwargs)):
        return full()
    n = args[0]
    return serve("randperm", (n,), (n,) if type(n) is int else None, kwargs.get("out"), kwargs.get("dtype"),
                 kwargs.get("generator"), full, kwargs.get("device"))
