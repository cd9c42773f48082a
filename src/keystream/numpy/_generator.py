"""keystream's stream as numpy arrays: a Generator with numpy's method names.

Every method is one public keystream draw with the parameters translated (NOTE [ one draw
per method ]), so its values are those of that draw for the same state, bit for bit, and
its blocks are that draw's: a ``keystream.numpy.Generator`` and a ``keystream.Generator``
in the same state continue each other's stream.  The C engine writes straight into the
numpy array (a zero-copy tensor view of it): no copy, no conversion.
"""
from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from .._torch import _composite, _counts, _draws
from .._torch._generator import STREAM_VERSION, transaction
from .._torch._generator import Generator as TorchGenerator

__all__ = ["Generator", "default_rng"]

Region = slice | Sequence[slice] | None
_F = TypeVar("_F", bound=Callable[..., Any])


def _one_call(method: _F) -> _F:
    """A draw method as one transaction of the generator (NOTE [ one call, one transaction ]):
    a failure after its draw (a copy into ``out``, a conversion) gives the blocks back."""

    @functools.wraps(method)
    def wrapper(self: Generator, *args: Any, **kwargs: Any) -> Any:
        with transaction(self._g):
            return method(self, *args, **kwargs)
    return wrapper  # type: ignore[return-value]


# NOTE [ one draw per method ]
# A method is defined by the keystream draw it calls: ``random`` is ``rand``,
# ``standard_normal`` ``randn``, ``integers(low, high)`` ``randint(low, high)``,
# ``exponential(scale)`` ``exponential(lambd=1 / scale)``, ``gamma(shape, scale)``
# ``gamma(shape, rate=1 / scale)``, ``poisson`` / ``binomial`` / ``geometric`` the float
# draw's values as int64 (exact: they are integers below 2^53), ``multinomial(n, pvals)``
# the counts of ``multinomial(pvals, n, replacement=True)``'s indices.  Nothing is computed
# here that changes a value, so the table of what is identical is the draw table itself.

_NP_TO_TORCH: dict[np.dtype[Any], torch.dtype] = {
    np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
    np.dtype(np.int8): torch.int8, np.dtype(np.int16): torch.int16, np.dtype(np.int32): torch.int32,
    np.dtype(np.int64): torch.int64, np.dtype(np.uint8): torch.uint8, np.dtype(np.uint16): torch.uint16,
    np.dtype(np.uint32): torch.uint32, np.dtype(np.uint64): torch.uint64, np.dtype(np.bool_): torch.bool,
}


def _torch_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{name} must be a numpy dtype, got {dtype!r}") from err
    if dt not in _NP_TO_TORCH:
        raise TypeError(f"{name} {dt} has no keystream draw (float16/32/64, integers or bool)")
    return _NP_TO_TORCH[dt]


def _size(size: Any, out: Any = None) -> tuple[int, ...] | None:
    """numpy's ``size``: None, an int or a sequence of ints; None with an ``out`` array is
    ``out``'s shape (as numpy)."""
    if size is None:
        return tuple(out.shape) if isinstance(out, np.ndarray) else None
    if isinstance(size, (numbers.Integral, np.integer)) and not isinstance(size, bool):
        dims = [int(size)]
    elif isinstance(size, (tuple, list)):
        dims = []
        for d in size:
            if isinstance(d, bool) or not isinstance(d, (numbers.Integral, np.integer)):
                raise TypeError(f"size must be an int or a tuple of ints, got {size!r}")
            dims.append(int(d))
    else:
        raise TypeError(f"size must be None, an int or a tuple of ints, got {type(size).__name__}")
    if any(d < 0 for d in dims):
        raise ValueError(f"size must not be negative, got {size!r}")
    return tuple(dims)


def _param(value: Any, name: str) -> Any:
    """A distribution parameter: a Python number stays one, an array becomes a float64 tensor
    (keystream's draws broadcast tensor parameters against ``size``, as numpy does)."""
    if isinstance(value, (np.ndarray, list, tuple)) or (isinstance(value, np.generic) and np.ndim(value)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a number or an array of numbers, got dtype {arr.dtype}")
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, torch.Tensor):
        return value
    raise TypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}")


_TORCH_TO_NP: dict[torch.dtype, np.dtype[Any]] = {t: n for n, t in _NP_TO_TORCH.items()}
#: The parameter types the methods' short paths take as they are (other numbers: the full path).
_NUMBERS = (int, float)


def _empty(shape: tuple[int, ...], region: Region, dtype: torch.dtype | None) -> np.ndarray:
    """A new array for the draw's region of ``shape`` (checked as the draws check it)."""
    reg = _draws._region(region, shape)
    if dtype is None or dtype not in _TORCH_TO_NP:
        raise TypeError(f"dtype {dtype} has no numpy dtype")
    out_shape: tuple[int, ...] = tuple(b - a for a, b in reg)
    return np.empty(out_shape, dtype=_TORCH_TO_NP[dtype])


def _dtype_for(dtype: Any, out: torch.Tensor | None, default: torch.dtype) -> torch.dtype | None:
    """The draw's dtype: ``dtype``; else ``out``'s (None: the draw takes it from ``out``);
    else the method's default (float64 for floats, as numpy)."""
    if dtype is not None:
        return _torch_dtype(dtype)
    return None if out is not None else default


def _checked(value: Any, name: str, low: float = 0.0, strict: bool = True, high: float | None = None,
             integer: bool = False) -> Any:
    """A parameter after numpy's check of its values, named as numpy names it: ``> low``
    (``>= low`` unless ``strict``), ``<= high``, whole (``integer``); not NaN."""
    v = _param(value, name)
    if isinstance(v, float):  # (a number: numpy's tests without numpy's per-call cost; NaN fails the first)
        ok = bool((v > low if strict else v >= low) and (high is None or v <= high)
                  and (not integer or math.isinf(v) or v == math.floor(v)))
    else:
        arr = v.numpy()
        ok = (arr > low) if strict else (arr >= low)
        if high is not None:
            ok &= arr <= high
        if integer:
            ok &= arr == np.floor(arr)
        ok = bool(np.all(ok))
    if not ok:
        bound = f"> {low}" if strict else f">= {low}"
        what = f"in [{low}, {high}]" if high is not None else bound
        raise ValueError(f"{name} must be {'a whole number ' if integer else ''}{what}, got {value!r}")
    return v


def _out_tensor(out: Any) -> torch.Tensor | None:
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if out.dtype not in _NP_TO_TORCH:
        raise TypeError(f"out has dtype {out.dtype}, which no keystream draw makes")
    if any(s < 0 for s in out.strides):
        raise ValueError("out has negative strides (pass a copy, or out[::-1].copy())")
    return torch.from_numpy(out)


def _result(t: torch.Tensor, out: np.ndarray | None, scalar: bool) -> Any:
    if out is not None:
        return out
    arr = t.numpy()
    return arr[()] if scalar else arr


def _int64(t: torch.Tensor) -> torch.Tensor:
    """Counts drawn as floats, as int64 (they are integers; numpy's counts are int64)."""
    return t.to(torch.int64)


class Generator:
    """numpy's ``Generator`` interface on keystream's stream: the same numbers as
    :class:`keystream.Generator`'s draws, as numpy arrays.

    Args:
        seed: an int (as :class:`keystream.Generator`), ``None`` (keystream's default seed:
            the same numbers every run, unlike ``numpy.random.default_rng()``), or a
            :class:`keystream.Generator` to draw from (shared, not copied: a draw from either
            moves both).
        stream_version: as :class:`keystream.Generator` (ignored when ``seed`` is one).

    The state is the torch generator's: :attr:`generator` is it, and :meth:`get_state`,
    :meth:`fold_in`, :meth:`spawn` follow its definitions.

    Reproducibility:
        Each method is one keystream draw (NOTE [ one draw per method ] in the source; the
        docstrings name it): the values and blocks of ``g.random(5)`` are those of
        ``keystream.rand(5, dtype=torch.float64, generator=...)`` for the same state, on any
        machine, and ``region=`` returns exactly ``full[region]`` of the draw.

    Example:
        >>> import keystream.numpy as ksnp
        >>> rng = ksnp.default_rng(1234)
        >>> x = rng.standard_normal((2, 3))
        >>> x.dtype, x.shape
        (dtype('float64'), (2, 3))
    """

    __slots__ = ("_g",)

    def __init__(self, seed: int | TorchGenerator | None = None, *, stream_version: int = STREAM_VERSION) -> None:
        if isinstance(seed, TorchGenerator):
            self._g = seed
        elif isinstance(seed, Generator):
            self._g = seed._g
        else:
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer))):
                raise TypeError(f"seed must be an int, a keystream.Generator or None, got {type(seed).__name__}")
            self._g = TorchGenerator(None if seed is None else int(seed), stream_version=stream_version)

    # ------------------------------------------------------------------ state
    @property
    def generator(self) -> TorchGenerator:
        """The :class:`keystream.Generator` this draws from (the same object, not a copy)."""
        return self._g

    @property
    def key(self) -> tuple[int, int]:
        return self._g.key

    @property
    def offset(self) -> int:
        return self._g.offset

    @property
    def spawn_count(self) -> int:
        return self._g.spawn_count

    @property
    def stream_version(self) -> int:
        return self._g.stream_version

    def get_state(self) -> np.ndarray:
        """The 32-byte state of :meth:`keystream.Generator.get_state`, as a uint8 array."""
        return self._g.get_state().numpy()

    def set_state(self, state: Any) -> Generator:
        """Restore a state from :meth:`get_state` (a uint8 array or tensor); return ``self``."""
        if isinstance(state, np.ndarray):
            if state.dtype != np.uint8:
                raise TypeError(f"state must be a uint8 array from get_state(), got dtype {state.dtype}")
            state = torch.from_numpy(np.ascontiguousarray(state))
        self._g.set_state(state)
        return self

    def state_dict(self) -> dict[str, Any]:
        return self._g.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> Generator:
        self._g.load_state_dict(state_dict)
        return self

    def fold_in(self, data: int | str | bytes) -> Generator:
        """A new generator keyed by ``fold_in(key, data)`` (:meth:`keystream.Generator.fold_in`)."""
        return Generator(self._g.fold_in(data))

    def spawn(self, n: int) -> list[Generator]:
        """``n`` independent children (:meth:`keystream.Generator.spawn`)."""
        return [Generator(c) for c in self._g.spawn(n)]

    def clone(self) -> Generator:
        """An independent generator in the same state."""
        return Generator(self._g.clone())

    def __copy__(self) -> Generator:
        return self.clone()

    def __deepcopy__(self, memo: dict[int, Any]) -> Generator:
        return self.clone()

    def __getstate__(self) -> dict[str, Any]:
        return {"state": self._g.state_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._g = TorchGenerator()
        self._g.load_state_dict(state["state"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Generator):
            return NotImplemented
        return self._g == other._g

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        key, offset = self._g.key, self._g.offset
        return (f"keystream.numpy.Generator(key=(0x{key[0]:08x}, 0x{key[1]:08x}), offset={offset}, "
                f"spawn_count={self._g.spawn_count}, stream_version={self._g.stream_version})")

    # ------------------------------------------------------------------ draws
    def _plain(self, draw: Any, size: Any, dtype: Any, out: Any, region: Region, default: torch.dtype = torch.float64,
               **params: Any) -> Any:
        """A draw whose shape is ``size`` (None: one value, returned as a numpy scalar).  One
        draw, which is a transaction of its own (the arguments checked before its blocks are
        taken, nothing after it can fail): the methods made of it need none of their own, and
        the draw's short path serves their small calls (NOTE [ memoised small draws ])."""
        shape = _size(size, out)
        given, o = out, _out_tensor(out)
        dt = _dtype_for(dtype, o, default)
        full = shape if shape is not None else ()
        if o is None:  # numpy's allocator: fresh pages come faster than torch.empty's (huge pages)
            o = torch.from_numpy(_empty(full, region, dt))
        where = {} if region is None else {"region": region}  # (without it: the draw's short path, when small)
        t = draw(full, generator=self._g, out=o, dtype=dt, **where, **params)
        return _result(t, given, shape is None and region is None)

    def _params(self, draw: Any, size: Any, dtype: Any, out: Any, region: Region, scalar_ok: bool,
                default: torch.dtype = torch.float64, **params: Any) -> Any:
        """A draw with distribution parameters (numbers or arrays, broadcast against ``size``)."""
        shape = _size(size, out)
        values = {k: _param(v, k) for k, v in params.items()}
        arrays = any(isinstance(v, torch.Tensor) for v in values.values())
        scalar = shape is None and not arrays and region is None
        if shape is None and not arrays:
            shape = ()
        given, o = out, _out_tensor(out)
        dt = _dtype_for(dtype, o, default)
        if o is None:
            full = shape if shape is not None else tuple(torch.broadcast_shapes(
                *(v.shape for v in values.values() if isinstance(v, torch.Tensor))))
            o = torch.from_numpy(_empty(full, region, dt))
        t = draw(*values.values(), shape, generator=self._g, out=o, dtype=dt, region=region)
        return _result(t, given, scalar and scalar_ok)

    def bits(self, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
             region: Region = None) -> Any:
        """Raw Philox words (:func:`keystream.bits`): uint32 or int32 (32-bit words), uint64
        or int64 (64-bit words)."""
        return self._plain(_draws.bits, size, dtype, out, region, torch.uint32)

    def random(self, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
               region: Region = None) -> Any:
        """Uniform floats in [0, 1): :func:`keystream.rand` (float16, float32 or float64)."""
        if out is None and region is None:
            a = _small("rand", size, dtype, self._g)  # (the common call, before any other work)
            if a is not None:
                return a
        return self._random(size, dtype, out, region)

    def standard_normal(self, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
                        region: Region = None) -> Any:
        """Standard normal floats: :func:`keystream.randn`."""
        if out is None and region is None:
            a = _small("randn", size, dtype, self._g)
            if a is not None:
                return a
        return self._standard_normal(size, dtype, out, region)

    def _random(self, size: Any, dtype: Any, out: np.ndarray | None, region: Region) -> Any:
        return self._plain(_draws.rand, size, dtype, out, region)

    def _standard_normal(self, size: Any, dtype: Any, out: np.ndarray | None, region: Region) -> Any:
        return self._plain(_draws.randn, size, dtype, out, region)

    def standard_exponential(self, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
                             region: Region = None) -> Any:
        """Exponential(1) floats: :func:`keystream.exponential`."""
        return self._plain(_draws.exponential, size, dtype, out, region)

    def standard_cauchy(self, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
                        region: Region = None) -> Any:
        """Standard Cauchy floats: :func:`keystream.cauchy`."""
        return self._plain(_draws.cauchy, size, dtype, out, region)

    def exponential(self, scale: float = 1.0, size: Any = None, dtype: Any = None,
                    out: np.ndarray | None = None, region: Region = None) -> Any:
        """Exponential floats of mean ``scale`` (a number): :func:`keystream.exponential`
        with ``lambd = 1 / scale``."""
        scale = _scalar(scale, "scale", positive=True)
        return self._plain(_draws.exponential, size, dtype, out, region, lambd=1.0 / scale)

    def laplace(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = None,
                out: np.ndarray | None = None, region: Region = None) -> Any:
        """Laplace floats (numbers ``loc``, ``scale``): :func:`keystream.laplace`."""
        return self._plain(_draws.laplace, size, dtype, out, region, loc=_scalar(loc, "loc"),
                           scale=_scalar(scale, "scale", positive=True))

    def gumbel(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = None,
               out: np.ndarray | None = None, region: Region = None) -> Any:
        """Gumbel floats (numbers ``loc``, ``scale``): :func:`keystream.gumbel`."""
        return self._plain(_draws.gumbel, size, dtype, out, region, loc=_scalar(loc, "loc"),
                           scale=_scalar(scale, "scale", positive=True))

    def lognormal(self, mean: float = 0.0, sigma: float = 1.0, size: Any = None, dtype: Any = None,
                  out: np.ndarray | None = None, region: Region = None) -> Any:
        """``exp(N(mean, sigma^2))`` (numbers): :func:`keystream.log_normal` (numpy's defaults)."""
        return self._plain(_draws.log_normal, size, dtype, out, region, mean=_scalar(mean, "mean"),
                           std=_scalar(sigma, "sigma", positive=True))

    @_one_call
    def geometric(self, p: float, size: Any = None, out: np.ndarray | None = None, region: Region = None) -> Any:
        """Trials up to the first success, 1, 2, ... (a number ``p``): :func:`keystream.geometric`
        in float64, as int64."""
        shape = _size(size, out)
        t = _draws.geometric(shape if shape is not None else (), p=_scalar(p, "p"), generator=self._g,
                             dtype=torch.float64, region=region)
        return self._counts(t, out, shape is None and region is None)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = None,
                out: np.ndarray | None = None, region: Region = None) -> Any:
        """Uniform floats in [low, high) (numbers or arrays): :func:`keystream.uniform`."""
        if out is None and region is None and type(low) in _NUMBERS and type(high) in _NUMBERS:
            return self._numbers(_draws.uniform, (float(low), float(high)), size, dtype)
        return self._uniform(low, high, size, dtype, out, region)

    @_one_call
    def _uniform(self, low: Any, high: Any, size: Any, dtype: Any, out: np.ndarray | None, region: Region) -> Any:
        return self._params(_draws.uniform, size, dtype, out, region, True, low=low, high=high)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = None,
               out: np.ndarray | None = None, region: Region = None) -> Any:
        """``loc + scale * z`` (numbers or arrays): :func:`keystream.normal`."""
        if out is None and region is None and type(loc) in _NUMBERS and type(scale) in _NUMBERS:
            return self._numbers(_draws.normal, (float(loc), _checked(scale, "scale", strict=False)), size, dtype)
        return self._normal(loc, scale, size, dtype, out, region)

    @_one_call
    def _normal(self, loc: Any, scale: Any, size: Any, dtype: Any, out: np.ndarray | None, region: Region) -> Any:
        return self._params(_draws.normal, size, dtype, out, region, True, loc=loc,
                            scale=_checked(scale, "scale", strict=False))

    def _numbers(self, draw: Any, numbers: tuple[float, ...], size: Any, dtype: Any) -> Any:
        """:meth:`_params` for number parameters without ``out`` or ``region``, outside a
        transaction, so that the draw's short path serves small calls (NOTE [ memoised small
        draws ]): the arguments are checked before any block is taken, the draw is one
        transaction of its own, and nothing after it can fail."""
        shape = _size(size)
        dt = _dtype_for(dtype, None, torch.float64)
        out = _empty(shape if shape is not None else (), None, dt)
        draw(*numbers, shape if shape is not None else (), generator=self._g, out=torch.from_numpy(out), dtype=dt)
        return out[()] if shape is None else out

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = None,
                 endpoint: bool = False, out: np.ndarray | None = None, region: Region = None) -> Any:
        """Integers in [low, high) (``endpoint=True``: [low, high]); ``integers(high)`` is
        [0, high): :func:`keystream.randint`.  The bounds are ints."""
        for name, v in (("low", low), ("high", high)):
            if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer))):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        lo, hi = (0, int(low)) if high is None else (int(low), int(high))
        if endpoint:
            hi += 1
        if lo >= hi:
            raise ValueError(f"low must be < high{' + 1' if endpoint else ''}, got low={lo}, high={high}")
        shape = _size(size, out)
        if out is None and region is None:  # (one draw, its own transaction: its short path serves small calls)
            t = _draws.randint(lo, hi, shape if shape is not None else (), generator=self._g,
                               dtype=_dtype_for(dtype, None, torch.int64))
            return _result(t, None, shape is None)
        return self._integers(lo, hi, shape, dtype, out, region)

    @_one_call
    def _integers(self, lo: int, hi: int, shape: tuple[int, ...] | None, dtype: Any, out: np.ndarray | None,
                  region: Region) -> Any:
        o = _out_tensor(out)
        t = _draws.randint(lo, hi, shape if shape is not None else (), generator=self._g, out=o,
                           dtype=_dtype_for(dtype, o, torch.int64), region=region)
        return _result(t, out, shape is None and region is None)

    @_one_call
    def bernoulli(self, p: Any, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
                  region: Region = None) -> Any:
        """True with probability ``p`` (a number or an array): :func:`keystream.bernoulli`."""
        return self._params(_draws.bernoulli, size, dtype, out, region, True, torch.bool, p=p)

    # ------------------------------------------------------ the gamma family
    @_one_call
    def standard_gamma(self, shape: Any, size: Any = None, dtype: Any = None,
                       out: np.ndarray | None = None, region: Region = None) -> Any:
        """Gamma(``shape``, 1) floats: :func:`keystream.standard_gamma`."""
        return self._params(_composite.standard_gamma, size, dtype, out, region, True, shape=_checked(shape, "shape"))

    @_one_call
    def gamma(self, shape: Any, scale: Any = 1.0, size: Any = None, dtype: Any = None,
              out: np.ndarray | None = None, region: Region = None) -> Any:
        """Gamma floats of shape ``shape`` and scale ``scale``: :func:`keystream.gamma` with
        ``rate = 1 / scale``."""
        rate = 1.0 / _checked(scale, "scale")
        return self._params(_composite.gamma, size, dtype, out, region, True, shape=_checked(shape, "shape"),
                            rate=rate)

    @_one_call
    def chisquare(self, df: Any, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
                  region: Region = None) -> Any:
        """Chi-square floats: :func:`keystream.chi2`."""
        return self._params(_composite.chi2, size, dtype, out, region, True, df=_checked(df, "df"))

    @_one_call
    def standard_t(self, df: Any, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
                   region: Region = None) -> Any:
        """Student's t floats: :func:`keystream.student_t`."""
        return self._params(_composite.student_t, size, dtype, out, region, True, df=_checked(df, "df"))

    @_one_call
    def beta(self, a: Any, b: Any, size: Any = None, dtype: Any = None, out: np.ndarray | None = None,
             region: Region = None) -> Any:
        """Beta(``a``, ``b``) floats: :func:`keystream.beta`."""
        return self._params(_composite.beta, size, dtype, out, region, True, a=_checked(a, "a"), b=_checked(b, "b"))

    @_one_call
    def dirichlet(self, alpha: Any, size: Any = None, out: np.ndarray | None = None) -> np.ndarray:
        """Dirichlet(``alpha``) vectors, shape ``size + (len(alpha),)``:
        :func:`keystream.dirichlet` of ``alpha`` (float64) broadcast to that shape."""
        a = np.asarray(alpha, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"alpha must be 1-D, got shape {a.shape}")
        shape = _size(size) or ()
        full = torch.from_numpy(np.ascontiguousarray(a)).expand(*shape, a.shape[0]).contiguous()
        t = _composite.dirichlet(full, generator=self._g, out=_out_tensor(out))
        return _result(t, out, False)

    # ------------------------------------------------------------------ counts
    def _counts(self, t: torch.Tensor, out: Any, scalar: bool) -> Any:
        if out is not None:
            o = _out_tensor(out)
            assert o is not None
            if o.shape != t.shape:
                raise ValueError(f"out has shape {tuple(o.shape)}, the draw {tuple(t.shape)}")
            o.copy_(t)
            return out
        return _result(_int64(t), None, scalar)

    @_one_call
    def poisson(self, lam: Any = 1.0, size: Any = None, out: np.ndarray | None = None, region: Region = None) -> Any:
        """Poisson(``lam``) counts (int64): :func:`keystream.poisson` in float64."""
        shape = _size(size, out)
        rate = _checked(lam, "lam", strict=False)
        scalar = shape is None and not isinstance(rate, torch.Tensor) and region is None
        t = _counts.poisson(rate, shape if shape is not None or isinstance(rate, torch.Tensor) else (),
                            generator=self._g, dtype=torch.float64, region=region)
        return self._counts(t, out, scalar)

    @_one_call
    def binomial(self, n: Any, p: Any, size: Any = None, out: np.ndarray | None = None,
                 region: Region = None) -> Any:
        """Binomial(``n``, ``p``) counts (int64): :func:`keystream.binomial` in float64."""
        shape = _size(size, out)
        count = _checked(n, "n", strict=False, integer=True)
        prob = _checked(p, "p", strict=False, high=1.0)
        arrays = isinstance(count, torch.Tensor) or isinstance(prob, torch.Tensor)
        t = _counts.binomial(count, prob, shape if shape is not None or arrays else (), generator=self._g,
                             dtype=torch.float64, region=region)
        return self._counts(t, out, shape is None and not arrays and region is None)

    @_one_call
    def multinomial(self, n: int, pvals: Any, size: Any = None) -> np.ndarray:
        """Counts of ``n`` draws over the categories of ``pvals``, shape ``size + (k,)``
        (int64): the counts of :func:`keystream.multinomial`'s indices (with replacement) of
        ``pvals`` broadcast to ``size + (k,)``, one row per count vector."""
        if isinstance(n, bool) or not isinstance(n, (numbers.Integral, np.integer)):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        p = np.asarray(pvals, dtype=np.float64)
        if p.ndim != 1 or p.size == 0:
            raise ValueError(f"pvals must be a non-empty 1-D sequence, got shape {p.shape}")
        _check_probabilities(p, "pvals")
        shape = _size(size) or ()
        rows, k = math.prod(shape), p.size
        if n == 0 or rows == 0:
            return np.zeros((*shape, k), dtype=np.int64)
        weights = torch.from_numpy(np.ascontiguousarray(p)).expand(rows, k)
        idx = _composite.multinomial(weights, int(n), True, generator=self._g).numpy()
        flat = (np.arange(rows, dtype=np.int64)[:, None] * k + idx).ravel()
        return np.bincount(flat, minlength=rows * k).reshape(*shape, k)

    # ------------------------------------------------------- permutations
    @_one_call
    def permutation(self, x: Any, axis: int = 0) -> np.ndarray:
        """``randperm(x)`` for an int; else a copy of ``x`` with ``axis`` in the order of
        ``randperm(x.shape[axis])`` (:func:`keystream.randperm`)."""
        if isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, bool):
            return _draws.randperm(int(x), generator=self._g).numpy()
        arr = np.asarray(x)
        if arr.ndim == 0:
            raise ValueError("x must be an int or an array with at least one dimension")
        order = _draws.randperm(arr.shape[axis], generator=self._g).numpy()
        return np.take(arr, order, axis=axis)

    @_one_call
    def shuffle(self, x: np.ndarray, axis: int = 0) -> None:
        """Reorder ``x`` in place along ``axis`` by :func:`keystream.randperm` of its length."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy.ndarray, got {type(x).__name__}")
        if x.ndim == 0:
            raise ValueError("x must have at least one dimension")
        order = _draws.randperm(x.shape[axis], generator=self._g).numpy()
        moved = np.moveaxis(x, axis, 0)
        moved[...] = moved[order]

    @_one_call
    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None, axis: int = 0) -> Any:
        """Elements of ``a`` (or of ``arange(a)`` for an int) along ``axis``:

        * ``replace=True``, no ``p``: indices ``randint(0, n, size)``;
        * ``replace=False``, no ``p``: the first ``prod(size)`` elements of ``randperm(n)``
          (``region=``: no more of the permutation is computed);
        * with ``p``: :func:`keystream.multinomial` of ``p`` with or without replacement.
        """
        if isinstance(a, (numbers.Integral, np.integer)) and not isinstance(a, bool):
            n, arr = int(a), None
            if n <= 0:
                raise ValueError(f"a must be > 0 when an int, got {n}")
        else:
            arr = np.asarray(a)
            if arr.ndim == 0:
                raise ValueError("a must be an int or an array with at least one dimension")
            n = arr.shape[axis]
            if n == 0:
                raise ValueError("a is empty")
        shape = _size(size)
        count = 1 if shape is None else math.prod(shape)
        if not replace and count > n:
            raise ValueError(f"cannot take {count} samples from {n} without replacement")
        if p is not None:
            w = np.asarray(p, dtype=np.float64)
            if w.shape != (n,):
                raise ValueError(f"p must have shape ({n},), got {w.shape}")
            _check_probabilities(w, "p")
            if count == 0:
                idx = np.zeros(0, dtype=np.int64)
            else:
                idx = _composite.multinomial(torch.from_numpy(np.ascontiguousarray(w)), count, replace,
                                             generator=self._g).numpy()
        elif replace:
            idx = _draws.randint(0, n, (count,), generator=self._g).numpy()
        else:
            idx = _draws.randperm(n, generator=self._g, region=slice(0, count)).numpy()
        idx = idx.reshape(shape if shape is not None else ())
        if arr is None:
            return idx[()] if shape is None else idx
        picked = np.take(arr, idx, axis=axis)
        return picked


def _small(name: str, size: Any, dtype: Any, g: TorchGenerator) -> Any:
    """``random`` / ``standard_normal`` on the small draws' short path (NOTE [ small draws ]):
    a numpy array or scalar, or None (then the full path runs).  Bad arguments raise here as
    there, before anything is drawn; the draw takes its blocks last and cannot fail after
    that: no transaction is needed."""
    shape = _size(size)
    a = _draws._small(name, shape or (), g, _dtype_for(dtype, None, torch.float64), array=True)
    if a is None:
        return None
    return a[()] if shape is None else a


def _scalar(value: Any, name: str, positive: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def _check_probabilities(p: np.ndarray, name: str) -> None:
    """numpy's check: finite, >= 0, summing to 1 within sqrt(eps)."""
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name} must be finite and >= 0")
    if abs(math.fsum(p.tolist()) - 1.0) > math.sqrt(np.finfo(np.float64).eps):
        raise ValueError(f"{name} must sum to 1, got {math.fsum(p.tolist())}")


def default_rng(seed: int | TorchGenerator | Generator | None = None) -> Generator:
    """A :class:`Generator` (numpy's ``default_rng``); a :class:`Generator` is returned as is."""
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)
