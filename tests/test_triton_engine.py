"""The GPU engine's Triton kernels, run in Triton's CPU interpreter, equal the reference.

The full conformance table runs in tests/test_engines.py (the `triton-interpreter`
engine is one of the `engine` fixture's engines); this file adds what is Triton's own.
"""
from __future__ import annotations

import platform

import pytest
import torch

import keystream as ks
from keystream import _conformance as conf
from keystream._engines import _triton, get_engine

pytestmark = [
    pytest.mark.skipif(not _triton.triton_available(), reason="triton is not installed"),
    pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                       reason="the Triton interpreter is tested on Linux x86-64 only"),
]


@pytest.mark.parametrize("block", [32, 64, 256])
def test_results_independent_of_block_size(block):
    eng = _triton.TritonEngine(interpret=True, block=block)
    for name in ("randn", "uniform(-3,5)", "randint(-5,12)", "bits"):
        case = next(c for c in conf.CASES if c.name == name)
        for shape, region in (((777,), None), ((9, 13), ((2, 7), (3, 11)))):
            spec = conf.make_spec(case, case.dtypes[0], shape, region, (1 << 40) + 3)
            assert conf.same_bits(conf.run_case(eng, spec), conf.reference(spec))


RANDINT4X_SCRIPT = r"""
import torch, triton, triton.language as tl, keystream as ks

@triton.jit
def k(out, seed, offset):
    a, b, c, d = tl.randint4x(seed, offset + tl.arange(0, 8))
    i = tl.arange(0, 8) * 4
    tl.store(out + i, a.to(tl.int32, bitcast=True))
    tl.store(out + i + 1, b.to(tl.int32, bitcast=True))
    tl.store(out + i + 2, c.to(tl.int32, bitcast=True))
    tl.store(out + i + 3, d.to(tl.int32, bitcast=True))

seed = 987654321
out = torch.empty(32, dtype=torch.int32)
k[(1,)](out, seed, 11)
g = ks.Generator(seed)
g.offset = 11
assert torch.equal(out, g.bits(32).view(torch.int32)), (out, g.bits(32))
print("ok")
"""


def test_randint4x_equality():
    """Triton's own tl.randint4x(seed, offset) gives keystream's bits draw (spec section 1).

    Run in a fresh process: Triton's library functions (tl.randint4x) are only
    interpretable when triton itself was imported with TRITON_INTERPRET=1.
    """
    import os
    import subprocess
    import sys

    env = {**os.environ, "TRITON_INTERPRET": "1"}
    r = subprocess.run([sys.executable, "-c", RANDINT4X_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


def test_interpreter_engine_is_never_chosen_automatically():
    from keystream._engines import engine_for

    assert engine_for(torch.device("cpu")).name != "triton-interpreter"
    assert get_engine("triton-interpreter").supports(torch.device("cpu"))
    assert not get_engine("triton").supports(torch.device("cpu"))


def test_cuda_graph_capture_raises(monkeypatch):
    from keystream import _draws

    class FakeEngine:
        def fill(self, out, spec):  # pragma: no cover - must not be reached
            raise AssertionError

    monkeypatch.setattr(_draws, "engine_for", lambda device: FakeEngine())
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    g = ks.Generator(1)
    with pytest.raises(RuntimeError, match="CUDA graph"):
        g.rand(4, device="cuda")
    assert g.offset == 0


CONTIGUOUS = [(0, 0, 4, "*i32"), (1, 0, 2, "*i64"), (2, 0, 4, "*fp32"), (2, 1, 2, "*fp64"), (2, 2, 4, "*fp16"),
              (2, 3, 4, "*i16"), (3, 0, 4, "*fp32"), (3, 1, 2, "*fp64"), (3, 2, 4, "*fp16"), (3, 3, 4, "*i16"),
              (4, 0, 4, "*fp32"), (4, 1, 2, "*fp64"), (5, 0, 2, "*i64"), (5, 0, 2, "*i8"), (6, 0, 4, "*fp32"),
              (6, 0, 4, "*i1"), (6, 3, 4, "*i16")]
FORBIDDEN = ("fma.", "mad.f", "div.approx", "div.full", "sqrt.approx", "rsqrt", "ex2.approx", "lg2.approx",
             "sin.approx", "cos.approx")


def _compile_ptx(name, signature, constexprs):
    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as err:  # pragma: no cover
        pytest.skip(f"this triton cannot compile ahead of time: {err}")
    import triton

    src = ASTSource(fn=_triton.kernels(False)[name], signature=signature, constexprs=constexprs)
    try:
        return triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"enable_fp_fusion": False}).asm["ptx"]
    except RuntimeError as err:  # pragma: no cover - e.g. no ptxas in this triton
        if "ptxas" in str(err):
            pytest.skip(f"no CUDA toolchain in this triton: {err}")
        raise


def test_gpu_kernels_compile_for_sm90_without_fma_or_approximations():
    """Compile every kernel variant for an H100 (sm_90) without a GPU and read the PTX:
    no fused multiply-add, no approximate division, square root or transcendental."""
    base = {"out_ptr": "*fp32", "k0": "i32", "k1": "i64", "off_lo": "i32", "off_hi": "i32", "p0": "i64",
            "p1": "i32", "p2": "i64", "p3": "i64", "e0": "i64", "total": "i64"}
    ptxs = []
    for kind, dtype, k, ptr in CONTIGUOUS:
        ptxs.append(_compile_ptx("draw_contiguous", {**base, "out_ptr": ptr},
                                 {"KIND": kind, "DTYPE": dtype, "K": k, "BLOCK": 1024}))
    scattered = {**{k: v for k, v in base.items() if k != "e0"}, "run_len": "i64", "run_off": "i64",
                 **{f"{a}{i}": "i64" for i in range(3) for a in "snt"}}
    for kind, dtype, k, ptr in ((3, 0, 4, "*fp32"), (3, 1, 2, "*fp64"), (5, 0, 2, "*i64")):
        ptxs.append(_compile_ptx("draw_scattered", {**scattered, "out_ptr": ptr},
                                 {"KIND": kind, "DTYPE": dtype, "K": k, "BLOCK": 256}))
    perm = {"out_ptr": "*i64", "start": "i64", "total": "i64", "n_minus_1": "i64", "h": "i32",
            **{f"k{i}": "i64" for i in range(8)}}
    ptxs.append(_compile_ptx("randperm_kernel", perm, {"BLOCK": 1024}))
    ball = {"partial_ptr": "*i32", "k0": "i32", "k1": "i64", "off_lo": "i32", "off_hi": "i32", "dims": "i32",
            "s0": "i64", "count": "i64"}
    in_ball = [_compile_ptx("in_ball_kernel", ball, {"BLOCK": 1024})]
    ball.pop("dims")
    in_ball += [_compile_ptx("in_ball_blocks_kernel", ball, {"DIMS": d, "BLOCK": 1024}) for d in (1, 2, 4)]
    for ptx in ptxs + in_ball:
        for bad in FORBIDDEN:
            assert bad not in ptx, bad
    normal32 = ptxs[6]
    assert "div.rn.f32" in normal32 and "sqrt.rn.f32" in normal32
    assert "div.rn.f64" in ptxs[7] and "sqrt.rn.f64" in ptxs[7]


@pytest.mark.parametrize("dims", [1, 2, 3, 4, 5])
def test_in_ball_kernel_equals_the_c_kernel_and_the_torch_definition(dims):
    """montecarlo.InBall's fused Triton kernel (the CUDA path), in the interpreter."""
    from keystream._engines import _cpu, use_engine
    from keystream.montecarlo import InBall, estimate

    for s0, s1, offset, block in ((0, 3000, 0, 256), (123, 2345, (1 << 32) - 5, 64), (7, 1500, (1 << 64) - 5000, 32)):
        count = _triton.count_in_ball((0x1234, 0xABCD), offset, dims, s0, s1, torch.device("cpu"),
                                      interpret=True, block=block)
        if _cpu._LIB is not None:
            assert count == _cpu.count_in_ball((0x1234, 0xABCD), offset, dims, s0, s1)
    with use_engine("triton-interpreter"):
        fused = estimate(InBall(dims), 2_001, seed=4, chunk_size=700)
        torch_ops = estimate(lambda d: InBall(dims)(d), 2_001, seed=4, chunk_size=700)
    assert fused.sum_exact == torch_ops.sum_exact == estimate(InBall(dims), 2_001, seed=4).sum_exact
