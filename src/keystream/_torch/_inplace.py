"""torch's other forms of the public draws: in-place fills and the ``*_like`` factories.

``keystream.uniform_(t, a, b)`` is ``t.uniform_(a, b)`` with keystream's numbers: it
writes exactly what ``keystream.uniform(a, b, t.shape, dtype=t.dtype)`` returns from the
same generator state (a non-contiguous ``t`` gets the values of its logical C-order
elements).  ``rand_like(x)`` is ``rand(x.shape)`` laid out like ``x`` (torch's
``memory_format``).  Nothing here computes a number: every value comes from ``_draws``.
"""
from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from typing import Any

import torch

from .._core._kinds import INT_DTYPES
from . import _draws, _memo
from ._devices import usable_device
from ._generator import Generator, one_call

__all__ = [
    "bernoulli_",
    "cauchy_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "normal_",
    "rand_like",
    "randint_like",
    "randn_like",
    "random_",
    "uniform_",
]

Tensor = torch.Tensor


def _fills(draw: str) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """The in-place form ``fn(tensor, *numbers, generator=None)`` of ``draw``, as one call
    (:func:`one_call`), whose small calls take the draw's memoised short path (NOTE [
    memoised small draws ]): ``fn``'s numbers are the draw's, in the draw's order."""

    def decorate(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        full = one_call(fn)
        params = list(inspect.signature(fn).parameters.values())[1:-1]  # (after tensor; before generator)
        names = tuple(p.name for p in params)
        defaults = tuple(p.default for p in params)
        allowed = frozenset({"generator", *names})

        @functools.wraps(fn)
        def wrapper(tensor: Any, *args: Any, **kwargs: Any) -> Tensor:
            if len(args) > len(names) or (kwargs and not allowed.issuperset(kwargs)) or type(
                    tensor) not in _PLAIN_TENSORS:
                return full(tensor, *args, **kwargs)
            values = args + defaults[len(args):]
            if kwargs.keys() - {"generator"}:
                given = dict(zip(names, values))
                for i, name in enumerate(names):
                    if name in kwargs:
                        if i < len(args):
                            return full(tensor, *args, **kwargs)  # (given twice: the full path's error)
                        given[name] = kwargs[name]
                values = tuple(given.values())
            return _memo.serve(draw, values, tuple(tensor.shape), tensor, None, kwargs.get("generator"),
                               lambda: full(tensor, *args, **kwargs))
        return wrapper
    return decorate


_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def _tensor(tensor: Any, name: str = "tensor") -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    return tensor


@_fills("uniform")
def uniform_(tensor: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with uniform numbers in [from_, to), as :meth:`torch.Tensor.uniform_`.

    Reproducibility:
        ``keystream.uniform(from_, to, tensor.shape, dtype=tensor.dtype)``'s values.
    """
    return _draws.uniform(from_, to, tuple(_tensor(tensor).shape), generator=generator, out=tensor)


@_fills("normal")
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with ``N(mean, std^2)``, as :meth:`torch.Tensor.normal_`.

    Reproducibility:
        ``keystream.normal(mean, std, tensor.shape, dtype=tensor.dtype)``'s values.
    """
    return _draws.normal(mean, std, tuple(_tensor(tensor).shape), generator=generator, out=tensor)


@_fills("exponential")
def exponential_(tensor: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with exponential numbers of rate ``lambd``, as :meth:`torch.Tensor.exponential_`.

    Reproducibility:
        ``keystream.exponential(tensor.shape, lambd=lambd, dtype=tensor.dtype)``'s values.
    """
    return _draws.exponential(tuple(_tensor(tensor).shape), lambd=lambd, generator=generator, out=tensor)


@_fills("geometric")
def geometric_(tensor: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with the trials up to a first success, as :meth:`torch.Tensor.geometric_`.

    Reproducibility:
        ``keystream.geometric(tensor.shape, p=p, dtype=tensor.dtype)``'s values (float
        tensors).
    """
    return _draws.geometric(tuple(_tensor(tensor).shape), p=p, generator=generator, out=tensor)


@_fills("log_normal")
def log_normal_(tensor: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with ``exp(N(mean, std^2))``, as :meth:`torch.Tensor.log_normal_`.

    Reproducibility:
        ``keystream.log_normal(tensor.shape, mean=mean, std=std, dtype=tensor.dtype)``'s values.
    """
    return _draws.log_normal(tuple(_tensor(tensor).shape), mean=mean, std=std, generator=generator, out=tensor)


@_fills("cauchy")
def cauchy_(tensor: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with Cauchy numbers, as :meth:`torch.Tensor.cauchy_`.

    Reproducibility:
        ``keystream.cauchy(tensor.shape, median=median, sigma=sigma, dtype=tensor.dtype)``'s values.
    """
    return _draws.cauchy(tuple(_tensor(tensor).shape), median=median, sigma=sigma, generator=generator, out=tensor)


@_fills("bernoulli")
def bernoulli_(tensor: Tensor, p: float | Tensor = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with 1 with probability ``p`` (a number, or a tensor that broadcasts
    to ``tensor``'s shape) else 0, as :meth:`torch.Tensor.bernoulli_`.

    Reproducibility:
        ``keystream.bernoulli(p, tensor.shape, dtype=tensor.dtype)``'s values.
    """
    return _draws.bernoulli(p, tuple(_tensor(tensor).shape), generator=generator, out=tensor)


#: Significand bits of the float dtypes: ``random_`` without ``to`` draws [from, 2**digits].
_DIGITS = {torch.float16: 11, torch.bfloat16: 8, torch.float32: 24, torch.float64: 53}


def _int_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _random_short(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``random_`` as one call, whose common small calls ``random_(t, to)`` and ``random_(t,
    from_, to)`` (ints, a tensor of neither bool nor a float dtype) take the memoised short path of
    ``randint(from_, to, t.shape, out=t)``, the full path's own draw (NOTE [ memoised small draws ])."""
    full = one_call(fn)

    @functools.wraps(fn)
    def wrapper(tensor: Any, *args: Any, **kwargs: Any) -> Tensor:
        if (0 < len(args) <= 2 and (not kwargs or kwargs.keys() == {"generator"}) and type(tensor) in _PLAIN_TENSORS
                and tensor.dtype in INT_DTYPES):
            low, high = (0, args[0]) if len(args) == 1 else args
            return _memo.serve("randint", (low, high), tuple(tensor.shape), tensor, None, kwargs.get("generator"),
                               lambda: full(tensor, *args, **kwargs))
        return full(tensor, *args, **kwargs)
    return wrapper


@_random_short
def random_(tensor: Tensor, *args: Any, generator: Generator | None = None, **kwargs: Any) -> Tensor:
    """Fill ``tensor`` with integers, as :meth:`torch.Tensor.random_`:
    ``random_(t)``, ``random_(t, to)`` or ``random_(t, from_, to)`` (``from`` also as a keyword).

    The range is ``[from_, to - 1]``; without ``to`` it is ``[from_, max]`` with ``max`` the
    dtype's largest integer, or ``2**digits`` for float dtypes (so every value is exact:
    2**24 for float32, 2**53 for float64), as torch defines it; bool tensors get 0 or 1.

    Reproducibility:
        ``keystream.randint(from_, to, tensor.shape, dtype=tensor.dtype)``'s values (bool:
        ``randint(0, 2, ..., dtype=torch.uint8)``'s).
    """
    t = _tensor(tensor)
    if "from" in kwargs:
        kwargs["from_"] = kwargs.pop("from")
    unknown = set(kwargs) - {"from_", "to"}
    if unknown:
        raise TypeError(f"random_() got unexpected keyword arguments {sorted(unknown)}")
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 numbers (from_, to), got {len(args)}")
    if len(args) == 1 and "to" not in kwargs:
        low, high = kwargs.pop("from_", 0), args[0]  # random_(to)
    else:
        names = dict(zip(("from_", "to"), args))
        for k in names:
            if k in kwargs:
                raise TypeError(f"random_() got multiple values for {k}")
        names.update(kwargs)
        low, high = names.get("from_", 0), names.get("to")
    low = _int_arg(low, "from_")
    dtype = t.dtype
    if high is None:
        if dtype == torch.bool:
            high = 2
        elif dtype.is_floating_point:
            high = 2 ** _DIGITS.get(dtype, 0) + 1
        elif dtype in INT_DTYPES:
            high = torch.iinfo(dtype).max + 1
        else:
            raise TypeError(f"random_ fills integer, bool and float tensors, got dtype {dtype}")
    high = _int_arg(high, "to")
    shape = tuple(t.shape)
    if dtype == torch.bool:
        if not 0 <= low < high <= 2:
            raise ValueError(f"random_ into a bool tensor needs 0 <= from_ < to <= 2, got [{low}, {high})")
        values = _draws.randint(low, high, shape, generator=generator, dtype=torch.uint8, device=t.device)
        return t.copy_(values)
    return _draws.randint(low, high, shape, generator=generator, out=t)


def _like(input: Any, dtype: torch.dtype | None, device: Any, memory_format: torch.memory_format) -> Tensor:
    """An uninitialised tensor like ``input`` (its shape, and its layout under ``memory_format``)."""
    src = _tensor(input, "input")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {type(dtype).__name__}")
    dev = src.device if device is None else usable_device(device)
    return torch.empty_like(src, dtype=dtype, device=dev, memory_format=memory_format)


def _like_short(draw: str) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """``rand_like`` / ``randn_like`` as one call, whose common small calls (``generator=`` and
    ``dtype=`` at most) fill ``torch.empty_like(input, dtype=dtype)`` on the memoised short path of
    ``draw(shape, out=that)``, the full path's own draw (NOTE [ memoised small draws ])."""

    def decorate(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        full = one_call(fn)

        @functools.wraps(fn)
        def wrapper(input: Any, *args: Any, **kwargs: Any) -> Tensor:
            if (not args and kwargs.keys() <= {"generator", "dtype"} and type(input) in _PLAIN_TENSORS and input.is_cpu
                    and isinstance(kwargs.get("dtype", torch.float32), torch.dtype)
                    and input.numel() <= _memo.SMALL_MAX):
                out = torch.empty_like(input, dtype=kwargs.get("dtype"))
                if out.dtype.is_floating_point:
                    return _memo.serve(draw, (), tuple(out.shape), out, None, kwargs.get("generator"),
                                       lambda: full(input, **kwargs))
            return full(input, *args, **kwargs)
        return wrapper
    return decorate


@_like_short("rand")
def rand_like(input: Tensor, *, generator: Generator | None = None, dtype: torch.dtype | None = None,
              device: Any = None, memory_format: torch.memory_format = torch.preserve_format,
              requires_grad: bool = False) -> Tensor:
    """Uniform numbers in [0, 1) of ``input``'s shape, as :func:`torch.rand_like`.

    Reproducibility:
        ``keystream.rand(input.shape, dtype=...)``'s values, whatever the memory format.
    """
    return _float_like(_draws.rand, input, generator, dtype, device, memory_format, requires_grad)


@_like_short("randn")
def randn_like(input: Tensor, *, generator: Generator | None = None, dtype: torch.dtype | None = None,
               device: Any = None, memory_format: torch.memory_format = torch.preserve_format,
               requires_grad: bool = False) -> Tensor:
    """Standard normal numbers of ``input``'s shape, as :func:`torch.randn_like`.

    Reproducibility:
        ``keystream.randn(input.shape, dtype=...)``'s values, whatever the memory format.
    """
    return _float_like(_draws.randn, input, generator, dtype, device, memory_format, requires_grad)


def _float_like(draw: Any, input: Any, generator: Generator | None, dtype: torch.dtype | None, device: Any,
                memory_format: torch.memory_format, requires_grad: bool) -> Tensor:
    out = _like(input, dtype, device, memory_format)
    result: Tensor = draw(tuple(out.shape), generator=generator, out=out, dtype=out.dtype)
    return result.requires_grad_(requires_grad)


@one_call
def randint_like(input: Tensor, *args: Any, generator: Generator | None = None, dtype: torch.dtype | None = None,
                 device: Any = None, memory_format: torch.memory_format = torch.preserve_format,
                 requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """Integers in [low, high) of ``input``'s shape, as :func:`torch.randint_like`:
    ``randint_like(x, high)`` or ``randint_like(x, low, high)``.

    Reproducibility:
        ``keystream.randint(low, high, input.shape, dtype=...)``'s values.
    """
    unknown = set(kwargs) - {"low", "high"}
    if unknown:
        raise TypeError(f"randint_like() got unexpected keyword arguments {sorted(unknown)}")
    names = ["low", "high"] if len(args) + len(kwargs) >= 2 else ["high"]
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k in values:
            raise TypeError(f"randint_like() got multiple values for {k}")
        values[k] = v
    if "high" not in values:
        raise TypeError("randint_like() needs high: randint_like(input, high) or randint_like(input, low, high)")
    out = _like(input, dtype, device, memory_format)
    if requires_grad and not out.dtype.is_floating_point:  # (checked before the draw, as torch)
        raise RuntimeError(f"requires_grad: only tensors of floating point dtype can require gradients, "
                           f"got {out.dtype}")
    result = _draws.randint(values.get("low", 0), values["high"], tuple(out.shape), generator=generator, out=out)
    return result.requires_grad_(requires_grad)
