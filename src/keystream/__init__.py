"""keystream: random numbers for PyTorch that are the same bits everywhere.

Every number is a pure function of ``(key, draw offset, distribution and
parameters, dtype, virtual shape, element index)``: not of the device, the
engine, the thread count, the chunking or the sharding.  See docs/spec.md.

Example:
    >>> import keystream
    >>> g = keystream.Generator().manual_seed(1234)
    >>> x = g.randn(2, 3)            # or keystream.randn(2, 3, generator=g)
    >>> x.shape
    torch.Size([2, 3])
"""
from __future__ import annotations

import sys as _sys

from ._core._warnings import KeystreamWarning
from ._engines import available_engines, use_engine
from ._mode._torch_mode import patch_torch, torch_random, unpatch_torch
from ._torch import _composite, _counts, _draws, _generator, _inplace, _permutation
from ._torch._composite import *  # noqa: F403 - and the draws made of them
from ._torch._counts import *  # noqa: F403 - poisson and binomial
from ._torch._draws import *  # noqa: F403 - the public draws are _draws.__all__
from ._torch._generator import (
    ALGORITHM,
    STREAM_VERSION,
    STREAM_VERSIONS,
    Generator,
    default_generator,
    fork_rng,
    get_state,
    initial_seed,
    manual_seed,
    seed,
    set_state,
)
from ._torch._graphsafe import graph_safe
from ._torch._inplace import *  # noqa: F403 - their in-place and *_like forms
from ._torch._permutation import Permutation
from ._version import __version__

__all__ = [
    "ALGORITHM",
    "STREAM_VERSION",
    "STREAM_VERSIONS",
    "Generator",
    "KeystreamWarning",
    "Permutation",
    "__version__",
    "available_engines",
    "default_generator",
    "fork_rng",
    "get_state",
    "graph_safe",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_state",
    "patch_torch",
    "torch_random",
    "unpatch_torch",
    "use_engine",
]
#: The modules of the public draws (each has a golden; their in-place forms are _inplace's).
_DRAW_MODULES = (_draws, _composite, _counts)
for _module in (*_DRAW_MODULES, _inplace):
    __all__ += _module.__all__
del _module

# Pickles name a class by its module: those written while these modules were at the package's
# top (keystream 0.2.0) still load.
for _old, _module in (("_generator", _generator), ("_permutation", _permutation)):
    _sys.modules.setdefault(f"{__name__}.{_old}", _module)
del _old, _module

#: The subpackages, imported on first use (``import keystream; keystream.data``): each costs
#: import time that a script drawing numbers does not need.
_SUBPACKAGES = ("dask", "data", "distributed", "distributions", "init", "montecarlo", "nn", "numpy", "sampling")


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


del annotations  # (the __future__ import's name: not part of the API)
