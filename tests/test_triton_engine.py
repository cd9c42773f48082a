"""The GPU engine's Triton kernels, run in Triton's CPU interpreter, equal the reference.

The full conformance table runs in tests/test_engines.py (the `triton-interpreter`
engine is one of the `engine` fixture's engines); this file adds what is Triton's own.
"""
from __future__ import annotations

import pytest
import torch

import keystream as ks
from _markers import requires_triton
from keystream._engines import _triton, get_engine
from keystream._tools import _conformance as conf

pytestmark = requires_triton


@pytest.mark.parametrize("block", [32, 64, 256])
def test_results_independent_of_block_size(block):
    eng = _triton.TritonEngine(interpret=True, block=block)
    for name in ("randn", "uniform(-3,5)", "randint(-5,12)", "bits"):
        case = next(c for c in conf.CASES if c.name == name)
        for shape, region in (((777,), None), ((9, 13), ((2, 7), (3, 11)))):
            spec = conf.make_spec(case, case.dtypes[0], shape, region, (1 << 40) + 3)
            assert conf.same_bits(conf.run_case(eng, spec), conf.reference(spec))


def test_per_draw_launch_shapes_are_used_and_change_no_bit(monkeypatch):
    """``shapes`` (``CONTIGUOUS_SHAPES``, filled from a GPU sweep) overrides the launch
    shape of one (kind, dtype); the bits stay the reference's."""
    launched = []
    real = _triton._run_kernel

    def spy(kernel, grid, *args, **meta):  # type: ignore[no-untyped-def]
        launched.append((meta.get("BLOCK"), meta.get("num_warps")))
        return real(kernel, grid, *args, **meta)

    monkeypatch.setattr(_triton, "_run_kernel", spy)
    eng = _triton.TritonEngine(interpret=True, block=32, shapes={("normal", torch.float32): (64, 8)})
    for name, want in (("randn", (64, 8)), ("rand", (32, 4))):
        case = next(c for c in conf.CASES if c.name == name)
        spec = conf.make_spec(case, torch.float32, (1001,), None, (1 << 32) - 7)
        launched.clear()
        assert conf.same_bits(conf.run_case(eng, spec), conf.reference(spec))
        assert launched == [want]


@pytest.mark.parametrize("name", ["rand", "uniform(-3,5)", "randn", "randint(-5,12)", "bits"])
def test_contiguous_ranges_with_every_start_and_end_in_a_block(name, monkeypatch):
    """The contiguous kernel's vector stores, edge blocks (HEAD > 0, a partial last block)
    and 64-bit positions (WIDE), on ranges that start and end anywhere in a block and
    span one or several programs."""
    eng = _triton.TritonEngine(interpret=True, block=32)
    case = next(c for c in conf.CASES if c.name == name)
    for wide in (False, True):
        monkeypatch.setattr(_triton.TritonEngine, "WIDE_FROM", 1 if wide else 1 << 31)
        for dtype in case.dtypes[:2]:
            for e0 in (0, 1, 2, 3, 6):
                for total in ((1, 2, 3, 4, 5, 9, 128, 131) if not wide else (3, 130)):
                    # offsets whose blocks cross 2^32 (the carry of base_counter) or 2^64
                    offset = (1 << (32 if total % 2 else 64)) - 9
                    spec = conf.make_spec(case, dtype, (e0 + total + 5,), ((e0, e0 + total),), offset)
                    assert conf.same_bits(conf.run_case(eng, spec), conf.reference(spec)), (dtype, e0, total)


@pytest.mark.parametrize("name", ["uniform(-3,5)", "randn", "randint(-5,12)", "bits"])
def test_regions_of_many_runs(name, monkeypatch):
    """The scattered kernel (one lane per Philox block of each run): runs of 1 to 11
    elements starting anywhere in a block, 2 to 4 dimensions, 32- and 64-bit lanes; and
    the portable fallback beyond that."""
    eng = _triton.TritonEngine(interpret=True, block=32)
    case = next(c for c in conf.CASES if c.name == name)
    regions = [((5, 9), ((1, 4), (2, 3))), ((5, 9), ((0, 5), (3, 8))), ((6, 7), ((1, 6), (0, 6))),
               ((3, 4, 13), ((0, 3), (1, 3), (1, 12))), ((2, 3, 5, 7), ((1, 2), (0, 3), (2, 4), (1, 4))),
               ((4, 1, 11), ((1, 4), (0, 1), (5, 6))),
               ((2, 3, 2, 3, 5), ((0, 2), (1, 3), (0, 2), (1, 2), (1, 4)))]  # 4 outer dims: portable
    for wide in (False, True):
        monkeypatch.setattr(_triton.TritonEngine, "WIDE_FROM", 1 if wide else 1 << 31)
        for dtype in case.dtypes[:2]:
            for shape, region in regions:
                for offset in (0, (1 << 32) - 7, (1 << 64) - 9):
                    spec = conf.make_spec(case, dtype, shape, region, offset)
                    assert spec.contiguous_range() is None
                    got = conf.run_case(eng, spec)
                    assert conf.same_bits(got, conf.reference(spec)), (dtype, shape, region, offset)


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
    from keystream._torch import _draws

    class FakeEngine:
        def fill(self, out, spec):  # pragma: no cover - must not be reached
            raise AssertionError

    from keystream._torch import _devices

    monkeypatch.setattr(_draws, "engine_for", lambda device, kind=None, dtype=None: FakeEngine())
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    monkeypatch.setattr(_devices, "_USABLE", {torch.device("cuda")})  # as if this machine had one
    g = ks.Generator(1)
    with pytest.raises(RuntimeError, match="CUDA graph"):
        g.rand(4, device="cuda")
    assert g.offset == 0


FORBIDDEN = ("fma.", "mad.f", "div.approx", "div.full", "sqrt.approx", "rsqrt", "ex2.approx", "lg2.approx",
             "sin.approx", "cos.approx")


@pytest.fixture(scope="module")
def sm90():
    """Every kernel variant the engine launches, compiled for an H100 / H200 (sm_90)
    without a GPU: {label: compiled kernel}."""
    try:
        from keystream._engines import _triton_aot
    except ImportError as err:  # pragma: no cover
        pytest.skip(f"this triton cannot compile ahead of time: {err}")
    out = {}
    variants = _triton_aot.variants()
    assert len({v.label for v in variants}) == len(variants)  # labels name them
    for v in variants:
        try:
            out[v.label] = _triton_aot.compile_variant(v)
        except RuntimeError as err:  # pragma: no cover - e.g. no ptxas in this triton
            if "ptxas" in str(err):
                pytest.skip(f"no CUDA toolchain in this triton: {err}")
            raise
    return out


def test_no_scalar_argument_of_a_launched_kernel_is_specialised():
    """On a GPU, Triton would compile an int argument equal to 1 as a Python int, on which
    the kernels' ``.to`` fails (``rand(1)``, an offset of one block): every kernel the host
    launches takes its scalars unspecialised (``_triton_kernels.launched``).  The
    interpreter never specialises, so this is checked on the compiled kernels' flags."""
    from keystream._engines import _triton_aot

    ks = _triton.kernels(False)
    for name in {v.kernel for v in _triton_aot.variants()}:
        params = ks[name].params
        scalars = [p for p in params if not p.is_constexpr and not p.name.endswith("_ptr")]
        assert scalars, name
        assert all(p.do_not_specialize for p in scalars), (name, [p.name for p in scalars if not p.do_not_specialize])


def test_the_engines_real_launches_compile_for_sm90(monkeypatch):
    """Every launch the engine makes for the conformance table, at sizes from 1 element,
    offsets of 1 block, across 2^32 and near 2^64, keys (1, 1) and near 2^32, and
    regions, compiled for sm_90 exactly as Triton's launcher on an H100 / H200 would
    specialise it from the argument values.  (The interpreter takes any value; on a GPU
    an argument equal to 1 became a constant that did not compile.)"""
    from keystream._engines import _triton_aot

    compiled: dict = {}  # type: ignore[type-arg]
    launches = []

    def dry_run(kernel, grid, *args, interpret, num_warps=4, **meta):  # type: ignore[no-untyped-def]
        assert not interpret
        meta = {**meta, "num_warps": num_warps, "enable_fp_fusion": False}
        _triton_aot.compile_launch(kernel, args, meta, cache=compiled)
        launches.append(kernel.__name__)

    from triton.runtime import jit

    if not hasattr(jit, "create_function_from_signature") or not hasattr(jit.JITFunction, "_pack_args"):
        pytest.skip("this triton's launcher differs from 3.6-3.9's")

    monkeypatch.setattr(_triton, "_run_kernel", dry_run)
    eng = _triton.TritonEngine(interpret=False)
    span1 = conf.Case("randint(0,1)", "randint", (torch.int64,), lambda d: (0, 1))
    samples = [((1,), None, 1, (1, 1)), ((5,), None, 0, (0xFFFFFFFF, 0x80000000)),
               ((1027,), ((1, 1027),), (1 << 32) - 3, (0x12345678, 1)),
               ((5, 7, 3), ((1, 4), (2, 7), (0, 2)), (1 << 64) - 50, (3, 5)),
               ((9, 1, 4), ((2, 3), (0, 1), (1, 2)), 1, (1, 2))]
    for case, dt in [*conf.cases(), (span1, torch.int64)]:
        if not eng.implements(case.kind, dt):
            continue  # the portable engine serves it
        if dt in (torch.float16, torch.bfloat16) and case.kind not in ("uniform", "normal"):
            continue  # a 16-bit draw differs from float32 only in the store: uniform's and normal's cover it
        for shape, region, offset, key in samples:
            if case.kind.startswith("randperm") and len(shape) > 1:
                continue
            spec = conf.make_spec(case, dt, shape, region, offset, key)
            eng.fill(torch.empty(spec.out_shape, dtype=dt), spec)
        # an ``out=`` tensor that starts off a 16-byte boundary (a view): no vector stores
        spec = conf.make_spec(case, dt, (1027,), None, 5)
        eng.fill(torch.empty(1028, dtype=dt)[1:], spec)
    for dims in (1, 2, 3):
        _triton.count_in_ball((1, 1), 1, dims, 1, 2, torch.device("cpu"))
    _triton.exact_sum_limbs(torch.ones(1, dtype=torch.float64))
    for dt in (torch.float32, torch.float64):  # keyed dropout: one element; a start inside a block near 2^64
        for n, e0, key in ((1, 0, (1, 1)), (6, (1 << 64) - 7, (0xFFFFFFFF, 0x80000000))):
            x = torch.ones(n, dtype=dt)
            assert eng.dropout(torch.empty_like(x), x, key, e0, 1, 1 << 31, 2.0)
    assert set(launches) == {"draw_contiguous", "draw_scattered", "randperm_kernel", "in_ball_kernel",
                             "in_ball_blocks_kernel", "exact_sums_kernel", "trunc_normal_kernel", "dropout_kernel"}
    for k in compiled.values():
        for bad in FORBIDDEN:
            assert bad not in k.asm["ptx"]


def test_gpu_kernels_compile_for_sm90_without_fma_or_approximations(sm90):
    """Read the PTX: no fused multiply-add, no approximate division, square root or
    transcendental in any kernel; IEEE division and square root where the math needs them."""
    for label, k in sm90.items():
        for bad in FORBIDDEN:
            assert bad not in k.asm["ptx"], (label, bad)
    normal32 = sm90["draw_contiguous normal float32 -> fp32"].asm["ptx"]
    assert "div.rn.f32" in normal32 and "sqrt.rn.f32" in normal32
    normal64 = sm90["draw_contiguous normal float64 -> fp64"].asm["ptx"]
    assert "div.rn.f64" in normal64 and "sqrt.rn.f64" in normal64


def test_contiguous_draws_store_one_vector_per_block(sm90):
    """NOTE [ vector stores ]: a draw that starts on a block stores each block's values (16
    bytes; 8 for 16-bit dtypes and two-word float32 elements) with one instruction, no
    shared-memory shuffle in between."""
    from keystream._engines import _triton_aot

    size = {"fp32": 4, "i32": 4, "fp64": 8, "i64": 8, "fp16": 2, "i16": 2}
    store = {16: ("st.global.v4.b32", "st.global.v2.b64"), 8: ("st.global.v2.b32", "st.global.b64")}
    variants = {v.label: v for v in _triton_aot.variants()}
    checked = 0
    for label, k in sm90.items():
        out = label.rsplit("-> ", 1)[-1].split()[0]
        if label.startswith("draw_"):  # no draw kernel goes through shared memory
            assert "bar.sync" not in k.asm["ptx"], label
        if label.startswith("draw_contiguous") and "HEAD" not in label and out in size:
            block_bytes = variants[label].constexprs["K"] * size[out]
            assert any(instruction in k.asm["ptx"] for instruction in store[block_bytes]), label
            checked += 1
    assert checked == 36  # every dtype but the 1-byte outputs (int8, bool), UNIT variants and the graph-safe one too


def test_standard_normal_values_are_never_zero():
    """values' UNIT shortcut for normal(0, 1) drops ``mean + std * y``, which equals y
    unless y is -0.0: y = r * c is never zero, as |c| and r have positive lower bounds
    (sincos depends on the word only through w >> 6: every class is checked)."""
    import numpy as np

    from keystream._core._math import numpy_forms as R

    for hi in range(4):
        w = ((np.arange(1 << 24, dtype=np.uint64) + (hi << 24)) << 6).astype(np.uint32)
        c, s = R.sincos_f32(w)
        assert min(np.abs(c).min(), np.abs(s).min()) >= 2.0 ** -25
    top = np.arange((1 << 32) - (1 << 20), 1 << 32, dtype=np.uint64).astype(np.uint32)
    assert R.neg_log_f32(top).min() >= 2.0 ** -25  # r = sqrt(2 * neg_log) >= 2^-12
    x = np.array([0, 1, 63, 64, 2**63, 2**62, 2**64 - 1], dtype=np.uint64)
    c, s = R.sincos_f64(x)
    assert min(np.abs(c).min(), np.abs(s).min()) >= 2.0 ** -54
    assert R.neg_log_f64(np.array([2**64 - 1], dtype=np.uint64)).min() >= 2.0 ** -54


@pytest.mark.parametrize("dims", [1, 2, 3, 4, 5, 7, 13])
def test_in_ball_kernel_equals_the_c_kernel_and_the_torch_definition(dims):
    """montecarlo.InBall's fused Triton kernel (the CUDA path), in the interpreter."""
    from keystream._engines import _cpu, use_engine
    from keystream.montecarlo import InBall, estimate

    for s0, s1, offset, block in ((0, 3000, 0, 256), (123, 2345, (1 << 32) - 5, 64), (7, 1500, (1 << 64) - 5000, 32)):
        count = int(_triton.count_in_ball((0x1234, 0xABCD), offset, dims, s0, s1, torch.device("cpu"),
                                          interpret=True, block=block))
        if _cpu._LIB is not None:
            assert count == _cpu.count_in_ball((0x1234, 0xABCD), offset, dims, s0, s1)
    with use_engine("triton-interpreter"):
        fused = estimate(InBall(dims), 2_001, seed=4, chunk_size=700)
        torch_ops = estimate(lambda d: InBall(dims)(d), 2_001, seed=4, chunk_size=700)
    assert fused.sum_exact == torch_ops.sum_exact == estimate(InBall(dims), 2_001, seed=4).sum_exact


def _hard_words(bits):
    import numpy as np

    words = {0, 1, 2, 3, (1 << bits) - 1, (1 << bits) - 2}
    for k in range(bits):
        for d in (-2, -1, 0, 1, 2):
            words.add(((1 << k) + d) % (1 << bits))
            words.add(((1 << bits) - (1 << k) + d) % (1 << bits))
    for k in range(bits - 12, bits - 8):  # around the small / big boundary of the log
        words.update(range((1 << k) - 40, (1 << k) + 40))
    rng = np.random.default_rng(5)
    words.update(int(v) for v in rng.integers(0, 1 << bits, 20_000, dtype=np.uint64))
    return np.array(sorted(words), dtype=np.uint64)


def _log_normalisations_agree(words):
    """The float32 log's (mant, k) as the reference computes them (normalising 2w + 1 or
    w) and as ``neg_log_f32`` in the kernels reads them from ``w + 0.5`` as a float64."""
    import numpy as np

    from keystream._core._math import numpy_forms as R

    mant, k = R.log_normalisation_f32(words.astype(np.uint32))
    zb = (words.astype(np.uint32).astype(np.float64) + 0.5).view(np.uint64)
    return (np.array_equal(mant, (zb >> np.uint64(29)) & np.uint64(0x7FFFFF))
            and np.array_equal(k, (zb >> np.uint64(52)).astype(np.int64) - (1023 + 32)))


def test_log_normalisation_from_w_plus_half():
    """neg_log_f32 (GPU) reads the reference's normalisation of 2w + 1 (w < 2^23) or w
    from the float64 w + 0.5, with no test of w: every word below 2^24 (both sides of
    the boundary) and the hard words; every 32-bit word in the slow suite."""
    import numpy as np

    assert _log_normalisations_agree(np.arange(1 << 24, dtype=np.uint64))
    assert _log_normalisations_agree(_hard_words(32))


@pytest.mark.slow
def test_log_normalisation_from_w_plus_half_every_word():
    import numpy as np

    chunk = 1 << 24
    for start in range(0, 1 << 32, chunk):
        assert _log_normalisations_agree(np.arange(start, start + chunk, dtype=np.uint64)), start


@pytest.mark.parametrize("fn", [0, 1, 2, 3])
def test_math_on_hard_words_equals_the_reference(fn):
    """neg_log and sincos of the GPU kernels, in the interpreter, bit for bit against the
    reference on every power of two and its neighbours, the log's small / big boundary
    and random words (the conformance draws reach these only by chance)."""
    import numpy as np

    from keystream._core._math import numpy_forms as R

    bits = 32 if fn in (0, 2) else 64
    words = _hard_words(bits)
    wt = torch.from_numpy(words.astype(np.uint32 if bits == 32 else np.uint64).view(
        np.int32 if bits == 32 else np.int64))
    fdt = torch.float32 if bits == 32 else torch.float64
    out, out2 = torch.empty(len(words), dtype=fdt), torch.empty(len(words), dtype=fdt)
    grid = (-(-len(words) // 1024),)
    _triton.kernels(True)["math_kernel"][grid](wt, out, out2, len(words), FN=fn, BLOCK=1024)
    w = words.astype(np.uint32) if bits == 32 else words
    want = {0: lambda: (R.neg_log_f32(w),), 1: lambda: (R.neg_log_f64(w),), 2: lambda: R.sincos_f32(w),
            3: lambda: R.sincos_f64(w)}[fn]()
    for got, ref in zip((out, out2), want):
        assert conf.same_bits(got, torch.from_numpy(np.asarray(ref)))


def test_exp_and_log_of_the_gpu_kernels_equal_the_torch_forms():
    """The Triton exp (rint by adding and subtracting 1.5 * 2^52) and log (normal arguments)
    against the portable forms, bit for bit: ties of x / ln 2, the clamps, powers of two,
    the sqrt(2) fold and random values."""
    import numpy as np

    from keystream._core._math.torch_forms import exp_f64, log_f64

    rng = np.random.default_rng(6)
    ln2 = np.log(2.0)
    ties = (np.arange(-1020, 1020) + 0.5) * ln2
    x = np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), np.arange(-750.0, 720.0),
                        [708.0, 709.0, 709.5, 709.78, -708.0, -708.5, -745.0, 0.0, -0.0, 1e-300],
                        rng.uniform(-750, 720, 20000), np.ldexp(1.0, np.arange(-1022, 1024)),
                        np.sqrt(2.0) * np.ldexp(1.0, np.arange(-60, 60)), np.exp(rng.uniform(-700, 700, 20000))])
    words = torch.from_numpy(x.astype(np.float64).view(np.int64))
    out, out2 = torch.empty(len(x), dtype=torch.float64), torch.empty(len(x), dtype=torch.float64)
    with np.errstate(all="ignore"):  # exp's overflow beyond its clamp, discarded by the kernel
        _triton.kernels(True)["math_kernel"][(-(-len(x) // 1024),)](words, out, out2, len(x), FN=5, BLOCK=1024)
    t = torch.from_numpy(x)
    assert conf.same_bits(out, exp_f64(t))
    positive = t > 0
    assert conf.same_bits(out2[positive], log_f64(t[positive]))


def test_gamma_poisson_and_binomial_kernels_equal_the_definitions():
    """The composite draws' kernels (one element a lane, later candidates while any lane
    needs one) against the C kernels, which the definition tests compare with the torch
    definitions: both sides of each method's switch, float32 and float64, broadcast and
    per-element parameters, offsets across 2^32."""
    from keystream._engines import use_engine

    rates = torch.tensor([0.0, 0.3, 4.0, 9.99, 10.0, 30.0, 1000.0, 1e9]).repeat(9)
    count = torch.tensor([0.0, 1.0, 20.0, 100.0, 1e6]).repeat_interleave(6).repeat(2)
    prob = torch.tensor([0.0, 0.01, 0.3, 0.5, 0.9, 1.0], dtype=torch.float64).repeat(10)
    alpha = torch.tensor([1e-3, 0.2, 0.9, 1.0, 2.5, 40.0]).repeat(11)

    def draws():
        result = []
        for version in ks.STREAM_VERSIONS:  # (version 1: the Triton kernels; 2: the engine's fallbacks)
            g = ks.Generator(3, stream_version=version)
            g.offset = (1 << 32) - 100
            result += [ks.poisson(rates, generator=g.clone()), ks.poisson(rates.double(), generator=g.clone()),
                       ks.poisson(12.5, (37,), generator=g.clone(), dtype=torch.float64),
                       ks.binomial(count, prob, generator=g.clone(), dtype=torch.float32),
                       ks.binomial(count.double(), 0.75, generator=g.clone()),
                       ks.standard_gamma(alpha, generator=g.clone()),
                       ks.standard_gamma(alpha.double(), generator=g.clone()),
                       ks.gamma(alpha, 2.5, generator=g.clone()), ks.chi2(alpha * 3, generator=g.clone()),
                       ks.student_t(alpha + 2, generator=g.clone(), dtype=torch.float64)]
        return result

    with use_engine("cpu"):
        want = draws()
    with use_engine("triton-interpreter"):
        got = draws()
    for i, (a, b) in enumerate(zip(got, want)):
        assert conf.same_bits(a, b), i


def test_the_sampling_kernel_equals_the_c_kernel():
    """keystream.sampling's Triton kernel (bit-by-bit threshold search, a block at a time)
    against the C kernel (radix selection), which tests/test_sampling.py compares with the
    torch definition: ties, -inf logits, per-row parameters, greedy rows, two blocks a row."""
    from keystream import sampling
    from keystream._engines import use_engine

    logits = torch.randn(4, 40, generator=torch.Generator().manual_seed(2)) * 2.5
    logits[:, ::5] = logits[:, ::5].round()
    logits[1, :25] = float("-inf")
    keys = sampling.request_keys(range(4), 9)
    cases = [(slice(0, 4), {"temperature": torch.tensor([0.0, 0.9, 1.0, 2.0]), "min_p": 0.05}),
             (slice(1, 3), {"temperature": 0.8, "top_k": torch.tensor([20, 3]), "top_p": torch.tensor([1.0, 0.5])})]
    for rows, params in cases:  # (the threshold searches cost 64 passes each: few rows in the interpreter)
        with use_engine("cpu"):
            want = sampling.sample(logits[rows], keys[rows], **params)
        with use_engine("triton-interpreter"):
            got = sampling.sample(logits[rows], keys[rows], **params)
        assert torch.equal(got, want), params
    eng = _triton.TritonEngine(interpret=True, block=32)  # two blocks a row
    temp = torch.full((1,), 0.8, dtype=torch.float64)
    got = eng.sample_tokens(logits[3:], keys[3:], temp, None, torch.full((1,), 0.7, dtype=torch.float64), None)
    with use_engine("cpu"):
        assert torch.equal(got, sampling.sample(logits[3:], keys[3:], temperature=0.8, top_p=0.7))


def test_estimator_reads_device_counts_in_batches(monkeypatch):
    """The fused Triton count stays on the device; the estimator reads the counts of many
    chunks at once (here every 3), at the end, and gives the same sums as the CPU."""
    from keystream._engines import use_engine
    from keystream.montecarlo import InBall, _estimate, estimate

    reads = []
    real = _estimate._read_counts
    monkeypatch.setattr(_estimate, "_MAX_PENDING", 3)
    monkeypatch.setattr(_estimate, "_read_counts", lambda p: reads.append(len(p)) or real(p))
    with use_engine("triton-interpreter"):
        got = estimate(InBall(2), 7_001, seed=11, chunk_size=1000)
    assert reads == [3, 3, 2]  # 8 chunks: two full batches, then the rest at the end
    assert got.sum_exact == estimate(InBall(2), 7_001, seed=11, chunk_size=4096).sum_exact
    assert got.n == 7_001


def test_gpu_sass_tool_reads_a_kernel(sm90, capsys, monkeypatch):
    """tools/gpu_sass.py (the machine-code report used before a GPU is at hand) runs."""
    import importlib.util
    import pathlib
    import sys

    path = pathlib.Path(__file__).parents[1] / "tools" / "gpu_sass.py"
    spec = importlib.util.spec_from_file_location("gpu_sass", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, "argv", ["gpu_sass.py", "uniform float32 -> fp32 UNIT"])
    tool.main()
    row = next(line for line in capsys.readouterr().out.splitlines() if "UNIT=True" in line)
    assert "STG.E.128" in row
    assert 5 < float(row.split("|")[2]) < 40  # instructions per element
    # the fast path skips the special-operand call of a square root (its MOVs, CALL and
    # BRA), and follows the fall-through of other branches
    sass = """
        /*0000*/                   MUFU.RSQ R16, R7 ;
        /*0010*/              @!P0 BRA `(.L_x_1) ;
        /*0020*/                   MOV R16, R7 ;
        /*0030*/                   CALL.REL.NOINC `($__internal_0_$__cuda_sm20_sqrt_rn_f32_slowpath) ;
        /*0040*/                   BRA `(.L_x_2) ;
.L_x_1:
        /*0050*/                   FMUL R2, R7, R16 ;
.L_x_2:
        /*0060*/               @P1 BRA `(.L_x_3) ;
        /*0070*/                   IADD3 R2, R2, 0x1, RZ ;
.L_x_3:
        /*0080*/                   EXIT ;
        /*0090*/                   BRA `(.L_x_4);
"""
    assert tool.fast_path(sass) == ["MUFU.RSQ", "BRA", "FMUL", "BRA", "IADD3", "EXIT"]


def test_a_launch_runs_on_its_tensors_cuda_device(monkeypatch):
    """Triton launches on the current CUDA device: a draw into a tensor on another device
    makes that device current for the launch (as torch ops do themselves)."""
    entered = []

    class Guard:
        def __init__(self, device):  # type: ignore[no-untyped-def]
            self.device = device

        def __enter__(self):  # type: ignore[no-untyped-def]
            entered.append(self.device)

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            return False

    def on(index):  # type: ignore[no-untyped-def]
        class OnCuda(torch.Tensor):  # a CPU tensor that reports a CUDA device
            @property
            def device(self):  # type: ignore[no-untyped-def, override]
                return torch.device("cuda", index)

        return torch.empty(4).as_subclass(OnCuda)

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", Guard)
    for args in ((torch.empty(4), 1), (on(0), 1), (7, on(0))):  # CPU, or the current device
        with _triton._on_device_of(args):
            pass
    assert entered == []
    with _triton._on_device_of((7, on(1), on(0))):  # the first tensor's device
        pass
    assert entered == [torch.device("cuda", 1)]
