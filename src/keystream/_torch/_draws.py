"""Layer 2 front: the public draws.  Validate, canonicalise, reserve blocks, call an engine.

Every public function here checks all of its arguments, and allocates its result,
*before* it reserves blocks from the generator, so bad input (or an output that
cannot be allocated) raises and leaves the state unchanged; should the engine or
the copy into ``out`` fail after that, the blocks are given back (NOTE [ no failure
moves the state ] in :func:`_run`).
Scalar parameters travel to the engine inside the :class:`DrawSpec`; tensor
parameters (``normal(mean_tensor, ...)`` and friends) are applied afterwards
with exactly the same sequence of rounded operations, so a tensor of equal
values gives equal bits.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from .. import _engines
from .._core._constants import f64
from .._core._kinds import BITS_DTYPES, FLOAT_DTYPES, INT_DTYPES, versioned
from .._core._math import truncnorm
from .._core._math.numpy_forms import log_f64
from .._core._spec import DrawSpec, blocks_for, zero_signs
from .._engines import _forced as _FORCED
from .._engines import engine_for
from .._engines._cpu import _NATIVE, CpuEngine, pack_params
from . import _graphsafe, _memo, _opaque, _ops
from ._devices import parse_device, usable_device
from ._generator import GRAPH_SAFE, Generator, _with_key, default_generator, resolve_generator, transaction

__all__ = [
    "rand",
    "randn",
    "bits",
    "uniform",
    "normal",
    "exponential",
    "randint",
    "bernoulli",
    "randperm",
    "cauchy",
    "laplace",
    "gumbel",
    "log_normal",
    "geometric",
]

Tensor = torch.Tensor
Number = int | float
Region = slice | Sequence[slice] | None
_native_fill: Any = None if _NATIVE is None else _NATIVE.fill
_F = TypeVar("_F", bound=Callable[..., Any])
_U64 = 1 << 64
#: torch's sizes are int64.
_MAX_DIM = (1 << 63) - 1


# ---------------------------------------------------------------- argument checks
def _parse_size(args: Sequence[Any], name: str = "size") -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        args = tuple(args[0])
    dims = []
    for d in args:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{name} must be a sequence of ints, got an element of type {type(d).__name__}")
        if int(d) < 0:
            raise ValueError(f"{name} must be non-negative, got {tuple(args)}")
        if int(d) > _MAX_DIM:
            raise ValueError(f"{name} has a dimension of {int(d)}, more than torch's limit of 2**63 - 1")
        dims.append(int(d))
    return tuple(dims)


def _sizes(positional: tuple[Any, ...], keyword: Any) -> tuple[Any, ...]:
    """The size of a draw given as ``rand(2, 3)``, ``rand((2, 3))`` or ``rand(size=(2, 3))``."""
    if keyword is None:
        return positional
    if positional:
        raise TypeError("size was given twice (as positional dimensions and as size=)")
    return tuple(keyword) if isinstance(keyword, (tuple, list, torch.Size)) else (keyword,)


def _region(region: Region, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Normalise ``region`` (a slice or a tuple of slices, step 1) to ``(start, stop)`` per dim."""
    if region is None:
        return tuple((0, n) for n in shape)
    if isinstance(region, slice):
        items: tuple[Any, ...] = (region,)
    elif isinstance(region, (tuple, list)):
        items = tuple(region)
    else:
        raise TypeError(f"region must be a slice or a tuple of slices, got {type(region).__name__}")
    if len(items) > len(shape):
        raise IndexError(f"region has {len(items)} slices but the draw has {len(shape)} dimensions")
    out = []
    for d, n in enumerate(shape):
        s = items[d] if d < len(items) else slice(None)
        if not isinstance(s, slice):
            raise TypeError(f"region[{d}] must be a slice, got {type(s).__name__}")
        if s.step not in (None, 1):
            raise ValueError(f"region[{d}] has step {s.step}; only step 1 is supported")
        start = 0 if s.start is None else s.start
        stop = n if s.stop is None else s.stop
        for v in (start, stop):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"region[{d}] bounds must be ints, got {type(v).__name__}")
        if not 0 <= start <= stop <= n:
            raise IndexError(f"region[{d}] = {start}:{stop} is out of bounds for dimension {d} of size {n}")
        out.append((int(start), int(stop)))
    return tuple(out)


def _region_slices(region: tuple[tuple[int, int], ...]) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in region)


def _check_dtype(dtype: Any, allowed: Sequence[torch.dtype], draw: str) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or dtype not in allowed:
        names = ", ".join(str(d).replace("torch.", "") for d in allowed)
        got = f"the string {dtype!r} (pass torch.{dtype})" if isinstance(dtype, str) else str(dtype)
        raise TypeError(f"dtype must be one of torch.{names.replace(', ', ', torch.')} for {draw}, got {got}")
    return dtype


def _dtype(dtype: Any, out: Any, default: torch.dtype, allowed: Sequence[torch.dtype], draw: str) -> torch.dtype:
    """The draw's dtype: ``dtype``, else ``out``'s, else ``default``; checked against ``allowed``."""
    if dtype is None and isinstance(out, Tensor):
        if out.dtype not in allowed:
            names = ", ".join(str(d).replace("torch.", "") for d in allowed)
            raise TypeError(f"out has dtype {out.dtype}, but {draw} draws only {names}")
        return out.dtype
    return _check_dtype(default if dtype is None else dtype, allowed, draw)


def _device(device: Any, out: Tensor | None, g: Generator) -> torch.device:
    """The draw's device: ``out``'s, else ``device``, else the generator's; the meta device
    too (a meta result advances the generator as the real draw would: NOTE [ meta ])."""
    if isinstance(out, Tensor):
        if device is not None and _usable(device) != out.device:
            raise ValueError(f"device {device} differs from out's device {out.device}")
        return _usable(out.device, "out's device")
    if device is None:
        return _usable(g.device, "the generator's device")
    return _usable(device)


def _usable(device: Any, name: str = "device") -> torch.device:
    dev = parse_device(device, name)
    return dev if dev.type == "meta" else usable_device(dev, name)


def _check_out(out: Any, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    if out is None:
        return
    if not isinstance(out, Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")
    if out.requires_grad and torch.is_grad_enabled():
        # torch's rule for out= (a draw has no gradient; writing would bypass autograd)
        raise RuntimeError("out requires grad: functions with out=... arguments don't support automatic "
                           "differentiation (draw under torch.no_grad(), or into a tensor that does not "
                           "require grad)")
    if any(n > 1 and st == 0 for n, st in zip(out.shape, out.stride())):
        # torch refuses to write such a tensor (copy_ raises); say so before any block moves
        raise ValueError("out has elements that share memory (an expanded tensor): clone() it first")
    if out.is_inference() and not torch.is_inference_mode_enabled():
        # torch's rule (an inference tensor has no version counter to tell autograd of the write)
        raise RuntimeError("out: Inplace update to inference tensor outside InferenceMode is not allowed")


def _written(out: Tensor) -> Tensor:
    """``out`` after an engine wrote it through its data pointer: its version counter bumped,
    as torch's own in-place operations do, so that autograd refuses a backward pass through
    values that were saved before the write."""
    torch.autograd.graph.increment_version(out)
    return out


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number or a tensor, got {type(value).__name__}")
    return float(value)


def _round(value: float, dtype: torch.dtype) -> float:
    """``value`` rounded (nearest even) to ``dtype`` (float32 or float64), as a Python float.

    float32 through ``struct`` (the same C conversion as torch's, in a fraction of the
    time of a tensor round trip; tests compare the two on hard values), or through torch
    for NaN (its bits as torch makes them) and values that overflow to infinity, which
    ``struct`` refuses."""
    if dtype == torch.float64:
        return float(value)
    if dtype == torch.float32 and not math.isnan(value):
        try:
            return struct.unpack("<f", struct.pack("<f", value))[0]  # type: ignore[no-any-return]
        except OverflowError:
            pass
    return float(torch.tensor(value, dtype=torch.float64).to(dtype).item())


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _in_dtype(value: float, name: str, dtype: torch.dtype) -> float:
    """A location or scale parameter rounded to ``dtype``'s compute dtype, where it must stay
    finite: an infinite location or scale makes ``loc + scale * z`` NaN for some elements
    (``inf - inf``, ``inf * 0``), so it is refused rather than drawn.

    Raises:
        ValueError: ``value`` overflows the compute dtype (1e300 in float32, say).
    """
    ct = _compute_dtype(dtype)
    v = _round(value, ct)
    if math.isinf(v) and not math.isinf(value):
        raise ValueError(f"{name} = {value} overflows {ct} (the draw's arithmetic for {dtype}): "
                         f"use float64, or a value within {torch.finfo(ct).max:.4g}")
    return v


# ----------------------------------------------------------------- the one path
def _run(
    kind: str,
    params: tuple[Any, ...],
    shape: tuple[int, ...],
    dtype: torch.dtype,
    g: Generator,
    device: torch.device,
    region: tuple[tuple[int, int], ...],
    out: Tensor | None = None,
) -> Tensor:
    """Reserve the draw's blocks and have the device's engine fill the region.

    The arguments are validated before this point; this allocates the result before
    the generator moves.  ``kind`` and ``params`` are stream version 1's: the generator's
    stream version picks the draw kind that computes it (``_kinds.versioned``).
    """
    version = g._version
    if version >= 2:
        kind, params = _versioned(kind, params, dtype, version)
    if device.type == "meta":
        # NOTE [ meta ]
        # A draw on the meta device (model code run under torch.device("meta")) gives a
        # meta tensor of the result's shape and takes the blocks the real draw would, so
        # what is drawn afterwards is the same as if the model had been built for real.
        target = out if out is not None else torch.empty(tuple(b - a for a, b in region), dtype=dtype, device=device)
        key, start = g._reserve(blocks_for(kind, dtype, math.prod(shape)), version)
        runs = getattr(_PLANS, "runs", None)
        if runs is not None:  # NOTE [ plans ]
            runs.append(DrawSpec(kind, params, key, start, shape, region, dtype))
        return target
    state = _graphsafe.open_state(g)
    if state is None:
        engine = engine_for(device, kind, dtype)
        if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
            # The offset is a kernel argument: a captured graph would replay the same numbers.
            raise RuntimeError(
                "keystream draws cannot be captured in a CUDA graph: every replay would repeat the "
                "same numbers. Open keystream.graph_safe(generator) around the capture and the replays, "
                "or draw outside the graph (into a static tensor) and copy it in."
            )
    out_shape = tuple(b - a for a, b in region)
    target = out if out is not None and out.is_contiguous() else _empty(out_shape, dtype, device)
    if state is not None:  # NOTE [ graph-safe state ]: the offset on the device
        _graphsafe.run(state, kind, params, shape, dtype, device, region, target)
        return _delivered(target, out)
    _memo.record(kind, params, dtype, target, engine)  # NOTE [ memoised small draws ]
    # NOTE [ no failure moves the state ]
    # Everything that can fail comes before the generator moves: the arguments were
    # checked by the caller, and the result was allocated above.  Only then are the
    # blocks reserved (key and offset read together).  Should the engine or the copy
    # into `out` still fail, the blocks are given back, unless another thread drew
    # from the generator meanwhile (then giving them back would hand them out twice).
    blocks = blocks_for(kind, dtype, math.prod(shape))
    key, start = g._reserve(blocks, version)
    try:
        engine.fill(target, DrawSpec(kind, params, key, start, shape, region, dtype))
        return _delivered(target, out)
    except BaseException:
        g._release(key, start, blocks)
        raise


# NOTE [ plans ]
# keystream.jax computes a draw from its DrawSpec with the reference forms.  The spec comes
# from running the public draw itself (or an initialiser built on draws) on the meta device
# with a generator at offset 0: its argument checks and canonical parameters, stream
# version included, are then the draw's own, never a copy.  ``plan`` records each kernel
# run the call makes; a call that also computes on tensors (tensor parameters, composite
# draws) is not one run, and keystream.jax refuses it.
_PLANS = threading.local()


def plan(call: Callable[[Generator], Any], version: int) -> tuple[list[DrawSpec], int]:
    """The kernel runs ``call(generator)`` makes (their specs, at key (0, 0)) and the blocks
    it consumes, run on the meta device (NOTE [ plans ])."""
    g = _with_key((0, 0), torch.device("meta"), version)
    runs: list[DrawSpec] = []
    _PLANS.runs = runs
    try:
        call(g)
    finally:
        del _PLANS.runs
    return runs, g.offset


def _versioned(kind: str, params: tuple[Any, ...], dtype: torch.dtype, version: int) -> tuple[str, tuple[Any, ...]]:
    """The draw kind and parameters of stream ``version`` for version 1's ``kind`` and
    ``params`` (docs/spec.md section 10)."""
    new = versioned(kind, dtype, version)
    if new == "uniform_v2":  # the span in float32, not rounded to the 16-bit dtype
        low, span, high, below = params
        return new, (low, _round(high - low, torch.float32) if span else 0.0, high, below)
    return new, params


def _delivered(target: Tensor, out: Tensor | None) -> Tensor:
    """The filled ``target``, copied into ``out`` when ``out`` was not itself the target."""
    if out is not None and target is not out:
        out.copy_(target)
        return out
    return target if out is None else _written(out)


def _empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """A new tensor, or a clear error that says how many bytes it needs."""
    try:
        return torch.empty(shape, dtype=dtype, device=device)
    except (RuntimeError, TypeError, ValueError, OverflowError, MemoryError) as err:
        nbytes = math.prod(shape) * dtype.itemsize
        raise MemoryError(
            f"size: the result needs {nbytes} bytes (shape {shape}, {dtype}) on {device}, which cannot be "
            f"allocated ({type(err).__name__})"
        ) from err


def _plain(kind: str, size: Sequence[Any], default_dtype: Any, allowed: Sequence[torch.dtype],
           params_for: Any, generator: Generator | None, out: Tensor | None, dtype: Any,
           device: Any, region: Region, draw: str) -> Tensor:
    g = resolve_generator(generator)
    shape = _parse_size(size)
    dtype = _dtype(dtype, out, default_dtype, allowed, draw)
    reg = _region(region, shape)
    _check_out(out, tuple(b - a for a, b in reg), dtype)
    dev = _device(device, out, g)
    return _run(kind, params_for(dtype), shape, dtype, g, dev, reg, out)


# ------------------------------------------------------------------- public draws
#: draw -> how its arguments map onto the memoised short path (NOTE [ memoised small draws ])
_BINDERS: dict[str, Callable[..., Any]] = {
    "rand": _memo.Binder("rand", (), var_sizes=True),
    "randn": _memo.Binder("randn", (), var_sizes=True),
    "bits": _memo.Binder("bits", (), var_sizes=True),
    "exponential": _memo.Binder("exponential", ("lambd",), var_sizes=True),
    "cauchy": _memo.Binder("cauchy", ("median", "sigma"), var_sizes=True),
    "laplace": _memo.Binder("laplace", ("loc", "scale"), var_sizes=True),
    "gumbel": _memo.Binder("gumbel", ("loc", "scale"), var_sizes=True),
    "log_normal": _memo.Binder("log_normal", ("mean", "std"), var_sizes=True),
    "geometric": _memo.Binder("geometric", ("p",), var_sizes=True),
    "uniform": _memo.Binder("uniform", ("low", "high"), var_sizes=False),
    "normal": _memo.Binder("normal", ("mean", "std"), var_sizes=False),
    "bernoulli": _memo.Binder("bernoulli", ("p",), var_sizes=False),
    "randint": _memo.randint_binder,
    "randperm": _memo.randperm_binder,
}

# Under torch.compile a public draw is the keystream::draw operator (NOTE [ torch.compile ] in
# _ops.py): the generator's offset must move on every call, which a traced graph would freeze,
# and the arithmetic of tensor parameters must not be fused into FMAs by a compiler.  Without
# opaque objects in this torch it is a graph break (torch.compiler.disable, which imports
# torch._dynamo, about a second: applied lazily; without dynamo imported nothing can be
# compiling, and the plain function runs).
def _eager(fn: _F) -> _F:
    disabled: list[Any] = []
    small = fn.__name__ in _SMALL
    binder = _BINDERS.get(fn.__name__)
    context: list[Any] = []  # (built at the first call: the module is still being imported here)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if small and (not kwargs or _SMALL_KWARGS.issuperset(kwargs)) and not _compiling():  # NOTE [ small draws ]
            result = None
            if "dtype" not in kwargs and "generator" in kwargs:
                if not context:
                    context.append(_small_context(fn.__name__))
                if context[0] is not None:
                    result = _NATIVE.small(context[0], kwargs["generator"], args)
            if result is None:
                result = _small(fn.__name__, args, kwargs.get("generator"), kwargs.get("dtype"))
            if result is not None:
                return result
        if "torch._dynamo" in sys.modules and torch.compiler.is_compiling():
            return _full(args, kwargs)  # (traced: the state moves when the graph runs)
        if binder is not None:  # NOTE [ memoised small draws ] (_memo.py)
            return binder(args, kwargs, lambda: _transaction(args, kwargs))
        return _transaction(args, kwargs)

    def _transaction(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        g = kwargs.get("generator")
        with transaction(g if isinstance(g, Generator) else default_generator):  # NOTE [ one call, one transaction ]
            return _full(args, kwargs)

    def _full(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        extra = _factory_options(fn.__name__, kwargs) if kwargs and not _FACTORY.isdisjoint(kwargs) else None
        if (torch._C._is_torch_function_mode_enabled() and not torch.compiler.is_dynamo_compiling()
                and torch.get_default_device().type != "cpu"):
            # NOTE [ default device ]: inside ``with torch.device(...)`` (the meta device of
            # model code, a GPU), the draw's own helper tensors stay on the CPU; the result's
            # device is the draw's (device=, out=, or the generator's), as without the context.
            with torch.device("cpu"):
                result = wrapper(*args, **kwargs)
            return result if extra is None else _apply_factory_options(result, *extra)
        if "torch._dynamo" not in sys.modules:
            result = fn(*args, **kwargs)
        elif _opaque.OPAQUE and torch.compiler.is_compiling():
            result = _ops.traced_draw(fn.__name__, args, kwargs)
        else:
            if not disabled:
                disabled.append(torch.compiler.disable(fn))
            result = disabled[0](*args, **kwargs)
        return result if extra is None else _apply_factory_options(result, *extra)

    signature = inspect.signature(fn)
    if "dtype" in signature.parameters:  # the draws that make a tensor take torch's factory options
        options = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                   for name, default in (("layout", None), ("pin_memory", False), ("requires_grad", False))]
        params = list(signature.parameters.values())
        var_kw = [p for p in params if p.kind == inspect.Parameter.VAR_KEYWORD]
        rest = [p for p in params if p.kind != inspect.Parameter.VAR_KEYWORD]
        wrapper.__signature__ = signature.replace(parameters=rest + options + var_kw)  # type: ignore[attr-defined]
    _ops.DRAWS[fn.__name__] = wrapper  # (the keystream::draw operator's kernel)
    return wrapper  # type: ignore[return-value]


# NOTE [ small draws ]
# A draw of a few elements is dominated by what surrounds the kernel: argument checks, the
# DrawSpec, the engine lookup, the ctypes call.  rand and randn with plain int sizes, a CPU
# Generator and at most SMALL_MAX elements take a short path instead: their packed kernel
# parameters are cached per (draw, dtype), and the C module (_native.fill, pymod.c) fills
# the output on the calling thread, exactly as ks_fill does with one part (the same kernel,
# so the same bits).  Anything else, or anything unusual (a forced engine, a torch function
# mode, compiling, a graph-safe state, a bad argument), returns None here and the full path
# runs: the same errors, checked in the same order.
SMALL_MAX = _memo.SMALL_MAX
_SMALL_KWARGS = frozenset({"generator", "dtype"})
#: draw -> (kernel kind, its parameters for a dtype, its dtypes)
def _rand_params(dt: torch.dtype) -> tuple[float, ...]:
    return (0.0, 1.0, 1.0, _below(1.0, dt))  # rand's parameters


def _randn_params(dt: torch.dtype) -> tuple[float, ...]:
    return (0.0, 1.0)  # randn's


_SMALL: dict[str, tuple[str, Callable[[torch.dtype], tuple[Any, ...]]]] = {
    "rand": ("uniform", _rand_params),
    "randn": ("normal", _randn_params),
}
#: draw -> {dtype: (packed parameters, elements per block, the engine choice's key)}; the C path reads it
_SMALL_ENTRIES: dict[str, dict[torch.dtype, tuple[bytes, int, tuple[str, str, torch.dtype]]]] = {
    name: {} for name in _SMALL}


def _compiling() -> bool:
    """Whether Dynamo is tracing (the small draws' C call is not traceable: the operator is)."""
    return "torch._dynamo" in sys.modules and torch.compiler.is_compiling()


#: The numpy dtypes of the small draws' dtypes (keystream.numpy's arrays).
_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _small(name: str, sizes: tuple[Any, ...], generator: Any, dtype: Any, array: bool = False) -> Any:
    """The draw on the short path (a tensor; with ``array``, a numpy array), or None."""
    g = default_generator if generator is None else generator
    if type(g) is not Generator or g._device.type != "cpu" or GRAPH_SAFE or _FORCED.name is not None:
        return None
    if len(sizes) == 1 and type(sizes[0]) is not int:
        if type(sizes[0]) not in (tuple, list, torch.Size):
            return None
        sizes = tuple(sizes[0])
    n = 1
    for d in sizes:
        if type(d) is not int or d < 0:
            return None
        n *= d
    if n > SMALL_MAX or n == 0 or torch._C._is_torch_function_mode_enabled():
        return None
    default = torch.get_default_dtype()
    dt = default if dtype is None else dtype
    entries = _SMALL_ENTRIES[name]
    entry = entries.get(dt)
    if entry is None:
        entry = _small_entry(name, dt)
        if entry is None:
            return None
        entries[dt] = entry
    packed, per_block, engine_key = entry
    if type(_engines._DEFAULT.get(engine_key)) is not CpuEngine:  # (the C engine is the one engine_for picks)
        return None
    out: Any
    if array:
        if dt not in _NUMPY_DTYPES:
            return None
        out = np.empty(sizes, dtype=_NUMPY_DTYPES[dt])
        address = out.ctypes.data
    else:
        # (torch.empty parses a dtype argument, or a tuple, in about as long as the draw takes)
        out = (torch.empty(*sizes) if sizes else torch.empty(())) if dt is default else torch.empty(sizes, dtype=dt)
        address = out.data_ptr()
    blocks = -(-n // per_block)
    key, start = g._reserve(blocks)
    try:
        _native_fill(packed, key[0], key[1], start, 0, n, address)
    except BaseException:
        g._release(key, start, blocks)
        raise
    return out


def _small_context(name: str) -> tuple[Any, ...] | None:
    """What the C module's ``small`` reads (pymod.c), for draw ``name``; None without it."""
    if _NATIVE is None or not hasattr(_NATIVE, "small"):
        return None
    return _memo.context(_SMALL_ENTRIES[name])


def _small_entry(name: str, dtype: Any) -> tuple[bytes, int, tuple[str, str, torch.dtype]] | None:
    """The packed parameters of a small draw, or None where the short path does not apply."""
    kind, params_for = _SMALL[name]
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES or versioned(kind, dtype, 2) != kind:
        return None  # (a draw whose definition depends on the stream version takes the full path)
    engine = engine_for(torch.device("cpu"), kind, dtype)
    packed = pack_params(kind, dtype, params_for(dtype)) if isinstance(engine, CpuEngine) else None
    return None if packed is None else (*packed, ("cpu", kind, dtype))


# torch's factory options (torch.rand(..., layout=, pin_memory=, requires_grad=)), taken by
# every draw that makes a tensor: checked before the draw, applied to its result.
_FACTORY = frozenset({"layout", "pin_memory", "requires_grad"})
#: The draws whose default result is an integer tensor (requires_grad needs a float dtype).
_INTEGER_DEFAULT = frozenset({"randint", "randperm", "bits", "multinomial"})


def _factory_options(name: str, kwargs: dict[str, Any]) -> tuple[bool, bool]:
    """Pop and check ``layout``, ``pin_memory`` and ``requires_grad`` from ``kwargs``.

    Raises:
        ValueError: a layout other than torch.strided; ``pin_memory`` without CUDA.
        RuntimeError: ``requires_grad`` for an integer result (as torch).
    """
    layout = kwargs.pop("layout", None)
    pin = bool(kwargs.pop("pin_memory", False))
    grad = bool(kwargs.pop("requires_grad", False))
    if layout not in (None, torch.strided):
        raise ValueError(f"layout must be torch.strided, got {layout}")
    if pin and not torch.cuda.is_available():
        raise ValueError("pin_memory=True needs CUDA, and this torch or machine has none")
    dtype = kwargs.get("dtype")
    integer = (dtype is None and name in _INTEGER_DEFAULT) or (isinstance(dtype, torch.dtype)
                                                               and not dtype.is_floating_point)
    if grad and integer:
        raise RuntimeError("requires_grad: only tensors of floating point dtype can require gradients")
    return pin, grad


def _apply_factory_options(result: Tensor, pin: bool, grad: bool) -> Tensor:
    if pin:
        result = result.pin_memory()
    return result.requires_grad_(True) if grad else result


# NOTE [ complex draws ]
# rand and randn in complex64 / complex128 (torch's complex draws) are the real draw of the
# shape (*shape, 2) in float32 / float64, the last dimension the real and imaginary parts:
# rand's parts are U[0, 1); randn's are N(0, 1/2), as torch's: keystream.normal(0,
# sqrt(1/2)) of that shape.  So they take that draw's blocks and are its bits.
_COMPLEX = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def _is_complex(dtype: Any, out: Tensor | None) -> bool:
    return dtype in _COMPLEX or (dtype is None and isinstance(out, Tensor) and out.dtype in _COMPLEX)


def _complex(draw: Callable[..., Tensor], shape: tuple[int, ...], generator: Generator | None, out: Tensor | None,
             dtype: Any, device: Any, region: Region) -> Tensor:
    dtype = out.dtype if dtype is None and out is not None else dtype
    if out is not None and out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")
    real = _COMPLEX[dtype]
    shape2 = (*shape, 2)
    region2 = None if region is None else (*_region_slices(_region(region, shape)), slice(0, 2))
    out2 = None if out is None else torch.view_as_real(out)
    if draw is randn:
        values = normal(0.0, f64("SQRT_HALF_F64"), shape2, generator=generator, out=out2, dtype=real, device=device,
                        region=region2)
    else:
        values = rand(shape2, generator=generator, out=out2, dtype=real, device=device, region=region2)
    return out if out is not None else torch.view_as_complex(values)


@_eager
def rand(*sizes: Any, size: Any = None, generator: Generator | None = None, out: Tensor | None = None,
         dtype: torch.dtype | None = None, device: Any = None, region: Region = None) -> Tensor:
    """Uniform numbers in [0, 1), like :func:`torch.rand`.

    Args:
        *sizes: the virtual shape (ints, or one sequence of ints).
        size: the same, as a keyword (``rand(size=(2, 3))``, as torch accepts).
        generator: the generator to draw from (default: :data:`keystream.default_generator`).
        out: a tensor of the region's shape and dtype to write into.
        dtype: float16, bfloat16, float32 or float64 (default: torch's default dtype).
        device: where the result lives (default: ``out``'s, else the generator's device).
        region: a tuple of slices (step 1) of the virtual shape; returns exactly
            ``full[region]`` and advances the generator as the full draw would.

    Returns:
        Exact multiples of 2^-24 (float32), 2^-53 (float64), 2^-11 (float16) or 2^-8 (bfloat16).

    Reproducibility:
        Element ``e`` (C-order flat index of the virtual tensor) comes from word ``e % 4``
        of block ``offset + e // 4`` (float64: the 64-bit word ``e % 2`` of block
        ``offset + e // 2``).  Consumes ``ceil(numel / 4)`` blocks (``/ 2`` for float64).
    """
    if _is_complex(dtype, out):  # NOTE [ complex draws ]
        return _complex(rand, _sizes(sizes, size), generator, out, dtype, device, region)
    return _plain("uniform", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES, _rand_params, generator,
                  out, dtype, device, region, "rand")


@_eager
def randn(*sizes: Any, size: Any = None, generator: Generator | None = None, out: Tensor | None = None,
          dtype: torch.dtype | None = None, device: Any = None, region: Region = None) -> Tensor:
    """Standard normal numbers, like :func:`torch.randn`.  Same arguments as :func:`rand`.

    Reproducibility:
        Box-Muller on word pairs: ``(w0, w1)`` of block ``j`` give elements ``4j`` (cos)
        and ``4j + 1`` (sin), ``(w2, w3)`` give ``4j + 2`` and ``4j + 3``; float64 uses the
        64-bit words ``w0 + 2^32 w1`` (radius) and ``w2 + 2^32 w3`` (angle) for ``2j``,
        ``2j + 1``.  Tails reach 6.76 (float32) and 9.49 (float64) standard deviations.
    """
    if _is_complex(dtype, out):  # NOTE [ complex draws ]
        return _complex(randn, _sizes(sizes, size), generator, out, dtype, device, region)
    return _plain("normal", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES, _randn_params,
                  generator, out, dtype, device, region, "randn")


@_eager
def bits(*sizes: Any, size: Any = None, generator: Generator | None = None, out: Tensor | None = None,
         dtype: torch.dtype | None = None, device: Any = None, region: Region = None) -> Tensor:
    """Raw Philox words: uint32/int32 (32-bit words) or uint64/int64 (64-bit words).

    Reproducibility:
        32-bit: element ``e`` is word ``e % 4`` of block ``offset + e // 4``, so
        ``bits(n)`` at offset ``b`` equals Triton's ``tl.randint4x(seed, b + e // 4)``.
        64-bit: ``w[2i] + 2^32 w[2i+1]`` with ``i = e % 2`` of block ``offset + e // 2``.
        The signed dtypes hold the same bits.
    """
    return _plain("bits", _sizes(sizes, size), torch.uint32, BITS_DTYPES, lambda dt: (), generator, out, dtype, device,
                  region, "bits")


@_eager
def exponential(*sizes: Any, size: Any = None, lambd: float = 1.0, generator: Generator | None = None,
                out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
                region: Region = None) -> Tensor:
    """Exponential numbers with rate ``lambd`` (like :meth:`torch.Tensor.exponential_`).

    Computed as ``(-ln u) / lambd`` with ``u = (2w + 1) 2^-33`` (float32; float64:
    ``(2x + 1) 2^-65``), so results are > 0 and reach 22.9 (float32) / 45.1 (float64)
    for ``lambd = 1``.  16-bit floats are the float32 values rounded once.

    Reproducibility:
        The same element layout as :func:`rand` for the dtype.
    """
    lam = _real(lambd, "lambd")
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lambd must be a finite number > 0, got {lambd}")
    return _plain("exponential", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES,
                  lambda dt: (_round(lam, _compute_dtype(dt)),), generator, out, dtype, device, region,
                  "exponential")


def _finite(value: Any, name: str) -> float:
    v = _real(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value}")
    return v


def _positive(value: Any, name: str) -> float:
    v = _real(value, name)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return v


@_eager
def cauchy(*sizes: Any, size: Any = None, median: float = 0.0, sigma: float = 1.0, generator: Generator | None = None,
           out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
           region: Region = None) -> Tensor:
    """Cauchy numbers with location ``median`` and scale ``sigma`` (like
    :meth:`torch.Tensor.cauchy_`).

    ``x = median + sigma * tan t`` with ``t`` uniform over a full turn: the stream's sin
    and cos of the element's angle word (as :func:`randn` uses them), ``tan t = sin t /
    cos t``, in float32 (float64 for float64), 16-bit results rounded once.

    Raises:
        ValueError: ``median`` not finite, ``sigma`` not a finite number > 0, either overflowing
            the compute dtype.

    Reproducibility:
        The same element layout as :func:`rand` for the dtype: one word (float64: one
        64-bit word) per element.
    """
    med, sig = _finite(median, "median"), _positive(sigma, "sigma")
    return _plain("cauchy", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES,
                  lambda dt: (_in_dtype(med, "median", dt), _in_dtype(sig, "sigma", dt)), generator, out,
                  dtype, device, region, "cauchy")


@_eager
def laplace(*sizes: Any, size: Any = None, loc: float = 0.0, scale: float = 1.0, generator: Generator | None = None,
            out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
            region: Region = None) -> Tensor:
    """Laplace numbers with location ``loc`` and scale ``scale`` (the distribution of
    :class:`torch.distributions.Laplace`).

    ``x = loc + scale * (E_a - E_b)``: the difference of two standard exponentials (the
    stream's ``-ln u`` of two words) is standard Laplace.  Computed in float32 (float64
    for float64), 16-bit results rounded once.

    Raises:
        ValueError: ``loc`` not finite, ``scale`` not a finite number > 0, either overflowing the
            compute dtype.

    Reproducibility:
        Element ``e`` uses two words: ``(w0, w1)`` of block ``e // 2`` for even ``e``,
        ``(w2, w3)`` for odd; float64 uses the two 64-bit words of block ``e``.
        Consumes ``ceil(numel / 2)`` blocks (``numel`` for float64).
    """
    lo, sc = _finite(loc, "loc"), _positive(scale, "scale")
    return _plain("laplace", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES,
                  lambda dt: (_in_dtype(lo, "loc", dt), _in_dtype(sc, "scale", dt)), generator, out,
                  dtype, device, region, "laplace")


@_eager
def gumbel(*sizes: Any, size: Any = None, loc: float = 0.0, scale: float = 1.0, generator: Generator | None = None,
           out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
           region: Region = None) -> Tensor:
    """Gumbel numbers with location ``loc`` and scale ``scale`` (the distribution of
    :class:`torch.distributions.Gumbel`).

    ``x = loc - scale * ln(-ln u)``, computed in float64 for every dtype from the element's
    64-bit word (``-ln u`` as in :func:`exponential`, then the stream's float64 log), and
    rounded once to float32 (16-bit: from that float32).

    Raises:
        ValueError: ``loc`` not finite, ``scale`` not a finite number > 0.

    Reproducibility:
        Element ``e`` uses the 64-bit word ``e % 2`` of block ``e // 2``, for every dtype.
    """
    lo, sc = _finite(loc, "loc"), _positive(scale, "scale")
    return _plain("gumbel", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES, lambda dt: (lo, sc),
                  generator, out, dtype, device, region, "gumbel")


@_eager
def log_normal(*sizes: Any, size: Any = None, mean: float = 1.0, std: float = 2.0, generator: Generator | None = None,
               out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
               region: Region = None) -> Tensor:
    """Log-normal numbers ``exp(N(mean, std^2))`` (like :meth:`torch.Tensor.log_normal_`, with
    its defaults ``mean=1``, ``std=2``).

    ``v = mean + std * z`` exactly as :func:`normal` computes it (float32, float64 for
    float64), then the stream's float64 ``exp`` (IEEE operations only), rounded once to
    float32 (16-bit: from that float32).

    Raises:
        ValueError: ``mean`` not finite, ``std`` not a finite number > 0, either overflowing the
            compute dtype.

    Reproducibility:
        The same blocks and element layout as :func:`randn` at the dtype: ``log`` of the
        result is (up to exp's rounding) ``normal(mean, std)`` of the same generator state.
    """
    mu, sd = _finite(mean, "mean"), _positive(std, "std")
    return _plain("log_normal", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES,
                  lambda dt: (_in_dtype(mu, "mean", dt), _in_dtype(sd, "std", dt)), generator, out,
                  dtype, device, region, "log_normal")


def _geometric_rate(p: float) -> float:
    """``-ln(1 - p)`` for 0 < p < 1, accurate for small p, with the stream's float64 log:
    ``u = 1 - p``, then ``ln(u) * p / (u - 1)`` (``p`` itself when ``u`` rounds to 1)."""
    u = 1.0 - p
    if u == 1.0:
        return p
    return float(log_f64(np.array([u]))[0]) * p / (u - 1.0)


@_eager
def geometric(*sizes: Any, p: float, size: Any = None, generator: Generator | None = None,
              out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
              region: Region = None) -> Tensor:
    """The number of Bernoulli(``p``) trials up to and including the first success: 1, 2, ...
    (like :meth:`torch.Tensor.geometric_`; :class:`torch.distributions.Geometric` counts the
    failures, one less).

    ``x = 1 + floor((-ln u) / lam)`` with ``lam = -ln(1 - p)`` (computed once on the host
    with the stream's log), in float32 (float64 for float64), 16-bit results rounded once.

    Raises:
        ValueError: ``p`` not in (0, 1), as torch.

    Reproducibility:
        The same element layout as :func:`rand` for the dtype (one word, float64: one 64-bit
        word per element).
    """
    pv = _real(p, "p")
    if not 0.0 < pv < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    lam = _geometric_rate(pv)
    return _plain("geometric", _sizes(sizes, size), torch.get_default_dtype(), FLOAT_DTYPES,
                  lambda dt: (_round(lam, _compute_dtype(dt)),), generator, out, dtype, device, region, "geometric")


@functools.lru_cache(maxsize=256)  # 5 us a call, and rand asks for _below(1.0, dtype) every time
def _below(high: float, dtype: torch.dtype) -> float:
    """The largest value of ``dtype`` below ``high``."""
    h = torch.tensor(high, dtype=dtype)
    return float(torch.nextafter(h, torch.tensor(-math.inf, dtype=dtype)).item())


def _float_dtype_of(*values: Any) -> torch.dtype | None:
    dts = [v.dtype for v in values if isinstance(v, Tensor) and v.dtype.is_floating_point]
    if not dts:
        return None
    result = dts[0]
    for d in dts[1:]:
        result = torch.promote_types(result, d)
    return result


def _param(value: Any, name: str) -> Tensor | float:
    """A number parameter as a Python float, a tensor parameter as itself (checked)."""
    if isinstance(value, Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
        if value.device.type == "meta":
            raise ValueError(f"{name} is on the meta device: its values are needed")
        return value
    return _real(value, name)


def shown(value: Any) -> str:
    """A parameter as an error message shows it: a number, or a tensor of a few values, as
    itself; a larger tensor by its dtype, shape and range (and whether it holds NaN), so that
    the message stays one line."""
    if not isinstance(value, Tensor):
        return f"{value}"
    t = value.detach()
    if t.numel() <= 6:
        return f"tensor({t.cpu().tolist()})"
    desc = f"a {str(t.dtype).removeprefix('torch.')} tensor of shape {tuple(t.shape)}"
    if t.device.type == "meta":
        return desc
    x = t.to(torch.float64)
    nan = torch.isnan(x)
    rest = x[~nan]
    values = f" with values in [{rest.min().item()}, {rest.max().item()}]" if rest.numel() else ""
    return desc + values + (" and NaN" if bool(nan.any()) else "")


def _within(t: Tensor, low: float, high: float) -> bool:
    """Every value of ``t`` in [low, high] (NaN is not): one pass (``aminmax``; NaN reaches both ends)."""
    if t.numel() == 0:
        return True
    lo, hi = torch.aminmax(t.detach())
    return bool(low <= lo.item() and hi.item() <= high)


def _as_tensor(value: Tensor | float) -> Tensor:
    return value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)


def _param_shape(size: Any, **params: Any) -> tuple[int, ...]:
    """The draw's shape: ``size``, else the broadcast shape of the tensor parameters."""
    tensors = {name: v for name, v in params.items() if isinstance(v, Tensor)}
    if size is not None:
        shape = _parse_size((size,))
        for name, t in tensors.items():
            if t.shape == shape:  # (the common case, without broadcast_shapes' Python)
                continue
            try:
                if torch.broadcast_shapes(t.shape, shape) != torch.Size(shape):
                    raise RuntimeError
            except RuntimeError:
                raise ValueError(f"{name} has shape {tuple(t.shape)}, which does not broadcast to size {shape}"
                                 ) from None
        return shape
    if not tensors:
        raise TypeError("size is required when every parameter is a number")
    distinct = {t.shape for t in tensors.values()}
    if len(distinct) == 1:  # (one shape: no broadcasting to compute)
        return tuple(distinct.pop())
    try:
        return tuple(torch.broadcast_shapes(*(t.shape for t in tensors.values())))
    except RuntimeError:
        shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in tensors.items())
        raise ValueError(f"the parameters do not broadcast together: {shapes}") from None


def _regional(t: Tensor, shape: tuple[int, ...], reg: tuple[tuple[int, int], ...], dtype: torch.dtype,
              device: torch.device) -> Tensor:
    """A parameter tensor broadcast to the virtual shape, cut to the region, in ``dtype``."""
    t = t.to(device=device).to(dtype)
    if t.shape != shape:
        t = t.expand(shape)
    if any(a != 0 or b != n for (a, b), n in zip(reg, shape)):
        t = t[_region_slices(reg)]
    return t


def _standard(kind: str, params: tuple[float, ...], shape: tuple[int, ...], dtype: torch.dtype, g: Generator,
              device: torch.device, reg: tuple[tuple[int, int], ...]) -> Tensor:
    """``_run(kind, params, ...)``: the standard draw that a draw with tensor parameters
    transforms, on the memoised short path where that serves it (NOTE [ memoised small draws ]:
    a whole draw on the CPU; the entry is its own, under ``kind + ":standard"``)."""
    def full() -> Tensor:
        return _run(kind, params, shape, dtype, g, device, reg)

    if device.type != "cpu" or any(a != 0 or b != n for (a, b), n in zip(reg, shape)):
        return full()
    return _memo.serve(kind + ":standard", params, shape, None, dtype, g, full)


@_eager
def uniform(low: Any = 0.0, high: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
            out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
            region: Region = None) -> Tensor:
    """Uniform numbers in [low, high) (``torch.Tensor.uniform_``); low/high numbers or tensors.

    ``span = high - low``, ``x = low + span * u`` (``low``, ``high`` rounded to the dtype);
    a result that rounds up to ``high`` is replaced by the largest dtype value below
    ``high``, so ``high`` is never returned.  float32 and float64 compute in the dtype.
    float16 and bfloat16 (stream version 2) compute in float32 with the 24-bit float32
    uniform and round once, as flat as the dtype allows; stream version 1 rounded each
    operation to the 16-bit dtype with an 11-bit (8-bit) uniform.

    Raises:
        ValueError: ``low > high`` (after rounding to the dtype) or ``high - low`` overflows.
            ``low == high`` gives ``low`` (as torch), taking the draw's blocks all the same.

    Reproducibility:
        The same blocks and element layout as :func:`rand` at the dtype.
    """
    g = resolve_generator(generator)
    low_v, high_v = _param(low, "low"), _param(high, "high")
    shape = _param_shape(size, low=low, high=high)
    dtype = _dtype(dtype, out, _float_dtype_of(low, high) or torch.get_default_dtype(), FLOAT_DTYPES, "uniform")
    reg = _region(region, shape)
    _check_out(out, tuple(b - a for a, b in reg), dtype)
    dev = _device(device, out, g)
    ct = _compute_dtype(dtype)
    if not isinstance(low_v, Tensor) and not isinstance(high_v, Tensor):
        params = _uniform_params(low_v, high_v, dtype, zero_signs((low_v, high_v)))
        return _run("uniform", params, shape, dtype, g, dev, reg, out)
    low_t, high_t = _as_tensor(low_v), _as_tensor(high_v)
    _check_uniform_bounds(low_t, high_t, dtype)

    def rounded(t: Tensor) -> Tensor:
        return t.to(dtype).to(ct)

    lo_r = rounded(_regional(low_t, shape, reg, torch.float64, dev))
    hi_r = rounded(_regional(high_t, shape, reg, torch.float64, dev))
    if versioned("uniform", dtype, g._version) == "uniform_v2":  # float32 arithmetic on u24, rounded once
        u = _standard("uniform", (0.0, 1.0, 1.0, _below(1.0, torch.float32)), shape, torch.float32, g, dev, reg)
        x = rounded(lo_r + (hi_r - lo_r) * u)
    else:
        u = _standard("uniform", (0.0, 1.0, 1.0, _below(1.0, dtype)), shape, dtype, g, dev, reg).to(ct)
        x = rounded(lo_r + rounded(rounded(hi_r - lo_r) * u))
    below = torch.nextafter(hi_r.to(dtype), torch.tensor(-math.inf, dtype=dtype, device=dev)).to(ct)
    below = torch.where(lo_r == hi_r, lo_r, below)  # low == high: low, as torch
    return _finish(torch.where(x >= hi_r, below, x).to(dtype), out)


def _check_uniform_bounds(low: Tensor, high: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """low, high and span rounded to ``dtype`` (in the compute dtype), after checking them.

    Raises:
        ValueError: NaN bounds, ``low > high`` or ``high - low`` overflowing ``dtype``.
    """
    ct = _compute_dtype(dtype)
    lo = low.to(torch.float64).cpu().to(dtype).to(ct)
    hi = high.to(torch.float64).cpu().to(dtype).to(ct)
    if torch.isnan(lo).any() or torch.isnan(hi).any() or not bool((lo <= hi).all()):
        raise ValueError(f"uniform needs low <= high (in {dtype}), got low={low.tolist()}, high={high.tolist()}")
    span = (hi - lo).to(dtype).to(ct)
    if not bool(torch.isfinite(span).all()):
        raise ValueError(f"high - low overflows {dtype}: low={low.tolist()}, high={high.tolist()}")
    return lo, hi, span


@functools.lru_cache(maxsize=256)  # the tensor arithmetic costs ~20 us; draws repeat their bounds
def _uniform_params(low: float, high: float, dtype: torch.dtype, signs: tuple[float, ...],
                    ) -> tuple[float, float, float, float]:
    """The kernel parameters (low, span, high, below high) of uniform(low, high) in ``dtype``
    (``signs``: of low and high, so that the cache tells -0.0 from 0.0)."""
    f64 = torch.float64
    lo, hi, span = _check_uniform_bounds(torch.tensor(low, dtype=f64), torch.tensor(high, dtype=f64), dtype)
    if float(lo) == float(hi):  # torch's uniform_(a, a): a everywhere (x = a + 0 u is never >= inf)
        return float(lo), 0.0, math.inf, float(lo)
    return float(lo), float(span), float(hi), _below(float(hi), dtype)


def _finish(result: Tensor, out: Tensor | None) -> Tensor:
    if out is None:
        return result
    out.copy_(result)
    return out


@_eager
def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
           region: Region = None) -> Tensor:
    """Normal numbers ``mean + std * z`` (``torch.normal``); mean/std numbers or tensors.

    The product and the sum are each rounded in float32 (float64 for float64);
    16-bit results are then rounded once.  With tensors, the shape is their
    broadcast shape unless ``size`` is given.

    Raises:
        ValueError: ``std < 0``, infinite or NaN, ``mean`` NaN; a number ``mean`` or ``std`` that overflows the compute
            dtype (float32 for 16-bit and float32 results: ``inf - inf`` would make NaNs).

    Reproducibility:
        The same blocks and element layout as :func:`randn` at the dtype.
    """
    g = resolve_generator(generator)
    mean_v, std_v = _param(mean, "mean"), _param(std, "std")
    shape = _param_shape(size, mean=mean, std=std)
    dtype = _dtype(dtype, out, _float_dtype_of(mean, std) or torch.get_default_dtype(), FLOAT_DTYPES, "normal")
    if not (_within(std_v, 0.0, sys.float_info.max) if isinstance(std_v, Tensor)
            else 0 <= std_v < math.inf):  # (finite: an infinite std makes NaNs, inf * 0, inf - inf)
        raise ValueError(f"std must be finite and >= 0, got {shown(std)}")
    if (bool(torch.isnan(mean_v).any()) if isinstance(mean_v, Tensor) and mean_v.is_floating_point()
            else isinstance(mean_v, float) and math.isnan(mean_v)):
        raise ValueError(f"mean must not be NaN, got {shown(mean)}")
    reg = _region(region, shape)
    _check_out(out, tuple(b - a for a, b in reg), dtype)
    dev = _device(device, out, g)
    ct = _compute_dtype(dtype)
    if not isinstance(mean_v, Tensor) and not isinstance(std_v, Tensor):
        return _run("normal", (_in_dtype(mean_v, "mean", dtype), _in_dtype(std_v, "std", dtype)), shape, dtype, g,
                    dev, reg, out)
    mean_r = _regional(_as_tensor(mean_v), shape, reg, ct, dev)
    std_r = _regional(_as_tensor(std_v), shape, reg, ct, dev)
    z = _standard("normal", (0.0, 1.0), shape, ct, g, dev, reg)  # same layout as 16-bit dtypes
    x = z.mul_(std_r).add_(mean_r)  # mean + std * z, in the fresh z
    return _finish(x.to(dtype), out)


def trunc_normal(mean: float, std: float, a: float, b: float, size: Any, *, generator: Generator | None = None,
                 dtype: torch.dtype | None = None, device: Any = None, region: Region = None) -> Tensor:
    """Normal numbers truncated to ``[a, b]`` (absolute bounds): ``init.trunc_normal_``'s draw.

    Stream version 2: exact rejection sampling in float64 from a normal, uniform or
    exponential proposal chosen for the interval (NOTE [ Truncated normal by rejection ]),
    32 candidates per element, rounded once to the dtype; ``a < b`` (either may be
    infinite), ``mean`` and ``std`` finite.  Stream version 1: the first of 16 candidates
    ``mean + std * z`` (compute dtype) inside ``[a, b]``, else the last one clamped.

    Reproducibility:
        Version 2: element ``e`` uses blocks ``offset + 32e .. offset + 32e + 31`` (one
        candidate each); consumes ``32 numel`` blocks.  Version 1: blocks ``offset + 4e ..
        offset + 4e + 3`` (float64: ``8e .. 8e + 7``), the normals those blocks give in the
        :func:`randn` layout; consumes ``4 numel`` blocks (``8 numel`` for float64).
    """
    g = resolve_generator(generator)
    shape = _parse_size((size,))
    dtype = _dtype(dtype, None, torch.get_default_dtype(), FLOAT_DTYPES, "trunc_normal")
    mean_v, std_v, a_v, b_v = (_real(v, name) for v, name in ((mean, "mean"), (std, "std"), (a, "a"), (b, "b")))
    if math.isnan(std_v) or std_v < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    reg = _region(region, shape)
    if g._version >= 2:  # NOTE [ Truncated normal by rejection ] (_math/truncnorm.py), in float64
        for name, v in (("mean", mean_v), ("std", std_v)):
            if not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v}")
        if math.isnan(a_v) or math.isnan(b_v) or not a_v < b_v:
            raise ValueError(f"trunc_normal needs a < b, got a={a}, b={b}")
        return _run("trunc_normal_v2", truncnorm.plan(mean_v, std_v, a_v, b_v), shape, dtype, g,
                    _device(device, None, g), reg)
    ct = _compute_dtype(dtype)
    params = tuple(_round(v, ct) for v in (mean_v, std_v, a_v, b_v))
    return _run("trunc_normal", params, shape, dtype, g, _device(device, None, g), reg)


@_eager
def randint(*args: Any, generator: Generator | None = None, out: Tensor | None = None,
            dtype: torch.dtype | None = None, device: Any = None, region: Region = None,
            **kwargs: Any) -> Tensor:
    """Integers in [low, high), like :func:`torch.randint` (``randint(high, size)`` or
    ``randint(low, high, size)``).

    ``x = low + floor(w * R / 2^64)`` with ``R = high - low`` (at most 2^64) and ``w``
    the element's 64-bit word: no rejection, fixed consumption, bias at most R / 2^64.
    Float dtypes (as torch allows) get the int64 value, converted (nearest even: exact up
    to 2^24 for float32, 2^53 for float64).

    Reproducibility:
        Element ``e`` uses the 64-bit word ``e % 2`` of block ``offset + e // 2``.
    """
    low, high, size = _randint_args(args, kwargs)
    g = resolve_generator(generator)
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    low, high = int(low), int(high)
    shape = _parse_size((size,))
    dtype = _dtype(dtype, out, torch.int64, INT_DTYPES + FLOAT_DTYPES, "randint")
    if low >= high:
        raise ValueError(f"randint needs low < high, got low={low}, high={high}")
    info = torch.iinfo(torch.int64 if dtype.is_floating_point else dtype)
    if low < info.min or high - 1 > info.max:
        raise ValueError(f"[low, high) = [{low}, {high}) does not fit {dtype}")
    reg = _region(region, shape)
    _check_out(out, tuple(b - a for a, b in reg), dtype)
    dev = _device(device, out, g)
    if dtype.is_floating_point:
        return _converted("randint", (low, high - low), shape, torch.int64, dtype, g, dev, reg, out)
    return _run("randint", (low, high - low), shape, dtype, g, dev, reg, out)


def _converted(kind: str, params: tuple[Any, ...], shape: tuple[int, ...], compute: torch.dtype,
               dtype: torch.dtype, g: Generator, device: torch.device, region: tuple[tuple[int, int], ...],
               out: Tensor | None) -> Tensor:
    """A draw of ``compute`` values converted to ``dtype`` (nearest even).  The result is
    allocated before the generator moves, like every draw's."""
    target = out if out is not None else _empty(tuple(b - a for a, b in region), dtype, device)
    return target.copy_(_run(kind, params, shape, compute, g, device, region))


def _randint_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    unknown = set(kwargs) - {"low", "high", "size"}
    if unknown:
        raise TypeError(f"randint() got unexpected keyword arguments {sorted(unknown)}")
    names = ["low", "high", "size"] if len(args) + len(kwargs) >= 3 else ["high", "size"]
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k in values:
            raise TypeError(f"randint() got multiple values for {k}")
        values[k] = v
    if "high" not in values or "size" not in values:
        raise TypeError("randint() needs high and size: randint(high, size) or randint(low, high, size)")
    return values.get("low", 0), values["high"], values["size"]


@_eager
def bernoulli(p: Any, size: Any = None, *, generator: Generator | None = None, out: Tensor | None = None,
              dtype: torch.dtype | None = None, device: Any = None, region: Region = None) -> Tensor:
    """1 with probability ``p`` else 0 (``torch.bernoulli``); ``p`` a number or a tensor.

    Element ``e`` is 1 iff its 32-bit word ``w < p * 2^32``, compared exactly, so
    ``p = 0`` never and ``p = 1`` always gives 1.  The dtype defaults to ``p``'s
    (float tensors) or torch's default dtype; integer and bool dtypes also work.

    Raises:
        ValueError: ``p`` outside [0, 1] or NaN.

    torch's ``bernoulli(input, p)`` (a tensor, then a float probability) is served too: the
    shape and dtype of ``input``, probability ``p``.

    Reproducibility:
        Element ``e`` uses word ``e % 4`` of block ``offset + e // 4``.
    """
    g = resolve_generator(generator)
    if isinstance(p, Tensor) and isinstance(size, float):  # torch.bernoulli(input, p)
        p, size, dtype = size, tuple(p.shape), p.dtype if dtype is None else dtype
    p_v = _param(p, "p")
    if not (_within(p_v, 0.0, 1.0) if isinstance(p_v, Tensor) else 0 <= p_v <= 1):  # (NaN fails the comparison)
        raise ValueError(f"p must be in [0, 1], got {shown(p)}")
    shape = _param_shape(size, p=p)
    dtype = _dtype(dtype, out, _float_dtype_of(p) or torch.get_default_dtype(),
                   FLOAT_DTYPES + INT_DTYPES + (torch.bool,), "bernoulli")
    reg = _region(region, shape)
    _check_out(out, tuple(b - a for a, b in reg), dtype)
    dev = _device(device, out, g)
    if not isinstance(p_v, Tensor):
        return _run("bernoulli", (math.ceil(p_v * f64("TWO_32_F64")),), shape, dtype, g, dev, reg, out)
    if dev.type == "cpu" and all(a == 0 and b == n for (a, b), n in zip(reg, shape)):
        kernel = _bernoulli_kernel(p_v, shape, dtype, g, out)
        if kernel is not None:
            return kernel
    threshold = _regional(p_v, shape, reg, torch.float64, dev) * f64("TWO_32_F64")
    w = _run("bits", (), shape, torch.uint32, g, dev, reg)  # (the same words as int32: uint32 keeps them >= 0)
    x = w.to(torch.float64) < threshold  # (exact: a word and p * 2^32 are float64 numbers)
    return _finish(x, out) if out is not None else x.to(dtype)


def _bernoulli_kernel(p: Tensor, shape: tuple[int, ...], dtype: torch.dtype, g: Generator,
                      out: Tensor | None) -> Tensor | None:
    """:func:`bernoulli` of a CPU tensor ``p`` (checked) in one engine call where the engine has
    a kernel for it (``Engine.bernoulli_p``): the same words and comparisons as the definition
    below, the draw's blocks reserved as its bits draw's.  None: compute the definition."""
    engine = engine_for(_CPU, "bits", torch.uint32)
    if type(engine) is not CpuEngine or _graphsafe.open_state(g) is not None:
        return None
    q = p.detach().to(_CPU)
    if q.dtype not in (torch.float32, torch.float64):
        q = q.to(torch.float64)  # (16-bit values are exact in float64)
    q = q.reshape(1) if q.numel() == 1 else q.expand(shape).contiguous().reshape(-1)
    kind_dtype = dtype if dtype in _BERNOULLI_KERNEL_DTYPES else torch.uint8
    target = out if out is not None and out.is_contiguous() and out.dtype == kind_dtype else _empty(shape, kind_dtype,
                                                                                                  _CPU)
    blocks = blocks_for("bits", torch.uint32, math.prod(shape))
    key, start = g._reserve(blocks, g._version)
    try:
        if not engine.bernoulli_p(target.view(-1), key, start, q):
            g._release(key, start, blocks)
            return None
        if target.dtype != dtype:
            return _finish(target, out) if out is not None else target.to(dtype)
        return _delivered(target, out)
    except BaseException:
        g._release(key, start, blocks)
        raise


#: The dtypes the C kernel of bernoulli(p tensor) writes directly (others: 0 / 1 bytes, converted).
_BERNOULLI_KERNEL_DTYPES = (torch.bool, torch.uint8, torch.float32, torch.float64)
_CPU = torch.device("cpu")


@_eager
def randperm(n: int, *, generator: Generator | None = None, out: Tensor | None = None,
             dtype: torch.dtype | None = None, device: Any = None, region: Region = None) -> Tensor:
    """A random permutation of [0, n), like :func:`torch.randperm`.

    Element ``i`` is ``pi(i)`` of :class:`keystream.Permutation`.  Stream version 2: for
    ``n <= 2^16`` the order of ``n`` random 64-bit keys (exactly uniform but for ties, of
    probability below ``2^-33``); above, a 10-round Feistel network with a Philox round
    function, so elements are computable alone and regions cost only their size.
    Stream version 1: an 8-round Feistel network (its permutations are all even for
    ``n`` a power of 4: do not use it where uniformity matters).

    Float dtypes (as torch allows, for ``n`` up to ``2**digits + 1``) get the same
    permutation as exact floats.

    Reproducibility:
        Consumes 1 block whatever ``n`` is (version 1: 2 blocks): its words 0 and 1 are the
        permutation key (version 1: the 8 words are the Feistel round keys).
    """
    g = resolve_generator(generator)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    n = int(n)
    if not 0 <= n <= 1 << 63:
        raise ValueError(f"n must be in [0, 2**63], got {n}")
    dtype = _dtype(dtype, out, torch.int64, (torch.int16, torch.int32, torch.int64) + FLOAT_DTYPES, "randperm")
    if dtype.is_floating_point:
        if n - 1 > 2 ** _DIGITS[dtype]:
            raise ValueError(f"n = {n} does not fit {dtype} exactly (at most 2**{_DIGITS[dtype]} + 1)")
    elif n - 1 > torch.iinfo(dtype).max:
        raise ValueError(f"n = {n} does not fit {dtype}")
    shape = (n,)
    reg = _region(region, shape)
    _check_out(out, tuple(b - a for a, b in reg), dtype)
    dev = _device(device, out, g)
    if dtype.is_floating_point:
        return _converted("randperm", (n,), shape, torch.int64, dtype, g, dev, reg, out)
    return _run("randperm", (n,), shape, dtype, g, dev, reg, out)


#: Significand bits of the float dtypes: every integer up to 2**digits is exact.
_DIGITS = {torch.float16: 11, torch.bfloat16: 8, torch.float32: 24, torch.float64: 53}


# ------------------------------------------------------------ Generator methods
def generator_method(fn: Any) -> Any:
    """``Generator.<name>(self, ...)``: ``fn(..., generator=self)``, with ``fn``'s signature
    (less ``generator``) and docstring."""

    small = fn.__name__ in _SMALL
    context = _small_context(fn.__name__) if small else None
    native = None if context is None else _NATIVE.small
    modules = sys.modules  # (the check of _compiling, inline: this runs for every small draw)

    def method(self: Generator, *args: Any, **kwargs: Any) -> Tensor:
        if small and (not kwargs or kwargs.keys() == {"dtype"}) and (  # NOTE [ small draws ]
                "torch._dynamo" not in modules or not torch.compiler.is_compiling()):
            result = native(context, self, args) if native is not None and not kwargs else None
            if result is None:
                result = _small(fn.__name__, args, self, kwargs.get("dtype"))
            if result is not None:
                return result
        return fn(*args, generator=self, **kwargs)  # type: ignore[no-any-return]

    signature = inspect.signature(fn)
    params = [p for name, p in signature.parameters.items() if name != "generator"]
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(parameters=[self_param, *params])  # type: ignore[attr-defined]
    method.__name__ = fn.__name__
    method.__qualname__ = f"Generator.{fn.__name__}"
    method.__module__ = Generator.__module__
    method.__doc__ = f"``keystream.{fn.__name__}(..., generator=self)``.\n\n{inspect.getdoc(fn) or ''}"
    return method


# Every public draw is also a Generator method: g.rand(3) is rand(3, generator=g).
for _name in __all__:
    setattr(Generator, _name, generator_method(globals()[_name]))
del _name


# (under torch.compile: the keystream::draw operator, NOTE [ torch.compile ] in _ops.py)
def _fake_draw(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], g: Any) -> torch.Tensor:
    """An empty tensor of the draw's result shape, dtype and device (shapes may be symbolic)."""
    fn = _ops.DRAWS[name]
    bound = inspect.signature(fn).bind(*args, **kwargs).arguments
    tensors = [v for v in bound.values() if isinstance(v, torch.Tensor)]
    dtype = bound.get("dtype")
    device = bound.get("device")
    if name == "multinomial":
        x = bound["input"]
        return torch.empty((*x.shape[:-1], bound["num_samples"]), dtype=torch.int64, device=x.device)
    if name == "dirichlet":
        return torch.empty_like(bound["alpha"], memory_format=torch.contiguous_format)
    if name == "randperm":
        shape: tuple[Any, ...] = (bound["n"],)
    elif name == "randint":
        shape = tuple(_sizes_of(_randint_args(bound.get("args", ()), bound.get("kwargs", {}))[2]))
    elif "sizes" in bound or (bound.get("size") is not None):
        shape = tuple(_sizes_of(_sizes(bound.get("sizes", ()), bound.get("size"))))
    else:
        shape = tuple(torch.broadcast_shapes(*(t.shape for t in tensors)))
    region = bound.get("region")
    if region is not None:
        items = (region,) if isinstance(region, slice) else tuple(region)
        shape = tuple((n if s.stop is None else s.stop) - (0 if s.start is None else s.start)
                      if d < len(items) and isinstance(s := items[d], slice) else n for d, n in enumerate(shape))
    if dtype is None:
        defaults = {"bits": torch.uint32, "randint": torch.int64, "randperm": torch.int64}
        dtype = defaults.get(name) or _float_dtype_of(*tensors) or torch.get_default_dtype()
    if device is None:
        device = getattr(g, "real_obj", g).device  # (a fake kernel may get a stand-in)
    return torch.empty(shape, dtype=dtype, device=device)


def _sizes_of(size: Any) -> list[Any]:
    if isinstance(size, (tuple, list, torch.Size)):
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            return list(size[0])
        return list(size)
    return [size]


if _opaque.OPAQUE:
    _ops.register_draw_operator(_fake_draw)
