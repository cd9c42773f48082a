"""The GPU engine: Triton kernels, bit-identical to the reference (docs/spec.md).

Kernels are launched with ``enable_fp_fusion=False`` (no FMA contraction) and use
``div_rn`` / ``sqrt_rn``; every constant comes from the one table
(``_constants.TABLE``) as a bit pattern.  Results never depend on ``BLOCK`` or
the grid: each output element is computed from its own flat index.

Two layouts of work, same bits:

* contiguous draws (the common case): one lane per Philox *block*, whose 4 (or
  2) elements are stored with one vector store (NOTE [ vector stores ] in
  ``_triton_kernels.py``);
* regions of several runs (``spec.runs()``): one lane per Philox block of each
  run, which stores the elements of its block that lie in the run.

The same kernels run in Triton's CPU interpreter (``TRITON_INTERPRET=1``) on CPU
tensors; the test suite checks them there against the reference.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from .._core._kinds import DTYPE_CODES, KERNEL_KINDS, elements_per_block, kernel_kind
from .._core._math.feistel import feistel_keys, half_bits
from .._core._math.torch_forms import sqrt_f64
from .._core._spec import DrawSpec, zero_signs
from .._core._warnings import KeystreamWarning
from ._base import Engine

__all__ = ["CONTIGUOUS_SHAPES", "MIN_TRITON", "TritonEngine", "count_in_ball", "exact_sum_limbs",
           "triton_available", "unavailable_reason", "warn_if_too_old"]

triton = None  # imported on first use: importing triton costs about a second
_IMPORT_ERROR: str | None = None

#: The kernel kinds the draw kernels compute (``values`` and ``store`` in _triton_kernels.py),
#: with their codes from the one table (_kinds.py); randperm has a kernel of its own.  A new
#: row of the table is not here until the kernels compute it: the portable engine serves it.
KINDS = {k.name: k.code for k in KERNEL_KINDS
         if k.name in ("bits32", "bits64", "uniform", "normal", "exponential", "randint", "bernoulli", "cauchy",
                       "laplace", "gumbel", "log_normal", "geometric", "uniform_v2")}
DTYPES = DTYPE_CODES
MAX_OUTER = 3
#: Lanes per program of the kernels whose lanes hold more state (a region's run
#: arithmetic, InBall's per-sample loop): sm_90 code (tools/gpu_sass.py) at 1024 lanes
#: took 142-150 registers a thread, at 256 lanes 38-60.
STATEFUL_BLOCK = 256
_lock = threading.Lock()


#: The oldest Triton the kernels are checked with (tests compile every launch for sm_90
#: with Triton 3.6 and 3.9, and run the kernels in their interpreters).  Triton 3.4 and
#: 3.5 cannot compile a kernel whose scalar arguments are unspecialised (an internal
#: "block_argument has no attribute dtype"), and older interpreters lack operations the
#: kernels use.  With an older Triton (torch before 2.10), CUDA draws run on the
#: portable engine: the same numbers, slower; ``warn_if_too_old`` says so once.
MIN_TRITON = (3, 6)
_too_old = False
_warned = False


def _version(text: str) -> tuple[int, int]:
    major, minor = (text.split("+")[0].split(".") + ["0"])[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def triton_available() -> bool:
    """Whether a Triton the kernels support imports (it ships with CUDA builds of torch);
    imported once, lazily.  ``unavailable_reason()`` says why not."""
    global triton, _IMPORT_ERROR, _too_old
    if triton is None and _IMPORT_ERROR is None:
        try:
            import triton as _triton_module
        except Exception as err:  # noqa: BLE001 - any failure means: no Triton engine
            _IMPORT_ERROR = f"triton does not import: {type(err).__name__}: {err}"
        else:
            version = getattr(_triton_module, "__version__", "0.0")
            if _version(version) < MIN_TRITON:
                _too_old = True
                _IMPORT_ERROR = (f"triton {version} is older than {'.'.join(map(str, MIN_TRITON))}, the oldest "
                                 "keystream's GPU kernels are checked with")
            else:
                triton = _triton_module
    return triton is not None


def unavailable_reason() -> str | None:
    """Why the Triton engines cannot run here (None when they can)."""
    return None if triton_available() else _IMPORT_ERROR


def warn_if_too_old() -> None:
    """Warn once that CUDA draws fall back to the portable engine because the installed
    Triton is older than ``MIN_TRITON`` (not when there is no Triton at all: then torch
    has no CUDA build with it, and the portable engine is simply the engine)."""
    global _warned
    if not triton_available() and _too_old and not _warned:
        _warned = True
        warnings.warn(f"keystream: {_IMPORT_ERROR}; CUDA draws use the portable engine (the same numbers, "
                      "slower)", KeystreamWarning, stacklevel=4)


@functools.lru_cache(maxsize=2)
def kernels(interpret: bool):  # type: ignore[no-untyped-def]
    """The kernel module, compiled for the GPU or for Triton's CPU interpreter.

    Triton decides at decoration time whether a function is interpreted, so the
    module is imported under a separate name for each mode, with TRITON_INTERPRET
    set accordingly while it is imported.
    """
    import importlib.util
    import pathlib

    if not triton_available():
        raise RuntimeError(f"the Triton engine cannot run here: {_IMPORT_ERROR}")
    path = pathlib.Path(__file__).with_name("_triton_kernels.py")
    name = f"keystream._engines._triton_kernels_{'interpreted' if interpret else 'compiled'}"
    with _lock:
        previous = os.environ.get("TRITON_INTERPRET")
        os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        finally:
            if previous is None:
                os.environ.pop("TRITON_INTERPRET", None)
            else:
                os.environ["TRITON_INTERPRET"] = previous
    return vars(module)


_base_local = threading.local()


def _device_base() -> torch.Tensor | None:
    return getattr(_base_local, "tensor", None)


@contextlib.contextmanager
def _device_offset(base: torch.Tensor) -> Iterator[None]:
    previous = _device_base()
    _base_local.tensor = base
    try:
        yield
    finally:
        _base_local.tensor = previous


def _cdiv(a: int, b: int) -> int:
    """ceil(a / b) for the grid sizes (triton.cdiv, without needing the module here)."""
    return -(-a // b)


def _run_kernel(kernel, grid, *args, interpret: bool, num_warps: int = 4, **meta):  # type: ignore[no-untyped-def]
    """Run a kernel: compiled for the GPU without FMA contraction, or in the interpreter
    (where numpy's warnings about values a kernel then discards or flags are silenced)."""
    if interpret:
        import numpy as np

        with np.errstate(all="ignore"):
            kernel[grid](*args, **meta)
    else:
        with _on_device_of(args):
            kernel[grid](*args, **meta, num_warps=num_warps, enable_fp_fusion=False)


def _on_device_of(args: tuple) -> contextlib.AbstractContextManager:  # type: ignore[type-arg]
    """The CUDA device of the launch's first tensor, made current for the launch when it
    is not: Triton launches on the current device and its stream (torch ops switch
    devices themselves), so ``randn(..., device="cuda:1")`` with device 0 current would
    otherwise run device 0's kernel on device 1's memory."""
    for a in args:
        if isinstance(a, torch.Tensor):
            if a.device.type == "cuda" and a.device.index != torch.cuda.current_device():
                return torch.cuda.device(a.device)
            break
    return contextlib.nullcontext()


def _f32_bits(x: float) -> int:
    import struct

    return struct.unpack("<I", struct.pack("<f", x))[0]


def _f64_bits(x: float) -> int:
    import struct

    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _standard_params(kind: str, params: tuple) -> bool:  # type: ignore[type-arg]
    """Whether a uniform / normal / exponential draw has the standard parameters, whose
    arithmetic the kernels skip (``values``' UNIT: the same bits, fewer instructions):
    uniform on [0, 1) with low = +0.0, normal with mean 0 and std 1, exponential with
    lambd 1."""
    if kind == "uniform":
        return tuple(params[:3]) == (0.0, 1.0, 1.0) and math.copysign(1.0, params[0]) > 0
    if kind == "normal":
        return tuple(params[:2]) == (0.0, 1.0)  # -0.0 + y = y too: y is never zero
    if kind == "exponential":
        return params[0] == 1.0
    return False


#: Launch shapes (Philox blocks per program, warps per program) of contiguous draws
#: that run faster than the engine's default shape, by (kind, dtype): filled from the
#: sweep of ``benchmarks/gpu.py --sweep`` on a GPU, which prints this table.  Results
#: never depend on a shape (tests draw with several), so tuning here is always safe.
CONTIGUOUS_SHAPES: dict[tuple[str, torch.dtype], tuple[int, int]] = {}


class TritonEngine(Engine):
    """Triton kernels: the default engine for CUDA tensors.

    Args:
        interpret: run in Triton's CPU interpreter on CPU tensors (for tests on
            machines without a GPU) instead of compiling for the GPU.
        block: Philox blocks (contiguous draws) or elements (other kernels) per program.
        num_warps: warps per program on the GPU.
        shapes: (block, num_warps) of contiguous draws by (kind, dtype), over the two
            above; default ``CONTIGUOUS_SHAPES``.
    """

    #: Draws of this many (padded) elements or more use 64-bit positions in the kernel
    #: (a class attribute so that tests can take the wide path on small sizes).
    WIDE_FROM = 1 << 31
    #: The draw kernels' kinds, and randperm's own kernel.
    kernel_kinds = frozenset(KINDS) | {"randperm", "trunc_normal"}

    def __init__(self, interpret: bool = False, block: int = 1024, num_warps: int = 4,
                 shapes: dict[tuple[str, torch.dtype], tuple[int, int]] | None = None) -> None:
        self.interpret = interpret
        # Launch shape (Philox blocks per program, warps per program): results never
        # depend on it (tests run several), so it may be tuned per device freely;
        # `benchmarks/gpu.py --sweep` times the choices.
        self.block = block
        self.num_warps = num_warps
        self.shapes = dict(CONTIGUOUS_SHAPES if shapes is None else shapes)
        self.name = "triton-interpreter" if interpret else "triton"

    def available(self) -> bool:
        if not self.interpret and not torch.cuda.is_available():
            return False
        return triton_available()

    def supports(self, device: torch.device) -> bool:
        return device.type == ("cpu" if self.interpret else "cuda")

    def _launch(self, kernel, grid, *args, num_warps: int | None = None, **meta):  # type: ignore[no-untyped-def]
        _run_kernel(kernel, grid, *args, interpret=self.interpret, num_warps=num_warps or self.num_warps, **meta)

    @staticmethod
    def device_offset(base: torch.Tensor) -> contextlib.AbstractContextManager:  # type: ignore[type-arg]
        """While open (in this thread), :meth:`fill` adds the int64 block offset held in ``base``
        (a one-element tensor on the output's device) to each spec's offset when the kernel runs:
        keystream.graph_safe's draws, which a captured CUDA graph replays with new numbers."""
        return _device_offset(base)

    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        if spec.out_numel == 0:
            return
        if _device_base() is not None and (spec.kind in ("randperm", "trunc_normal") or (
                spec.contiguous_range() is None and len(spec.runs()[0]) > MAX_OUTER)):
            raise RuntimeError(f"keystream.graph_safe: {spec.kind} draws (and regions over more than "
                               f"{MAX_OUTER + 1} dimensions) read their offset on the host; draw them outside")
        if spec.kind == "randperm":
            self._randperm(out, spec)
            return
        run = spec.contiguous_range()
        if spec.kind == "trunc_normal":
            if run is None:  # a region of several runs: rare for an initialiser's draw
                from ._portable import PortableEngine

                PortableEngine().fill(out, spec)
            else:
                self._trunc_normal(out, spec, run)
            return
        if run is not None:
            self._contiguous(*_draw_args(out, spec), spec, run)
            return
        runs = spec.runs()
        if len(runs[0]) > MAX_OUTER:
            from ._portable import PortableEngine

            PortableEngine().fill(out, spec)  # regions over more than MAX_OUTER + 1 dimensions: rare
            return
        self._runs(*_draw_args(out, spec), spec, runs)

    def _contiguous(self, target, params, meta, spec, run):  # type: ignore[no-untyped-def]
        """Elements [e0, e1) of the draw: ``draw_contiguous``, one lane per Philox block."""
        ks, k = kernels(self.interpret), meta["K"]
        e0, e1 = run
        total = e1 - e0
        first, head = divmod(e0, k)
        nblocks = (e1 - 1) // k - first + 1
        block, warps = self.shapes.get((spec.kind, spec.dtype), (self.block, self.num_warps))
        grid = (_cdiv(nblocks, block),)
        base = (spec.offset + first) % (1 << 64)
        wide = grid[0] * block * k >= self.WIDE_FROM  # positions beyond int32
        dev = _device_base()
        self._launch(ks["draw_contiguous"], grid, target, target if dev is None else dev, *spec.key, base & 0xFFFFFFFF,
                     base >> 32, *params, total, (total + head) // k, **meta, HEAD=head, WIDE=wide,
                     DEVICE_BASE=dev is not None, BLOCK=block, num_warps=warps)

    def _runs(self, target, params, meta, spec, runs):  # type: ignore[no-untyped-def]
        """A region of several runs (``runs`` = ``spec.runs()``): ``draw_scattered``."""
        ks, k = kernels(self.interpret), meta["K"]
        outer, run_off, run_len = runs
        real_outer = len(outer)
        outer = [(0, 1, 0)] * (MAX_OUTER - real_outer) + outer
        runs = spec.out_numel // run_len
        lanes_per_run = (run_len + 2 * k - 2) // k
        block = min(self.block, STATEFUL_BLOCK)
        grid = (_cdiv(runs * lanes_per_run, block),)
        wide = grid[0] * block >= self.WIDE_FROM
        dev = _device_base()
        self._launch(ks["draw_scattered"], grid, target, target if dev is None else dev, *spec.key,
                     spec.offset & 0xFFFFFFFF, spec.offset >> 32, *params, runs, run_len, lanes_per_run, run_off,
                     *[x for o in outer for x in o], **meta, OUTER=real_outer, WIDE=wide,
                     DEVICE_BASE=dev is not None, BLOCK=block)

    def exact_sum_limbs(self, x: torch.Tensor) -> tuple[list[int], list[int], int] | None:
        return exact_sum_limbs(x, interpret=self.interpret)

    def count_in_ball(self, key: tuple[int, int], offset: int, dims: int, s0: int, s1: int,
                      device: torch.device) -> torch.Tensor | None:
        return count_in_ball(key, offset, dims, s0, s1, device, interpret=self.interpret)

    def has_standard_gamma(self) -> bool:
        return True

    def standard_gamma(self, out: torch.Tensor, key: tuple[int, int], z_offset: int, e_offset: int,
                       alpha: torch.Tensor, version: int = 1, alpha_scale: float = 1.0, mult: float = 1.0,
                       rate: torch.Tensor | None = None, numer: torch.Tensor | None = None,
                       log_out: torch.Tensor | None = None) -> None:
        assert log_out is None  # (has_standard_gamma_log: False)
        n = out.numel()
        # the kernel reads float64 alphas and writes float64 values: the scalings as torch ops
        a = (alpha.to(torch.float64) * alpha_scale).expand(n).contiguous()
        plain = alpha_scale == 1.0 and mult == 1.0 and rate is None and numer is None
        values = out if out.dtype == torch.float64 and plain else torch.empty(n, dtype=torch.float64, device=out.device)
        block = min(self.block, STATEFUL_BLOCK)
        self._launch(kernels(self.interpret)["gamma_kernel"], (_cdiv(n, block),), values, a, n, *key,
                     z_offset & 0xFFFFFFFF, z_offset >> 32, e_offset & 0xFFFFFFFF, e_offset >> 32, BLOCK=block)
        if values is not out:
            values = values * mult
            if rate is not None:
                values = values / rate.to(torch.float64)
            if numer is not None:
                values = numer.to(torch.float64) / sqrt_f64(values)
            out.copy_(values)

    def sample_tokens(self, logits: torch.Tensor, keys: torch.Tensor, temperature: torch.Tensor,
                      top_k: torch.Tensor | None, top_p: torch.Tensor | None,
                      min_p: torch.Tensor | None) -> torch.Tensor | None:
        rows, vocab = logits.shape
        out = torch.empty(rows, dtype=torch.int64, device=logits.device)
        if rows == 0:
            return out
        scale = float(2 ** (62 - vocab.bit_length()))
        x = logits.contiguous()
        self._launch(kernels(self.interpret)["sample_kernel"], (rows,), out, x, vocab, keys.contiguous(),
                     temperature.contiguous(), x if top_k is None else top_k.contiguous(),
                     x if top_p is None else top_p.contiguous(), x if min_p is None else min_p.contiguous(), scale,
                     HAS_K=top_k is not None, HAS_P=top_p is not None, HAS_MIN=min_p is not None,
                     BLOCK=min(self.block, 1024))
        return out

    def has_counts(self) -> bool:
        return True

    def dropout(self, out: torch.Tensor, x: torch.Tensor, key: tuple[int, int], e0: int, inner: int, threshold: int,
                scale: float) -> bool:
        # element-wise masks only: a channel mask is a tiny draw, and the definition's one
        # broadcast multiply is already the whole cost of applying it
        if x.dtype not in (torch.float32, torch.float64) or inner != 1:
            return False
        n = x.numel()
        if n == 0:
            return True
        f64 = x.dtype == torch.float64
        bits = _f64_bits(scale) if f64 else _f32_bits(scale)
        if bits >= 1 << 63:
            bits -= 1 << 64
        lanes = ((e0 & 3) + n + 3) // 4
        self._launch(kernels(self.interpret)["dropout_kernel"], (_cdiv(lanes, self.block),), out, x, n, *key,
                     e0 & 0xFFFFFFFF, e0 >> 32, threshold, bits, F64=f64, BLOCK=self.block)
        return True

    def poisson(self, out: torch.Tensor, key: tuple[int, int], offset: int, rate: torch.Tensor,
                version: int = 1) -> None:
        self._counts(out, key, offset, rate, rate, False)

    def binomial(self, out: torch.Tensor, key: tuple[int, int], offset: int, count: torch.Tensor,
                 prob: torch.Tensor, version: int = 1) -> None:
        self._counts(out, key, offset, count, prob, True)

    def _counts(self, out, key, offset, a, b, binomial):  # type: ignore[no-untyped-def]
        n = out.numel()
        block = min(self.block, STATEFUL_BLOCK)
        self._launch(kernels(self.interpret)["counts_kernel"], (_cdiv(n, block),), out, a, b, n,
                     int(a.numel() > 1), int(b.numel() > 1), *key, offset & 0xFFFFFFFF, offset >> 32,
                     BINOMIAL=binomial, BLOCK=block)

    def _trunc_normal(self, out, spec, run):  # type: ignore[no-untyped-def]
        target, params, meta = _draw_args(out, spec)
        e0, e1 = run
        block = min(self.block, STATEFUL_BLOCK)
        self._launch(kernels(self.interpret)["trunc_normal_kernel"], (_cdiv(e1 - e0, block),), target, *spec.key,
                     spec.offset & 0xFFFFFFFF, spec.offset >> 32, *params, e0, e1 - e0, DTYPE=meta["DTYPE"],
                     BLOCK=block)

    def _randperm(self, out, spec):  # type: ignore[no-untyped-def]
        (n,) = spec.params
        keys = feistel_keys(spec.key, spec.offset)
        total = spec.out_numel
        grid = (_cdiv(total, self.block),)
        self._launch(kernels(self.interpret)["randperm_kernel"], grid, out, spec.region[0][0], total, n - 1,
                     half_bits(n), *keys, BLOCK=self.block)


def _draw_args(out: torch.Tensor, spec: DrawSpec) -> tuple[torch.Tensor, tuple[int, ...], dict[str, Any]]:
    """(target tensor, the four parameter words, the constexprs KIND, DTYPE, UNIT, K) of a
    draw kernel launch."""
    k = elements_per_block(spec.kind, spec.dtype)
    if spec.kind == "bits":
        target = out.view(torch.int32 if k == 4 else torch.int64)
    else:  # bfloat16 is stored as its bits: rounding is done on the bits in the kernel
        target = out.view(torch.int16) if spec.dtype == torch.bfloat16 else out
    p, meta = _params(spec.kind, spec.dtype, spec.params, zero_signs(spec.params))
    return target, p, dict(meta)


@functools.lru_cache(maxsize=256)
def _params(kind: str, dtype: torch.dtype, params: tuple, signs: tuple) -> tuple[tuple[int, ...], tuple]:  # type: ignore[type-arg]
    """The four parameter words and the constexprs of a draw (cached: the same few
    parameter sets recur, and converting them costs more than the launch decision;
    ``signs`` keeps -0.0 and 0.0 apart in the cache)."""
    k = elements_per_block(kind, dtype)
    code = kernel_kind(kind, dtype).code
    p = [0, 0, 0, 0]
    if kind in ("uniform", "normal", "exponential", "cauchy", "laplace", "log_normal", "geometric", "gumbel",
                "trunc_normal", "uniform_v2"):
        # float parameters in the compute dtype; gumbel's are float64 for every dtype
        conv = _f64_bits if dtype == torch.float64 or kind == "gumbel" else _f32_bits
        for i, v in enumerate(params):
            p[i] = conv(float(v))
    elif kind == "randint":
        low, span = params
        p = [low % (1 << 64), span & 0xFFFFFFFF, (span >> 32) & 0xFFFFFFFF, 1 if span == 1 << 64 else 0]
    elif kind == "bernoulli":
        p[0] = params[0]
    # Triton types an int argument by its range (int32, int64, uint64): pass every
    # parameter as a signed 64-bit pattern; the kernel widens and reinterprets it.
    words = tuple(v - (1 << 64) if v >= 1 << 63 else v for v in p)
    meta = (("KIND", code), ("DTYPE", DTYPES.get(dtype, 0)), ("UNIT", _standard_params(kind, params)), ("K", k))
    return words, meta


def count_in_ball(key: tuple[int, int], offset: int, dims: int, s0: int, s1: int, device: torch.device,
                  interpret: bool = False, block: int = 1024) -> torch.Tensor:
    """The fused ``montecarlo.InBall`` count of samples [s0, s1) (see ``in_ball_kernel``),
    on ``device`` (CUDA, or CPU tensors in Triton's interpreter): per-program counts,
    added as integers (any order gives the same total).

    Returns the count as a 0-d int64 tensor on ``device``, not synchronised: the
    estimator adds the counts of many chunks before reading them (one synchronisation
    instead of one per chunk, which would leave the GPU idle between chunks)."""
    ks = kernels(interpret)
    count = s1 - s0
    off = (offset & 0xFFFFFFFF, offset >> 32)
    if dims in (1, 2, 4):  # whole samples per block: one lane per block
        nblocks = (s1 * dims - 1) // 4 - (s0 * dims) // 4 + 1
        kernel, grid = ks["in_ball_blocks_kernel"], (_cdiv(nblocks, block),)
    else:
        block = min(block, STATEFUL_BLOCK)
        kernel, grid = ks["in_ball_kernel"], (_cdiv(count, block),)
    partial = torch.empty(grid[0], dtype=torch.int32, device=device)
    _run_kernel(kernel, grid, partial, key[0], key[1], *off, s0, count, interpret=interpret, DIMS=dims, BLOCK=block)
    return partial.sum(dtype=torch.int64)


#: Values per program of ``exact_sums_kernel``: at most 4096 (pieces of 41 bits sum
#: exactly in float64 up to 2^12 of them).
EXACT_BLOCK = 1024


def exact_sum_limbs(x: torch.Tensor, interpret: bool = False) -> tuple[list[int], list[int], int] | None:
    """Limbs of the exact sums of float64 ``x`` and of ``x * x`` on ``x``'s device (NOTE
    [ exact sums on the GPU ]), read with one synchronisation; None when a value falls
    outside the kernel's window (the caller then uses the torch limb arithmetic, which
    also reports non-finite values).  The same integers as ``_cpu.exact_sum_limbs``."""
    ks = kernels(interpret)
    src = x.to(torch.float64).contiguous().reshape(-1)
    width = ks["EXACT_LIMBS"].value
    out = torch.zeros(2 * width + 1, dtype=torch.int64, device=src.device)  # limbs, then the flag
    grid = (max(1, _cdiv(src.numel(), EXACT_BLOCK)),)
    _run_kernel(ks["exact_sums_kernel"], grid, src, src.numel(), out, out[2 * width:], interpret=interpret,
                BLOCK=EXACT_BLOCK)
    vals = out.tolist()
    if vals[-1]:
        return None
    return vals[:width], vals[width: 2 * width], 0
