"""keystream for Dask: arrays whose values do not change with the chunking, and Monte
Carlo estimates computed on a cluster with the bits of one process.

* :class:`Generator` / :func:`default_rng`: ``rng.random((10**5, 10**3), chunks=...)``,
  ``standard_normal``, ``integers``, ... as dask arrays, equal to
  :class:`keystream.numpy.Generator`'s draw of the whole shape for every chunking.
* :func:`estimate`: :func:`keystream.montecarlo.estimate` with its chunks as Dask tasks.

Needs dask (``pip install 'keystream[dask]'``); the distributed scheduler also needs
``distributed``.
"""
from __future__ import annotations

try:
    import dask.array as _da  # noqa: F401 - the optional dependency, checked first
except ImportError as _err:
    raise ImportError("keystream.dask needs dask: pip install 'keystream[dask]' (or pip install 'dask[array]')"
                      ) from _err

from ._array import Generator, default_rng
from ._montecarlo import estimate

__all__ = ["Generator", "default_rng", "estimate"]
