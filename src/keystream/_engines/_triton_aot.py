"""Ahead-of-time compilation of the GPU kernels, without a GPU (tests and tools only).

Triton compiles for a named target (``GPUTarget("cuda", 90, 32)`` is an H100/H200)
on any machine, and its wheel carries ``ptxas`` and ``nvdisasm``; so the test suite
can read the PTX of every kernel variant the engine launches (no fused multiply-add,
no approximate division, vector stores) and ``tools/gpu_sass.py`` can read the
machine code (instructions per element) before a GPU is at hand.

The signatures here mirror the launches in ``_triton.py`` (``TritonEngine.fill`` and
``count_in_ball``); a test compiles each of them, so a launch that changes its
arguments without changing this table fails there.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._core._kinds import DTYPE_CODES, KERNEL_KINDS
from . import _triton

__all__ = ["Variant", "compile_launch", "compile_variant", "sass", "variants"]

# Triton specializes pointer arguments on 16-byte alignment (every torch allocation
# is), so the compiled variants here assume it for the output pointer; no integer
# argument is specialized (``_triton_kernels.launched``).
_ALIGNED = ("out_ptr",)

# Argument types as Triton infers them from typical values (an int argument is i32,
# i64 or u64 by its range); compile_variant puts them in the kernel's argument order.
_DRAW_ARGS = {"out_ptr": "*fp32", "k0": "i32", "k1": "i64", "p0": "i64", "p1": "i32", "p2": "i64", "p3": "i64"}
CONTIGUOUS = {**_DRAW_ARGS, "base_ptr": "*i64", "base_lo": "i32", "base_hi": "i32", "total": "i32", "full_end": "i32"}
SCATTERED = {**_DRAW_ARGS, "base_ptr": "*i64", "off_lo": "i32", "off_hi": "i32", "runs": "i64", "run_len": "i64",
             "lanes_per_run": "i64", "run_off": "i64",
             **{f"{a}{i}": "i64" for i in range(3) for a in "snt"}}
RANDPERM = {"out_ptr": "*i64", "start": "i64", "total": "i64", "n_minus_1": "i64", "h": "i32",
            **{f"k{i}": "i64" for i in range(8)}}
IN_BALL = {"partial_ptr": "*i32", "k0": "i32", "k1": "i64", "off_lo": "i32", "off_hi": "i32", "s0": "i64",
           "count": "i64"}

def _draw(kind: str, dtype: torch.dtype | None, ptr: str) -> tuple[int, int, int, str]:
    """(KIND, DTYPE, K, output pointer type) of a draw kernel variant, from the one table."""
    row = next(k for k in KERNEL_KINDS if k.name == kind)
    dt = torch.float32 if dtype is None else dtype
    return row.code, DTYPE_CODES.get(dt, 0), row.elements_per_block(dt), ptr


F32, F64, F16, BF16 = torch.float32, torch.float64, torch.float16, torch.bfloat16
# Every contiguous draw the engine launches (bfloat16 is written as int16 bits; integer and
# bool outputs take the float32 code).
DRAWS = [_draw("bits32", None, "*i32"), _draw("bits64", None, "*i64"),
         *[_draw(kind, dt, ptr) for kind in ("uniform", "normal")
           for dt, ptr in ((F32, "*fp32"), (F64, "*fp64"), (F16, "*fp16"), (BF16, "*i16"))],
         _draw("exponential", F32, "*fp32"), _draw("exponential", F64, "*fp64"),
         _draw("randint", None, "*i64"), _draw("randint", None, "*i8"),
         _draw("bernoulli", None, "*fp32"), _draw("bernoulli", None, "*i1"), _draw("bernoulli", BF16, "*i16"),
         *[_draw(kind, dt, ptr) for kind in ("cauchy", "laplace", "gumbel", "log_normal", "geometric")
           for dt, ptr in ((F32, "*fp32"), (F64, "*fp64"))]]


# Kinds whose standard parameters have their own variant (``_triton._standard_params``).
_UNIT_KINDS = {k.code for k in KERNEL_KINDS if k.unit}


@dataclass(frozen=True)
class Variant:
    """One compiled form of one kernel: its name, argument types and constexprs."""

    kernel: str
    signature: dict[str, str] = field(hash=False)
    constexprs: dict[str, Any] = field(hash=False)

    @property
    def label(self) -> str:
        inv = {v: k for k, v in _triton.KINDS.items()}
        c = self.constexprs
        if self.kernel.startswith("draw_"):
            dt = next(iter(k for k, v in _triton.DTYPES.items() if v == c["DTYPE"]))
            extra = "".join(f" {f}={c[f]}" for f in ("UNIT", "HEAD", "WIDE", "DEVICE_BASE") if c.get(f))
            extra += f" OUTER={c['OUTER']}" if c.get("OUTER", 1) != 1 else ""
            return (f"{self.kernel} {inv[c['KIND']]} {str(dt).removeprefix('torch.')} "
                    f"-> {self.signature['out_ptr'][1:]}{extra}")
        return f"{self.kernel} " + " ".join(f"{k}={v}" for k, v in c.items() if k != "BLOCK")


def variants(block: int = 1024) -> list[Variant]:
    """Every kernel variant that ``TritonEngine``, ``count_in_ball`` and ``exact_sum_limbs`` launch
    (contiguous draws with a block-aligned start, plus one of each other form), and the
    tests' ``math_kernel``."""
    out = []
    for kind, dtype, k, ptr in DRAWS:
        units = (False, True) if kind in _UNIT_KINDS else (False,)
        for unit in units:
            out.append(Variant("draw_contiguous", {**CONTIGUOUS, "out_ptr": ptr},
                               {"KIND": kind, "DTYPE": dtype, "UNIT": unit, "K": k, "HEAD": 0, "WIDE": False,
                                "DEVICE_BASE": False, "BLOCK": block}))
    for kind, dtype, k, ptr in (_draw("normal", F32, "*fp32"), _draw("uniform", F64, "*fp64")):  # odd start, > 2^31
        out.append(Variant("draw_contiguous", {**CONTIGUOUS, "out_ptr": ptr, "total": "i64", "full_end": "i64"},
                           {"KIND": kind, "DTYPE": dtype, "UNIT": False, "K": k, "HEAD": 1, "WIDE": True,
                            "DEVICE_BASE": False, "BLOCK": block}))
    # a graph-safe draw (keystream.graph_safe): its offset read from the device
    out.append(Variant("draw_contiguous", {**CONTIGUOUS, "out_ptr": "*fp32"},
                       {"KIND": _triton.KINDS["normal"], "DTYPE": DTYPE_CODES[F32], "UNIT": False, "K": 4, "HEAD": 0,
                        "WIDE": False, "DEVICE_BASE": True, "BLOCK": block}))
    for kind, dtype, k, ptr in (_draw("normal", F32, "*fp32"), _draw("normal", F64, "*fp64"),
                                _draw("randint", None, "*i64")):
        out.append(Variant("draw_scattered", {**SCATTERED, "out_ptr": ptr, "runs": "i32", "run_len": "i32",
                                              "lanes_per_run": "i32"},
                           {"KIND": kind, "DTYPE": dtype, "UNIT": False, "K": k, "OUTER": 1, "WIDE": False,
                            "DEVICE_BASE": False, "BLOCK": min(block, _triton.STATEFUL_BLOCK)}))
    for outer, wide in ((2, False), (3, True)):
        out.append(Variant("draw_scattered", {**SCATTERED, "out_ptr": "*fp32"},
                           {"KIND": _triton.KINDS["normal"], "DTYPE": DTYPE_CODES[F32], "UNIT": False, "K": 4,
                            "OUTER": outer, "WIDE": wide, "DEVICE_BASE": wide,
                            "BLOCK": min(block, _triton.STATEFUL_BLOCK)}))
    out.append(Variant("randperm_kernel", RANDPERM, {"BLOCK": block}))
    out.append(Variant("in_ball_kernel", IN_BALL, {"DIMS": 3, "BLOCK": min(block, _triton.STATEFUL_BLOCK)}))
    out += [Variant("in_ball_blocks_kernel", IN_BALL, {"DIMS": d, "BLOCK": block}) for d in (1, 2, 4)]
    out.append(Variant("exact_sums_kernel", {"x_ptr": "*fp64", "n": "i32", "limbs_ptr": "*i64", "flag_ptr": "*i64"},
                       {"BLOCK": _triton.EXACT_BLOCK}))
    for out_dtype, ptr in ((F32, "*fp32"), (F64, "*fp64"), (BF16, "*i16")):
        out.append(Variant("trunc_normal_kernel", {"out_ptr": ptr, "k0": "i32", "k1": "i64", "off_lo": "i32",
                                                   "off_hi": "i32", **{f"p{i}": "i64" for i in range(4)}, "e0": "i64",
                                                   "total": "i32"},
                           {"DTYPE": DTYPE_CODES[out_dtype], "BLOCK": min(block, _triton.STATEFUL_BLOCK)}))
    for flags in ((False, False, False), (True, True, True)):
        out.append(Variant("sample_kernel", {"out_ptr": "*i64", "logits_ptr": "*fp32", "vocab": "i32",
                                             "keys_ptr": "*i64", "temp_ptr": "*fp64", "top_k_ptr": "*i64",
                                             "top_p_ptr": "*fp64", "min_p_ptr": "*fp64", "scale": "fp64"},
                           {"HAS_K": flags[0], "HAS_P": flags[1], "HAS_MIN": flags[2], "BLOCK": block}))
    out.append(Variant("gamma_kernel", {"out_ptr": "*fp64", "alpha_ptr": "*fp64", "n": "i32", "k0": "i32",
                                        "k1": "i64", "z_lo": "i32", "z_hi": "i32", "e_lo": "i32", "e_hi": "i32"},
                       {"BLOCK": min(block, _triton.STATEFUL_BLOCK)}))
    for binomial, ptr in ((False, "*fp32"), (True, "*fp64")):
        out.append(Variant("counts_kernel", {"out_ptr": ptr, "a_ptr": ptr, "b_ptr": ptr, "n": "i32", "a_step": "i32",
                                             "b_step": "i32", "k0": "i32", "k1": "i64", "off_lo": "i32",
                                             "off_hi": "i32"},
                           {"BINOMIAL": binomial, "BLOCK": min(block, _triton.STATEFUL_BLOCK)}))
    for f64, ptr, bits in ((False, "*fp32", "i32"), (True, "*fp64", "i64")):
        out.append(Variant("dropout_kernel", {"out_ptr": ptr, "x_ptr": ptr, "n": "i32", "k0": "i32",
                                              "k1": "i64", "e0_lo": "i32", "e0_hi": "i32", "thr": "i64",
                                              "scale_bits": bits},
                           {"F64": f64, "BLOCK": block}))
    math = [*enumerate((("*i32", "*fp32"), ("*i64", "*fp64")) * 2), (5, ("*i64", "*fp64"))]
    for fn, (words, floats) in math:  # the tests' math kernel
        out.append(Variant("math_kernel", {"in_ptr": words, "out_ptr": floats, "out2_ptr": floats, "n": "i32"},
                           {"FN": fn, "BLOCK": block}))
    return out


def compile_variant(v: Variant, arch: int = 90, num_warps: int = 4) -> Any:
    """Compile ``v`` for CUDA compute capability ``arch`` with the engine's options
    (``enable_fp_fusion=False``); ``.asm`` holds "ptx" and "cubin"."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    fn = _triton.kernels(False)[v.kernel]
    signature = {a: v.signature[a] for a in fn.arg_names if a in v.signature}
    attrs = {(fn.arg_names.index(a),): [["tt.divisibility", 16]] for a in _ALIGNED if a in v.signature}
    src = ASTSource(fn=fn, signature=signature, constexprs=v.constexprs, attrs=attrs)
    return triton.compile(src, target=GPUTarget("cuda", arch, 32),
                          options={"enable_fp_fusion": False, "num_warps": num_warps})


def compile_launch(fn: Any, args: tuple, meta: dict[str, Any], arch: int = 90,  # type: ignore[type-arg]
                   cache: dict | None = None) -> Any:  # type: ignore[type-arg]
    """Compile ``fn[grid](*args, **meta)`` for CUDA ``arch`` as Triton's launcher would
    on that GPU: the same binder gives each argument its type and specialisation from
    its value (an int is i32, i64 or u64 by its range; one equal to 1 would become a
    constant unless the kernel says not to specialise it; a pointer is marked 16-byte
    aligned when it is), then the same compiler runs.  Tensors may be CPU tensors.
    ``cache`` (a dict) keeps one compilation per specialisation, as the launcher does.

    Relies on Triton's launcher internals (``create_function_from_signature`` and
    ``JITFunction._pack_args``, as in Triton 3.6 to 3.9): raises AttributeError or
    TypeError on a Triton without them."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import make_backend
    from triton.runtime.jit import create_function_from_signature

    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, specialization, options = binder(*args, **meta)
    options, signature, constexprs, attrs = fn._pack_args(backend, meta, bound, specialization, options)
    key = (fn.__name__, arch, repr(specialization), repr(sorted(options.__dict__.items(), key=str)))
    if cache is not None and key in cache:
        return cache[key]
    compiled = triton.compile(triton.compiler.ASTSource(fn, signature, constexprs, attrs), target=target,
                              options=options.__dict__)
    if cache is not None:
        cache[key] = compiled
    return compiled


def sass(compiled: Any) -> str:
    """The machine code of a compiled kernel (``nvdisasm`` from Triton's wheel)."""
    import tempfile

    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "nvdisasm"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        return subprocess.run([str(tool), "-c", f.name], capture_output=True, text=True, check=True).stdout
