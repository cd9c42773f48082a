"""The CPU engine: compiled C kernels (``_csrc/keystream.c``), bit-identical to the reference.

The C library has no Python or numpy C API; it is loaded with ctypes, whose
foreign calls release the GIL, and the element range is split across threads
here (``torch.get_num_threads()`` of them), so the bits never depend on the
thread count.  If the library was not built or cannot be loaded, the engine
reports itself unavailable, the portable engine takes over, and keystream warns
once.
"""
from __future__ import annotations

import ctypes
import importlib.machinery
import math
import pathlib
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .._spec import DrawSpec, elements_per_block, flat_strides
from . import _reference
from ._base import Engine

__all__ = ["CpuEngine"]

_KIND = {"uniform": 2, "normal": 3, "exponential": 4, "randint": 5, "bernoulli": 6, "randperm": 7}
_DTYPE = {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}
_ONE_BITS = {torch.float32: 0x3F800000, torch.float64: 0x3FF0000000000000, torch.float16: 0x3C00,
             torch.bfloat16: 0x3F80}
#: Below this many elements per thread, splitting costs more than it saves.
MIN_CHUNK = 1 << 16


def _load() -> ctypes.CDLL | None:
    here = pathlib.Path(__file__).resolve().parent.parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_kscore{suffix}"
        if path.exists():
            lib = ctypes.CDLL(str(path))
            lib.ks_fill.restype = ctypes.c_int
            lib.ks_fill.argtypes = [
                ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint64,
                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
            ]
            lib.ks_philox.restype = None
            lib.ks_philox.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            return lib
    return None


try:
    _LIB = _load()
    _LOAD_ERROR = None if _LIB is not None else "the compiled library _kscore was not built"
except OSError as err:  # pragma: no cover - a broken build
    _LIB, _LOAD_ERROR = None, str(err)

_POOL: ThreadPoolExecutor | None = None
_warned = False


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        import os

        _POOL = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="keystream")
    return _POOL


def warn_if_unavailable() -> None:
    """Warn once that CPU draws fall back to the portable engine."""
    global _warned
    if _LIB is None and not _warned:
        _warned = True
        from .. import KeystreamWarning

        warnings.warn(f"keystream's compiled CPU engine is not available ({_LOAD_ERROR}); "
                      "using the slower portable engine", KeystreamWarning, stacklevel=3)


def philox(ctr: tuple[int, int, int, int], key: tuple[int, int], rounds: int = 10) -> tuple[int, ...]:
    """The C block function on one counter (known-answer tests)."""
    assert _LIB is not None
    c = (ctypes.c_uint32 * 4)(*ctr)
    k = (ctypes.c_uint32 * 2)(*key)
    out = (ctypes.c_uint32 * 4)()
    _LIB.ks_philox(c, k, rounds, out)
    return tuple(out)


def _runs(spec: DrawSpec) -> tuple[np.ndarray, int]:
    """The region as runs of consecutive flat indices: (starts, run length)."""
    shape, region = spec.shape, spec.region
    # merge trailing dimensions that the region covers fully into the run
    d = len(shape)
    run = 1
    while d > 0 and region[d - 1] == (0, shape[d - 1]):
        run *= shape[d - 1]
        d -= 1
    if d == 0:
        return np.zeros(1, np.uint64), run
    a, b = region[d - 1]
    run *= b - a
    strides = flat_strides(shape)
    starts = np.zeros((), np.uint64)
    for dim in range(d):
        lo, hi = region[dim]
        if dim == d - 1:
            hi = lo + 1  # the last partial dimension is inside the run
        starts = starts[..., None] + (np.arange(hi - lo, dtype=np.uint64) + np.uint64(lo)) * np.uint64(strides[dim])
    return np.ascontiguousarray(starts.reshape(-1)), run


class CpuEngine(Engine):
    """Compiled C11 kernels on CPU tensors; the default CPU engine when built."""

    name = "cpu"

    def available(self) -> bool:
        return _LIB is not None

    def supports(self, device: torch.device) -> bool:
        return device.type == "cpu"

    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        assert _LIB is not None and out.is_contiguous()
        if spec.out_numel == 0:
            return
        kind, dtype = spec.kind, spec.dtype
        fp = (ctypes.c_double * 4)()
        ip = (ctypes.c_uint64 * 12)()
        dcode = _DTYPE.get(dtype, 0)
        if kind == "bits":
            code = 0 if elements_per_block(kind, dtype) == 4 else 1
        else:
            code = _KIND[kind]
        if kind in ("uniform", "normal", "exponential"):
            for i, v in enumerate(spec.params):
                fp[i] = float(v)
        elif kind == "randint":
            low, span = spec.params
            ip[0], ip[1] = low % (1 << 64), span - 1
        elif kind == "bernoulli":
            ip[0] = spec.params[0]
            ip[1] = _ONE_BITS.get(dtype, 1)
        elif kind == "randperm":
            (n,) = spec.params
            ip[0], ip[1] = n, _reference.half_bits(n)
            for i, k in enumerate(_reference.feistel_keys(spec.key, spec.offset)):
                ip[2 + i] = k
        starts, run = _runs(spec)
        size = out.element_size()
        base = out.data_ptr()
        args = (code, dcode, size, spec.key[0], spec.key[1], spec.offset, fp, ip)
        threads = max(1, torch.get_num_threads())
        total = spec.out_numel
        if len(starts) == 1:
            chunks = max(1, min(threads, total // MIN_CHUNK))
            step = math.ceil(total / chunks)
            jobs = []
            for c in range(chunks):
                lo, hi = c * step, min(total, (c + 1) * step)
                if lo >= hi:
                    continue
                st = np.array([int(starts[0]) + lo], np.uint64)
                jobs.append((st, 1, hi - lo, base + lo * size))
        else:
            per = max(1, min(len(starts), math.ceil(len(starts) / threads)))
            if total < MIN_CHUNK:
                per = len(starts)
            jobs = []
            for r0 in range(0, len(starts), per):
                st = np.ascontiguousarray(starts[r0 : r0 + per])
                jobs.append((st, len(st), run, base + r0 * run * size))

        def call(job: tuple[np.ndarray, int, int, int]) -> None:
            st, nruns, length, ptr = job
            _LIB.ks_fill(*args, st.ctypes.data, nruns, length, ptr)

        if len(jobs) == 1:
            call(jobs[0])
        else:
            list(_pool().map(call, jobs))
