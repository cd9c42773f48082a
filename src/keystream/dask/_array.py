"""Dask arrays of keystream draws whose values do not depend on the chunking.

A draw of shape ``size`` is one keystream draw: each chunk computes exactly its part of
it (``region=``, keystream.numpy) from the generator's state before the draw, so every
chunk shape, worker count and scheduler gives the same array, equal to the numpy (and
torch) draw of the whole shape.  Building the array moves the generator as the whole
draw would, once.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._torch._generator import STREAM_VERSION, transaction
from .._torch._generator import Generator as TorchGenerator
from ..numpy import Generator as NumpyGenerator

try:
    import dask.array as da
except ImportError as err:  # pragma: no cover - the optional extra
    raise ImportError("keystream.dask needs dask: pip install 'keystream[dask]' (or pip install 'dask[array]')"
                      ) from err

__all__ = ["Generator", "default_rng"]

#: The keystream.numpy methods a dask Generator has: those with ``size`` and ``region``
#: (elementwise draws), with number parameters.
METHODS = ("bits", "random", "standard_normal", "standard_exponential", "standard_cauchy", "exponential", "laplace",
           "gumbel", "lognormal", "geometric", "uniform", "normal", "integers", "bernoulli", "standard_gamma", "gamma",
           "chisquare", "standard_t", "beta", "poisson", "binomial")


def _block(state: dict[str, Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
           block_info: Any = None) -> np.ndarray:
    """One chunk: the region ``block_info`` locates, of the draw from ``state``."""
    g = TorchGenerator()
    g.load_state_dict(state)
    region = tuple(slice(a, b) for a, b in block_info[None]["array-location"])
    return getattr(NumpyGenerator(g), name)(*args, region=region, **kwargs)  # type: ignore[no-any-return]


def _method(name: str) -> Any:
    signature = inspect.signature(getattr(NumpyGenerator, name))

    def method(self: Generator, *args: Any, chunks: Any = "auto", **kwargs: Any) -> Any:
        for bad in ("out", "region"):
            if bad in kwargs:
                raise TypeError(f"{name}() of keystream.dask takes no {bad}= (chunks= says how to split the array)")
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{name}(): {err}") from None
        size = bound.arguments.get("size")
        if size is None:
            raise TypeError(f"{name}() of keystream.dask needs size")
        for pname, value in bound.arguments.items():
            if pname not in ("self", "size", "dtype") and isinstance(value, (np.ndarray, list, tuple)):
                raise TypeError(f"{pname} must be a number (keystream.dask draws take number parameters)")
        shape = (int(size),) if np.ndim(size) == 0 else tuple(int(d) for d in size)
        with transaction(self._g):  # NOTE [ one call, one transaction ]
            state = self._g.state_dict()
            # the whole draw's checks, and its blocks, on the real generator: an empty region
            empty = getattr(NumpyGenerator(self._g), name)(*args, region=tuple(slice(0, 0) for _ in shape), **kwargs)
            try:
                normalized = da.core.normalize_chunks(chunks, shape, dtype=empty.dtype)
            except (ValueError, TypeError) as err:
                raise ValueError(f"chunks {chunks!r} does not split shape {shape}: {err}") from None
            return da.map_blocks(_block, state, name, args, kwargs, chunks=normalized, dtype=empty.dtype,
                                 meta=np.empty((0,) * len(shape), dtype=empty.dtype))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"A dask array of ``keystream.numpy.Generator.{name}`` (same arguments, ``size`` required, "
                      "number parameters), in chunks of ``chunks`` (dask's ``chunks=``); the values do not depend "
                      "on the chunks.")
    return method


class Generator:
    """Dask arrays of keystream draws: the same values for every chunking and cluster.

    Args:
        seed: an int, ``None`` (keystream's default seed) or a :class:`keystream.Generator`
            (shared: the draws move it) or :class:`keystream.numpy.Generator`.
        stream_version: as :class:`keystream.Generator`.

    The methods are those of :class:`keystream.numpy.Generator` that make elementwise
    draws (``random``, ``standard_normal``, ``integers``, ``uniform``, ``normal``, the gamma
    family, ``poisson``, ``binomial``, ...), with ``size`` required and a ``chunks=``
    argument as dask's.

    Reproducibility:
        ``rng.random(size, chunks=c).compute()`` equals ``keystream.numpy``'s
        ``random(size)`` from the same state for every ``c``, worker count and scheduler
        (each chunk is the draw's region, computed from the state before the draw); the
        generator moves as that one draw would, when the array is built.

    Example:
        >>> import keystream.dask as ksd
        >>> a = ksd.default_rng(0).random((4, 6), chunks=(2, 3)).compute()
        >>> b = ksd.default_rng(0).random((4, 6), chunks=(4, 1)).compute()
        >>> bool((a == b).all())
        True
    """

    __slots__ = ("_g",)

    def __init__(self, seed: Any = None, *, stream_version: int = STREAM_VERSION) -> None:
        self._g = NumpyGenerator(seed, stream_version=stream_version).generator

    @property
    def generator(self) -> TorchGenerator:
        """The :class:`keystream.Generator` this draws from."""
        return self._g

    def __repr__(self) -> str:
        return f"keystream.dask.Generator({self._g!r})"

    if TYPE_CHECKING:  # the draw methods are made from METHODS below
        def __getattr__(self, name: str) -> Callable[..., Any]: ...


for _name in METHODS:
    setattr(Generator, _name, _method(_name))
del _name


def default_rng(seed: Any = None) -> Generator:
    """A :class:`Generator` (numpy's ``default_rng`` spelling)."""
    return Generator(seed)
