"""The CPU engine: compiled C kernels (``_csrc/``: one file per family of draws), bit-identical to the reference.

The C library has no Python or numpy C API; it is loaded with ctypes, whose
foreign calls release the GIL.  Each call says how many parts to split the
element range into (``torch.get_num_threads()`` at most) and the library runs
them on its own persistent thread pool (``_csrc/pool.c``, fork-safe); the bits
never depend on the split.  If the library was not built or cannot be loaded, the engine
reports itself unavailable, the portable engine takes over, and keystream warns
once.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.machinery
import pathlib
import struct
import warnings
from typing import Any

import torch

from .._core._constants import u32
from .._core._keys import use_compiled_derive
from .._core._kinds import DTYPE_CODES, kernel_kind
from .._core._math.exact import LIMBS
from .._core._math.feistel import SORT_MAX, feistel_keys, half_bits, permutation_key
from .._core._spec import DrawSpec, zero_signs
from .._core._warnings import KeystreamWarning
from ._base import Engine
from ._portable import _region_indices

__all__ = ["CpuEngine"]

_ONE_BITS = {torch.float32: 0x3F800000, torch.float64: 0x3FF0000000000000, torch.float16: 0x3C00,
             torch.bfloat16: 0x3F80}
#: ks_packed_t (_csrc/keystream.h): kind, dtype code, element size, padding, 4 float and 12
#: integer parameters, little-endian; checked against the library's size when it loads.
PACKED_FORMAT = "<iiii4d12Q"
#: Below this many elements per thread, splitting costs more than it saves.
MIN_CHUNK = 1 << 14
#: Ask for transparent huge pages on outputs of 4 MiB and more before filling them
#: (benchmarks/fresh.py measures fresh outputs with and without).
HUGEPAGE_ADVICE = True


def _load() -> ctypes.CDLL | None:
    here = pathlib.Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_kscore{suffix}"
        if path.exists():
            lib = ctypes.CDLL(str(path))
            lib.ks_fill.restype = ctypes.c_int
            u64 = ctypes.c_uint64
            lib.ks_fill.argtypes = [
                ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64,
                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                ctypes.c_void_p, u64, u64, u64, ctypes.c_void_p,
            ]
            lib.ks_permute_indices.restype = None
            lib.ks_permute_indices.argtypes = [u64, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                               ctypes.c_void_p, ctypes.c_int]
            lib.ks_permute_v2_indices.restype = None
            lib.ks_permute_v2_indices.argtypes = [u64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, u64,
                                                  ctypes.c_int64, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
            lib.ks_perm_sort.restype = ctypes.c_int
            lib.ks_perm_sort.argtypes = [ctypes.c_uint32, ctypes.c_uint32, u64, ctypes.c_int64, ctypes.c_void_p]
            lib.ks_perm_v2_tables.restype = None
            lib.ks_perm_v2_tables.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p]
            lib.ks_exact_sums.restype = ctypes.c_int64
            lib.ks_exact_sums.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p,
                                          ctypes.c_void_p]
            lib.ks_count_in_ball.restype = ctypes.c_int64
            lib.ks_count_in_ball.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, ctypes.c_int, u64,
                                             u64]
            lib.ks_multinomial.restype = ctypes.c_int
            lib.ks_multinomial.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, ctypes.c_void_p,
                                           ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int,
                                           ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
            param: list[Any] = [ctypes.c_void_p, ctypes.c_int, u64]  # values, float32?, step
            lib.ks_gamma.restype = None
            lib.ks_gamma.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, u64, *param,
                                     ctypes.c_double, ctypes.c_double, *param, *param, ctypes.c_int64,
                                     ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
            lib.ks_gamma_rows.restype = None
            lib.ks_gamma_rows.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int]
            lib.ks_poisson.restype = None
            lib.ks_poisson.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, *param, ctypes.c_int64,
                                       ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
            lib.ks_binomial.restype = None
            lib.ks_binomial.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, *param, *param,
                                        ctypes.c_int64, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
            lib.ks_sample.restype = ctypes.c_int
            lib.ks_sample.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.c_void_p]
            lib.ks_dropout.restype = None
            lib.ks_dropout.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, u64, u64, u64, u64,
                                       ctypes.c_double, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
            lib.ks_bernoulli_p.restype = None
            lib.ks_bernoulli_p.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, ctypes.c_void_p,
                                           ctypes.c_int, u64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int]
            lib.ks_augment_words.restype = None
            lib.ks_augment_words.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, u64, ctypes.c_void_p,
                                             ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
            lib.ks_limbs.restype = ctypes.c_int
            lib.ks_limbs.argtypes = []
            if lib.ks_limbs() != LIMBS:  # a stale build of another version
                raise OSError(f"{path.name} has {lib.ks_limbs()} accumulator limbs, expected {LIMBS}")
            lib.ks_packed_size.restype = ctypes.c_int
            lib.ks_packed_size.argtypes = []
            if lib.ks_packed_size() != struct.calcsize(PACKED_FORMAT):  # keystream.h's ks_packed_t
                raise OSError(f"{path.name} packs a draw's parameters in {lib.ks_packed_size()} bytes, "
                              f"expected {struct.calcsize(PACKED_FORMAT)}")
            lib.ks_advise_hugepages.restype = None
            lib.ks_advise_hugepages.argtypes = [ctypes.c_void_p, u64]
            lib.ks_philox.restype = None
            lib.ks_philox.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            return lib
    return None


try:  # the C code as a Python module: the calls small draws and key derivation make (pymod.c)
    from . import _native as _NATIVE  # type: ignore[attr-defined]  # (compiled)
except ImportError:
    _NATIVE = None
else:
    use_compiled_derive(_NATIVE.derive)

try:
    _LIB = _load()
    _LOAD_ERROR = None if _LIB is not None else "the compiled library _kscore was not built"
except (OSError, AttributeError) as err:  # a broken build, or a stale one missing a symbol
    _LIB, _LOAD_ERROR = None, f"{err} (rebuild: pip install -e .)"

_warned = False


def parts(n: int) -> int:
    """How many threads to split ``n`` elements over."""
    return max(1, min(torch.get_num_threads(), n // MIN_CHUNK))


def warn_if_unavailable() -> None:
    """Warn once that CPU draws fall back to the portable engine."""
    global _warned
    if _LIB is None and not _warned:
        _warned = True
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


def augment_words(parent: tuple[int, int], tag_hash: int, idx: Any, nwords: int) -> Any:
    """``keystream.data``'s per-sample word table (``_augment.augment_words``) with the C kernel:
    uint32 [len(idx), nwords] from a contiguous uint64 numpy ``idx``; None without the library."""
    if _LIB is None:
        return None
    import numpy as np

    out = np.empty((idx.size, nwords), dtype=np.uint32)
    _LIB.ks_augment_words(parts(idx.size * (nwords + 8) // 4), parent[0], parent[1], tag_hash, idx.ctypes.data,
                          idx.size, nwords, out.ctypes.data)
    return out


def permute_indices(idx: torch.Tensor, n: int, keys: tuple[int, ...]) -> torch.Tensor | None:
    """``pi(idx)`` with the C kernel (None when the library is not loaded)."""
    if _LIB is None:
        return None
    src = idx.to(device="cpu", dtype=torch.int64).contiguous()
    out = torch.empty_like(src)
    k = (ctypes.c_uint64 * 8)(*keys)
    _LIB.ks_permute_indices(n, half_bits(n), k, src.data_ptr(), src.numel(), out.data_ptr(),
                            parts(src.numel() // 4))  # a Feistel index costs about 4 uniforms
    return out



#: Round tables (ks_perm_v2_tables) are made for domains of at most 2^(2 TABLE_HALF_BITS)
#: (10 tables of 2^16 words: 2.5 MiB) and lookups of at least TABLE_MIN_COUNT indices: they
#: cost 10 2^a / 4 blocks, a lookup without them 10 blocks (and under 2 walks) an index.
TABLE_HALF_BITS = 16
TABLE_MIN_COUNT = 1 << 14


def perm_v2_tables(n: int, pkey: tuple[int, int]) -> torch.Tensor | None:
    """Stream version 2's Feistel round functions as tables (the same values), or None where
    the domain is too large for them or the C library is missing."""
    k = (n - 1).bit_length()
    a = (k + 1) // 2
    if _LIB is None or a > TABLE_HALF_BITS:
        return None
    tab = torch.empty(u32("PERM_V2_ROUNDS") << a, dtype=torch.int32)
    _LIB.ks_perm_v2_tables(pkey[0], pkey[1], k, tab.data_ptr())
    return tab


def permute_indices_v2(idx: torch.Tensor | None, n: int, pkey: tuple[int, int], tables: torch.Tensor | None = None,
                       first: int = 0, count: int = 0, out: torch.Tensor | None = None) -> torch.Tensor | None:
    """Stream version 2's ``pi`` for ``n > 2^16`` with the C kernel (None without it): of the
    int64 indices ``idx``, or (``idx`` None) of ``first .. first + count - 1`` into ``out``
    (a contiguous integer tensor, default int64); with the round ``tables`` when given."""
    if _LIB is None:
        return None
    src = None if idx is None else idx.to(device="cpu", dtype=torch.int64).contiguous()
    total = count if src is None else src.numel()
    if out is None:
        out = torch.empty(total, dtype=torch.int64)
    if tables is None and total >= TABLE_MIN_COUNT:
        tables = perm_v2_tables(n, pkey)
    k = (ctypes.c_uint64 * 2)(*pkey)
    cost = 2 if tables is not None else 10  # blocks (or table rounds) an index costs, about
    _LIB.ks_permute_v2_indices(n, k, None if tables is None else tables.data_ptr(),
                               None if src is None else src.data_ptr(), first, total, out.data_ptr(),
                               out.element_size(), parts(total * cost))
    return out


def exact_sum_limbs(x: torch.Tensor) -> tuple[list[int], list[int], int] | None:
    """Limbs of the exact sums of float64 ``x`` and of ``x * x``, and the count of
    non-finite values; None without the C library.  ``x.numel()`` must be < 2^28."""
    if _LIB is None:
        return None
    src = x.to(device="cpu", dtype=torch.float64).contiguous().reshape(-1)
    limbs = (ctypes.c_int64 * (2 * LIMBS))()
    bad = int(_LIB.ks_exact_sums(src.data_ptr(), src.numel(), parts(src.numel()), limbs,
                                 ctypes.byref(limbs, 8 * LIMBS)))
    if bad < 0:
        raise MemoryError("keystream: no memory for the exact accumulators")
    return list(limbs[:LIMBS]), list(limbs[LIMBS:]), bad


#: Samples per row the C kernel keeps without replacement (KS_MULT_MAX_N in multinomial.c).
MULTINOMIAL_MAX_N = 64


def multinomial(out: torch.Tensor, key: tuple[int, int], offset: int, weights: torch.Tensor, n: int,
                replacement: bool, k: int, version: int = 1) -> int:
    """``keystream.multinomial`` with the C kernel (any n with replacement, at most
    MULTINOMIAL_MAX_N without), checking the weights as it reads them: 0, or 1 (a negative,
    NaN or inf weight), 2 (a row with too few weights > 0; then ``out`` is incomplete)."""
    assert _LIB is not None and (replacement or n <= MULTINOMIAL_MAX_N)
    rows, cats = weights.shape
    status = int(_LIB.ks_multinomial(parts(rows * (cats + n)), key[0], key[1], offset, weights.data_ptr(),
                                     int(weights.dtype == torch.float32), rows, cats, n, int(replacement), k,
                                     out.data_ptr(), version))
    if status < 0:
        raise MemoryError("keystream: no memory for multinomial's row buffers")
    return status


def standard_gamma(out: torch.Tensor, key: tuple[int, int], z_offset: int, e_offset: int,
                   alpha: torch.Tensor, version: int = 1, alpha_scale: float = 1.0, mult: float = 1.0,
                   rate: torch.Tensor | None = None, numer: torch.Tensor | None = None,
                   log_out: torch.Tensor | None = None) -> None:
    """``keystream.standard_gamma`` with the C kernel, as ``Engine.standard_gamma``."""
    assert _LIB is not None
    n = out.numel()
    r = _param(rate) if rate is not None else (None, 0, 0)
    x = _param(numer) if numer is not None else (None, 0, 0)
    _LIB.ks_gamma(parts(n * 8), key[0], key[1], z_offset, e_offset, *_param(alpha), alpha_scale, mult, *r, *x, n,
                  out.data_ptr(), int(out.dtype == torch.float32), version,
                  None if log_out is None else log_out.data_ptr())


#: ks_bernoulli_p's output kinds: bytes of 0 or 1 (bool, uint8), float32, float64.
_BERNOULLI_OUT = {torch.bool: 0, torch.uint8: 0, torch.float32: 1, torch.float64: 2}


def _param(p: torch.Tensor) -> tuple[int, int, int]:
    """A kernel's parameter: pointer, float32 flag, step (0: one value for all)."""
    return p.data_ptr(), int(p.dtype == torch.float32), int(p.numel() > 1)


def poisson(out: torch.Tensor, key: tuple[int, int], offset: int, rate: torch.Tensor, version: int = 1) -> None:
    """``keystream.poisson`` with the C kernel into contiguous float32 or float64 ``out`` from
    contiguous float32 or float64 ``rate`` (``out``'s numel, or one value)."""
    assert _LIB is not None
    n = out.numel()
    _LIB.ks_poisson(parts(n * _COUNT_COST), key[0], key[1], offset, *_param(rate), n, out.data_ptr(),
                    int(out.dtype == torch.float32), version)


def binomial(out: torch.Tensor, key: tuple[int, int], offset: int, count: torch.Tensor, prob: torch.Tensor,
             version: int = 1) -> None:
    """``keystream.binomial`` with the C kernel, as :func:`poisson`."""
    assert _LIB is not None
    n = out.numel()
    _LIB.ks_binomial(parts(n * _COUNT_COST), key[0], key[1], offset, *_param(count), *_param(prob), n,
                     out.data_ptr(), int(out.dtype == torch.float32), version)


def sample_tokens(logits: torch.Tensor, keys: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor | None,
                  top_p: torch.Tensor | None, min_p: torch.Tensor | None) -> torch.Tensor:
    """``keystream.sampling.sample`` with the C kernel (rows on the pool's threads)."""
    assert _LIB is not None
    rows, vocab = logits.shape
    out = torch.empty(rows, dtype=torch.int64)
    args = [t.contiguous() if t is not None else None for t in (logits, keys, temperature, top_k, top_p, min_p)]
    ptrs = [t.data_ptr() if t is not None else None for t in args]
    threads = max(1, min(torch.get_num_threads(), rows, (rows * vocab) // MIN_CHUNK))
    if _LIB.ks_sample(threads, ptrs[0], rows, vocab, *ptrs[1:], out.data_ptr()) < 0:
        raise MemoryError("keystream: no memory for the sampler's row buffers")
    return out


def count_in_ball(key: tuple[int, int], offset: int, dims: int, s0: int, s1: int) -> int | None:
    """Samples ``[s0, s1)`` of ``rand((n, dims), float32)`` from (key, offset) whose
    squared norm, summed left to right in float32, is below 1 (``montecarlo.InBall``);
    None without the C library."""
    if _LIB is None:
        return None
    count = int(_LIB.ks_count_in_ball(parts((s1 - s0) * dims), key[0], key[1], offset, dims, s0, s1))
    if count < 0:
        raise MemoryError("keystream: ks_count_in_ball failed")
    return count


#: Work per element, in uniforms, where it is more than one (it sets the thread count): a
#: Feistel index costs about 4, a truncated normal 16 normals.
_COST = {"randperm": 4, "trunc_normal": 16, "trunc_normal_v2": 4}
#: A Poisson or binomial element costs about as many uniforms as this (a block and a log or
#: two, or a short inversion loop).
_COUNT_COST = 16

#: The outer-dimension arrays of a draw without outer dimensions (read only by C).
_NO_OUTER = (ctypes.c_uint64 * 1)()


@functools.lru_cache(maxsize=256)
def _param_arrays(kind: str, dtype: torch.dtype, params: tuple, signs: tuple) -> tuple:  # type: ignore[type-arg]
    """(kind code, dtype code, float and integer parameter arrays) of ``ks_fill`` for a
    draw's parameters; cached, as the same few recur (the C code only reads them;
    ``signs`` keeps -0.0 and 0.0 apart in the cache)."""
    fp = (ctypes.c_double * 4)()
    ip = (ctypes.c_uint64 * 12)()
    row = kernel_kind(kind, dtype)
    if row.name not in CpuEngine.kernel_kinds:
        raise ValueError(f"the C engine has no kernel for {kind} at {dtype}")
    code = row.code
    if kind in ("uniform", "normal", "exponential", "trunc_normal", "cauchy", "laplace", "gumbel", "log_normal",
                "geometric", "uniform_v2"):
        for i, v in enumerate(params):
            fp[i] = float(v)
    elif kind == "randint":
        low, span = params
        ip[0], ip[1] = low % (1 << 64), span - 1
    elif kind == "randperm_v2":  # (whole small permutations only: ks_fill_small)
        ip[0] = params[0]
    elif kind == "bernoulli":
        ip[0] = params[0]
        ip[1] = _ONE_BITS.get(dtype, 1)
    elif kind == "trunc_normal_v2":  # nine float64 parameters: their bit patterns
        for i, v in enumerate(params):
            ip[i] = struct.unpack("<Q", struct.pack("<d", float(v)))[0]
    return code, DTYPE_CODES.get(dtype, 0), fp, ip


def pack_params(kind: str, dtype: torch.dtype, params: tuple[Any, ...]) -> tuple[bytes, int] | None:
    """A draw's kernel parameters as ``_native.fill`` reads them (keystream.h's ks_packed_t) and its
    elements per block (a whole small permutation: n, in its one key block), for the small
    draws' paths; None without the C module."""
    if _NATIVE is None or _LIB is None:
        return None
    from .._core._kinds import layout

    code, dcode, fp, ip = _param_arrays(kind, dtype, params, zero_signs(params))
    packed = struct.pack(PACKED_FORMAT, code, dcode, dtype.itemsize, 0, *fp, *ip)
    return packed, (params[0] if kind == "randperm_v2" else layout(kind, dtype)[0])  # (a permutation: one block)


class CpuEngine(Engine):
    """Compiled C11 kernels on CPU tensors; the default CPU engine when built."""

    name = "cpu"
    #: The kinds ks_fill has kernels for (fill.c: compute_batch; permutation.c: fill_perm).  A new
    #: row of the table is not here until the C code computes it: the portable engine serves it.
    kernel_kinds = frozenset({"bits32", "bits64", "uniform", "normal", "exponential", "randint", "bernoulli",
                              "randperm", "trunc_normal", "cauchy", "laplace", "gumbel", "log_normal", "geometric",
                              "randperm_v2", "uniform_v2", "trunc_normal_v2"})

    def available(self) -> bool:
        return _LIB is not None

    def supports(self, device: torch.device) -> bool:
        return device.type == "cpu"

    def exact_sum_limbs(self, x: torch.Tensor) -> tuple[list[int], list[int], int] | None:
        return exact_sum_limbs(x)

    def permute_indices(self, idx: torch.Tensor, n: int, keys: tuple[int, ...]) -> torch.Tensor | None:
        return permute_indices(idx, n, keys)

    def permute_indices_v2(self, idx: torch.Tensor, n: int, pkey: tuple[int, int],
                           tables: Any = None) -> torch.Tensor | None:
        return permute_indices_v2(idx, n, pkey, tables) if n > SORT_MAX else None

    def permutation_tables(self, n: int, pkey: tuple[int, int]) -> Any:
        return perm_v2_tables(n, pkey) if n > SORT_MAX else None

    composite_versions = frozenset({1, 2})

    def has_standard_gamma(self) -> bool:
        return _LIB is not None

    def standard_gamma(self, out: torch.Tensor, key: tuple[int, int], z_offset: int, e_offset: int,
                       alpha: torch.Tensor, version: int = 1, alpha_scale: float = 1.0, mult: float = 1.0,
                       rate: torch.Tensor | None = None, numer: torch.Tensor | None = None,
                       log_out: torch.Tensor | None = None) -> None:
        standard_gamma(out, key, z_offset, e_offset, alpha, version, alpha_scale, mult, rate, numer, log_out)

    def has_standard_gamma_log(self) -> bool:
        return _LIB is not None

    def sample_tokens(self, logits: torch.Tensor, keys: torch.Tensor, temperature: torch.Tensor,
                      top_k: torch.Tensor | None, top_p: torch.Tensor | None,
                      min_p: torch.Tensor | None) -> torch.Tensor | None:
        if _LIB is None or logits.dtype != torch.float32:
            return None
        return sample_tokens(logits, keys, temperature, top_k, top_p, min_p)

    def has_counts(self) -> bool:
        return _LIB is not None

    def dropout(self, out: torch.Tensor, x: torch.Tensor, key: tuple[int, int], e0: int, inner: int, threshold: int,
                scale: float) -> bool:
        if _LIB is None or x.dtype not in (torch.float32, torch.float64):
            return False
        n = x.numel()
        _LIB.ks_dropout(parts(n), key[0], key[1], 0, e0, n // inner, inner, threshold, scale,
                        int(x.dtype == torch.float64), x.data_ptr(), out.data_ptr())
        return True

    def bernoulli_p(self, out: torch.Tensor, key: tuple[int, int], offset: int, p: torch.Tensor) -> bool:
        kind = _BERNOULLI_OUT.get(out.dtype)
        if _LIB is None or kind is None or p.dtype not in (torch.float32, torch.float64):
            return False
        n = out.numel()
        _LIB.ks_bernoulli_p(parts(n), key[0], key[1], offset, *_param(p), n, out.data_ptr(), kind)
        return True

    def gamma_rows(self, x: torch.Tensor, lx: torch.Tensor | None, params: torch.Tensor,
                   beta: bool) -> torch.Tensor | None:
        if _LIB is None or params.dtype not in (torch.float32, torch.float64):
            return None
        rows, k = x.shape
        # Dirichlet's values replace the logs (or the Gammas): each row reads only its own
        out = x.new_empty(rows) if beta else (lx if lx is not None else x)
        _LIB.ks_gamma_rows(parts(x.numel() * 2), x.data_ptr(), None if lx is None else lx.data_ptr(),
                           params.data_ptr(), int(params.dtype == torch.float32), rows, k, out.data_ptr(), int(beta))
        return out

    def poisson(self, out: torch.Tensor, key: tuple[int, int], offset: int, rate: torch.Tensor,
                version: int = 1) -> None:
        poisson(out, key, offset, rate, version)

    def binomial(self, out: torch.Tensor, key: tuple[int, int], offset: int, count: torch.Tensor,
                 prob: torch.Tensor, version: int = 1) -> None:
        binomial(out, key, offset, count, prob, version)

    def has_multinomial(self, n: int, replacement: bool) -> bool:
        return _LIB is not None and (replacement or n <= MULTINOMIAL_MAX_N)

    def multinomial(self, out: torch.Tensor, key: tuple[int, int], offset: int, weights: torch.Tensor, n: int,
                    replacement: bool, k: int, version: int = 1) -> int:
        return multinomial(out, key, offset, weights, n, replacement, k, version)

    def count_in_ball(self, key: tuple[int, int], offset: int, dims: int, s0: int, s1: int,
                      device: torch.device) -> torch.Tensor | None:
        count = count_in_ball(key, offset, dims, s0, s1)
        return None if count is None else torch.tensor(count, dtype=torch.int64)

    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        assert _LIB is not None and out.is_contiguous()
        if spec.out_numel == 0:
            return
        kind, dtype = spec.kind, spec.dtype
        if kind == "randperm_v2":  # the Feistel lookups of the region's indices; small n sort
            (n,) = spec.params
            if n <= SORT_MAX:  # the order of n 64-bit keys (ks_perm_sort)
                whole = spec.is_full and out.dtype == torch.int64
                order = out if whole else torch.empty(n, dtype=torch.int64)
                if _LIB.ks_perm_sort(spec.key[0], spec.key[1], spec.offset, n, order.data_ptr()) != 0:
                    raise MemoryError(f"randperm({n}): no memory for the sort")
                if not whole:
                    out.copy_(order[tuple(slice(a, b) for a, b in spec.region)])
                return
            flat = spec.contiguous_range()
            pkey = permutation_key(spec.key, spec.offset)
            if flat is not None:  # straight into out, whatever its integer width
                permute_indices_v2(None, n, pkey, first=flat[0], count=spec.out_numel, out=out.view(-1))
            else:
                flat_index = _region_indices(spec, torch.device("cpu")).reshape(-1)
                out.view(-1).copy_(permute_indices_v2(flat_index, n, pkey))  # type: ignore[arg-type]
            return
        if kind == "randperm":
            code, dcode, fp, ip = kernel_kind(kind, dtype).code, 0, (ctypes.c_double * 4)(), (ctypes.c_uint64 * 12)()
            (n,) = spec.params
            ip[0], ip[1] = n, half_bits(n)
            for i, k in enumerate(feistel_keys(spec.key, spec.offset)):
                ip[2 + i] = k
        else:
            code, dcode, fp, ip = _param_arrays(kind, dtype, spec.params, zero_signs(spec.params))
        outer, run_offset, run = spec.runs()
        n_outer = len(outer)
        if n_outer:
            ostart = (ctypes.c_uint64 * n_outer)(*[o[0] for o in outer])
            ocount = (ctypes.c_uint64 * n_outer)(*[o[1] for o in outer])
            ostride = (ctypes.c_uint64 * n_outer)(*[o[2] for o in outer])
        else:
            ostart = ocount = ostride = _NO_OUTER
        size = out.element_size()
        total = spec.out_numel
        if HUGEPAGE_ADVICE and total * size >= 4 << 20:
            _LIB.ks_advise_hugepages(out.data_ptr(), total * size)
        work = total * _COST.get(kind, 1)
        _LIB.ks_fill(parts(work), code, dcode, size, spec.key[0], spec.key[1], spec.offset, fp, ip, n_outer,
                     ostart, ocount, ostride, run_offset, run, total, out.data_ptr())
