"""Every engine equals the reference bit for bit: every draw, dtype, odd size, region, offset."""
from __future__ import annotations

import pytest
import torch

from keystream._core._math import numpy_forms
from keystream._tools import _conformance as conf

SHAPES = [
    ((0,), None),
    ((1,), None),
    ((3,), None),
    ((4,), None),
    ((5,), None),
    ((1023,), None),
    ((3, 5, 7), None),
    ((2, 0, 3), None),
    ((), None),
    ((6, 7), ((1, 5), (2, 7))),  # scattered region
    ((4, 9, 3), ((1, 3), (0, 9), (0, 3))),  # contiguous region
    ((31,), ((7, 8),)),  # one element
]
OFFSETS = [0, (1 << 32) - 2, (1 << 64) - 300]
CASES = [pytest.param(c, d, id=f"{c.name}-{str(d).replace('torch.', '')}") for c, d in conf.cases()]


def _representative(case: conf.Case, dtype: torch.dtype) -> bool:
    """The (case, dtype) pairs the Triton interpreter runs in the default suite: each kind's
    first case at its first dtype and at bfloat16 (the 16-bit store).  The interpreter is
    slow (minutes for the whole matrix); the rest runs under ``-m slow``."""
    first = next(c for c in conf.CASES if c.kind == case.kind)
    return case is first and (dtype == case.dtypes[0] or dtype == torch.bfloat16)


@pytest.mark.parametrize("case,dtype", CASES)
def test_engine_matches_reference(engine, device, case, dtype):
    if engine.name == "triton-interpreter" and not _representative(case, dtype):
        pytest.skip("the Triton interpreter's full matrix runs under -m slow")
    _matches_reference(engine, device, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case,dtype", CASES)
def test_triton_interpreter_matches_reference_everywhere(case, dtype):
    from keystream._engines import get_engine

    engine = get_engine("triton-interpreter")
    if not engine.available():
        pytest.skip("Triton is not installed")
    if _representative(case, dtype):
        pytest.skip("in the default suite")
    _matches_reference(engine, torch.device("cpu"), case, dtype)


def _matches_reference(engine, device, case, dtype):  # type: ignore[no-untyped-def]
    if not engine.supports(device):
        pytest.skip(f"{engine.name} does not run on {device}")
    if not engine.implements(case.kind, dtype):
        pytest.skip(f"{engine.name} has no kernel for {case.kind} at {dtype} (the portable engine serves it)")
    for shape, region in SHAPES:
        if case.kind.startswith("randperm") and len(shape) != 1:
            continue
        for offset in OFFSETS:
            spec = conf.make_spec(case, dtype, shape, region, offset)
            got = conf.run_case(engine, spec, device)
            want = conf.reference(spec)
            assert conf.same_bits(got, want), (case.name, dtype, shape, region, offset)


@pytest.mark.parametrize("kind", ["randperm", "randperm_v2"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 16, 17, 1000, 65536, 65537, 100_003, (1 << 40) + 3, (1 << 62) + 1,
                               1 << 63])
def test_randperm_large_n_regions(engine, n, kind):
    if not engine.implements(kind, torch.int64):
        pytest.skip(f"{engine.name} has no kernel for {kind} (the portable engine serves it)")
    case = [c for c in conf.CASES if c.kind == kind][0]
    start = max(0, n - 40)
    spec = conf.make_spec(case, torch.int64, (n,), ((start, n),), 12345)
    assert conf.same_bits(conf.run_case(engine, spec), conf.reference(spec))


def test_ten_million_elements_indexing(engine):
    if engine.name == "triton-interpreter":
        pytest.skip("the Triton interpreter is checked on small sizes only")
    """A long draw, checked against the reference on a spread of indices (indexing bugs)."""
    n = 10_000_000
    for case_name, dtype in (("bits", torch.uint32), ("randn", torch.float32), ("rand", torch.float64)):
        case = next(c for c in conf.CASES if c.name == case_name)
        spec = conf.make_spec(case, dtype, (n,), None, (1 << 33) - 7)
        got = conf.run_case(engine, spec)
        idx = list(range(0, 64)) + list(range(5, n, 99_991)) + list(range(n - 64, n))
        for i in idx[::7]:
            one = conf.make_spec(case, dtype, (n,), ((i, i + 1),), spec.offset)
            assert conf.same_bits(got[i : i + 1], conf.reference(one)), (case_name, i)


def test_reference_regions_equal_full_slices():
    case = next(c for c in conf.CASES if c.name == "randn")
    full = conf.reference(conf.make_spec(case, torch.float32, (6, 7)))
    part = conf.reference(conf.make_spec(case, torch.float32, (6, 7), ((1, 5), (2, 7))))
    assert conf.same_bits(full[1:5, 2:7].contiguous(), part)


def test_reference_normal_never_zero():
    """The angle is never 0 (odd reduced integer), so no normal is a (signed) zero."""
    import numpy as np

    w = np.array([0, 1 << 29, 1 << 30, 3 << 30, (1 << 32) - 1, (1 << 29) + 63], dtype=np.uint32)
    c, s = numpy_forms.sincos_f32(w)
    assert np.all(c != 0) and np.all(s != 0)


@pytest.mark.parametrize("width", [32, 52, 53])
def test_torch_bit_length_by_float_and_by_search(width):
    """The torch forms' bit length: from an exact float64 conversion (most devices) and by
    integer binary search (MPS, no float64), on every power of two and neighbours."""
    from keystream._core._math.torch_forms import _bit_length_search
    from keystream._core._math.torch_forms import bit_length as _bit_length

    v = [0, 1, 2, 3] + [(1 << k) + d for k in range(width) for d in (-1, 0, 1)]
    z = torch.tensor([x for x in v if 0 <= x < 1 << width] + torch.randint(0, 1 << width, (1000,)).tolist())
    want = torch.tensor([x.bit_length() for x in z.tolist()])
    assert torch.equal(_bit_length(z, width), want)
    assert torch.equal(_bit_length_search(z, width), want)
    with pytest.raises(ValueError, match="width"):
        _bit_length(z, 64)


def test_parameter_caches_tell_negative_zero_from_zero(engine):
    """The engines cache their launch parameters per parameter set; -0.0 == 0.0 (and hashes
    alike) but is not the same bits: normal(-0.0, 0.0) keeps the sign of each z in its
    zeros, normal(0.0, 0.0) does not, whichever runs first."""
    import keystream as ks
    from keystream._engines import use_engine

    means = (-0.0, 0.0)  # not dict keys: -0.0 == 0.0
    with use_engine("reference"):
        ref = [ks.normal(m, 0.0, (64,), generator=ks.Generator(3)) for m in means]
    assert not conf.same_bits(ref[0], ref[1])
    with use_engine(engine.name):
        for i in (1, 0, 1, 0):
            got = ks.normal(means[i], 0.0, (64,), generator=ks.Generator(3))
            assert conf.same_bits(got, ref[i]), means[i]


def test_a_triton_older_than_the_checked_ones_falls_back_with_one_warning(monkeypatch):
    """Triton before 3.6 cannot compile the kernels (``_triton.MIN_TRITON``): the Triton
    engines are unavailable, the reason names the version, and CUDA draws warn once that
    they use the portable engine."""
    import sys
    import types
    import warnings

    import keystream as ks
    from keystream._engines import _triton

    fake = types.ModuleType("triton")
    fake.__version__ = "3.5.0"
    monkeypatch.setitem(sys.modules, "triton", fake)
    for name, value in (("triton", None), ("_IMPORT_ERROR", None), ("_too_old", False), ("_warned", False)):
        monkeypatch.setattr(_triton, name, value)
    assert not _triton.triton_available()
    assert "3.5.0" in _triton.unavailable_reason() and "3.6" in _triton.unavailable_reason()
    with pytest.warns(ks.KeystreamWarning, match="portable engine"):
        _triton.warn_if_too_old()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _triton.warn_if_too_old()  # once only


def test_every_kernel_kind_has_conformance_cases():
    """The conformance table covers every row of the one table of kinds (so every engine is
    checked against the reference for it), at dtypes that row allows."""
    from keystream._core._kinds import KERNEL_KINDS, kernel_kind

    covered = {kernel_kind(c.kind, d).name for c, d in conf.cases()}
    assert covered == {k.name for k in KERNEL_KINDS}


def test_a_draw_without_a_fast_kernel_falls_back_to_portable(monkeypatch):
    """A fast engine lists the kernel kinds it has; engine_for serves the others with the
    portable engine (the same bits), and selftest says which engine served which draw."""
    import keystream as ks
    import keystream._engines as engines
    from keystream._tools import _selftest

    cpu = engines.get_engine("cpu")
    if not cpu.available():
        pytest.skip("the C engine is not built here")
    monkeypatch.setattr(type(cpu), "kernel_kinds", cpu.kernel_kinds - {"exponential"})
    monkeypatch.setattr(engines, "_DEFAULT", {})
    dev = torch.device("cpu")
    assert engines.engine_for(dev, "exponential", torch.float32).name == "portable"
    assert engines.engine_for(dev, "uniform", torch.float32).name == "cpu"
    with engines.use_engine("reference"):
        want = ks.Generator(3).exponential(1001)
    assert conf.same_bits(ks.Generator(3).exponential(1001), want)
    assert "exponential/float32: portable" in _selftest._served(dev)
    with engines.use_engine("cpu"), pytest.raises(ValueError, match="does not implement exponential"):
        ks.Generator(3).exponential(4)


def test_feistel_keys_are_the_words_of_their_two_blocks():
    """The round keys every engine shares (_math.feistel), re-derived from the bits draw at
    the same offset (another code path: the engines' own Philox)."""
    import keystream as ks
    from keystream._core._math.feistel import feistel_keys, half_bits

    for offset in (0, 5, (1 << 32) - 1, (1 << 64) - 3):
        g = ks.Generator(17)
        g.offset = offset
        words = (g.bits(8, dtype=torch.int32).to(torch.int64) & 0xFFFFFFFF).tolist()
        assert feistel_keys(g.key, offset) == words
    assert [half_bits(n) for n in (1, 2, 4, 5, 16, 17, 2**63)] == [1, 1, 1, 2, 2, 3, 32]


@pytest.mark.parametrize("case,dtype", CASES)
def test_every_draw_is_prefix_stable(case, dtype):
    """The first k elements of a draw of n are the draw of k, for every kernel kind (its
    layout decides which blocks an element reads, never n)."""
    if case.kind.startswith("randperm"):
        pytest.skip("a permutation of k is not a prefix of one of n")
    full = conf.run_case("portable", conf.make_spec(case, dtype, (103,), offset=(1 << 64) - 900))
    for k in (1, 3, 4, 5, 66):
        part = conf.run_case("portable", conf.make_spec(case, dtype, (k,), offset=(1 << 64) - 900))
        assert conf.same_bits(part, full[:k]), k


def test_element_words_are_the_elements_blocks():
    """The reference's reader for kinds of several blocks per element (the guide's step 2):
    element e of a (1, b) layout reads blocks b e .. b e + b - 1, word by word, re-derived
    here from the bits draw at the same offset."""
    import numpy as np

    import keystream as ks
    from keystream._engines._reference import element_words

    offset = (1 << 64) - 41  # the last blocks a draw may use
    for dtype, b in ((torch.float32, 4), (torch.float64, 8)):
        spec = conf.make_spec(next(c for c in conf.CASES if c.kind == "trunc_normal"), dtype, (5,), offset=offset)
        g = ks.Generator(0)
        g._key, g.offset = spec.key, offset
        words = (g.bits(5 * 4 * b, dtype=torch.int32).to(torch.int64) & 0xFFFFFFFF).numpy().reshape(5, 4 * b)
        got = np.stack(element_words(spec, np.arange(5, dtype=np.uint64)), axis=1).astype(np.int64)
        assert np.array_equal(got, words)
