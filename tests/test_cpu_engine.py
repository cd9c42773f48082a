"""The compiled CPU engine: thread-count independence, its generated header, its fallback."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest
import torch

import keystream as ks
from _markers import requires_c
from keystream._engines import _cpu, engine_for, get_engine
from keystream._tools import _conformance as conf

pytestmark = requires_c
ROOT = pathlib.Path(__file__).resolve().parent.parent


def _skip_without_kernel(case, dtype):  # type: ignore[no-untyped-def]
    if not get_engine("cpu").implements(case.kind, dtype):
        pytest.skip(f"the C engine has no kernel for {case.kind} (the portable engine serves it)")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case,dtype", [(c, d) for c, d in conf.cases()],
                         ids=[f"{c.name}-{d}" for c, d in conf.cases()])
def test_bits_independent_of_thread_count(threads, case, dtype, monkeypatch):
    _skip_without_kernel(case, dtype)
    monkeypatch.setattr(_cpu, "MIN_CHUNK", 7)  # force splitting even for small draws
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for shape, region in (((1001,), None), ((9, 11), ((2, 9), (3, 10)))):
            if case.kind.startswith("randperm") and len(shape) > 1:
                continue
            spec = conf.make_spec(case, dtype, shape, region, (1 << 32) - 5)
            assert conf.same_bits(conf.run_case("cpu", spec), conf.reference(spec))
    finally:
        torch.set_num_threads(before)


#: Regions whose thread parts start inside a run (and off a block boundary).
SPLIT_REGIONS = (((5000,), ((37, 4001),)), ((50, 70), ((1, 40), (3, 60))), ((7, 30, 41), ((1, 6), (2, 29), (5, 40))))


def _part_starts(total: int, parts: int) -> list[int]:
    """Where ks_fill's parts start (fill.c fill_part: equal parts rounded up to 64)."""
    step = (-(-total // parts) + 63) // 64 * 64
    return [step * k for k in range(1, parts) if step * k < total]


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("case,dtype", [(c, d) for c, d in conf.cases()],
                         ids=[f"{c.name}-{d}" for c, d in conf.cases()])
def test_region_split_across_threads_inside_runs(threads, case, dtype, monkeypatch):
    _skip_without_kernel(case, dtype)
    monkeypatch.setattr(_cpu, "MIN_CHUNK", 7)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for shape, region in SPLIT_REGIONS:
            if case.kind.startswith("randperm") and len(shape) > 1:
                continue
            spec = conf.make_spec(case, dtype, shape, region, (1 << 32) - 5)
            outer, _, run_len = spec.runs()
            starts = _part_starts(spec.out_numel, _cpu.parts(spec.out_numel))
            # the test is only a test if the parts really split a run
            assert len(starts) == threads - 1 and any(p % run_len for p in starts), (shape, region)
            assert conf.same_bits(conf.run_case("cpu", spec), conf.reference(spec))
    finally:
        torch.set_num_threads(before)


def test_cpu_is_default_engine_for_cpu():
    assert engine_for(torch.device("cpu")).name == "cpu"


def test_generated_header_is_current():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_constants_h.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "src" / "keystream" / "_engines" / "_csrc" / "ks_constants.h").read_text() == mod.render()


def test_fallback_warns_once(monkeypatch):
    import keystream as ks
    import keystream._engines as engines

    monkeypatch.setattr(_cpu, "_LIB", None)
    monkeypatch.setattr(_cpu, "_warned", False)
    monkeypatch.setattr(engines, "_DEFAULT", {})  # the engine per device is found once
    with pytest.warns(ks.KeystreamWarning, match="portable"):
        ks.Generator(1).rand(5)
    assert engine_for(torch.device("cpu")).name == "portable"


def _draw_in_child(queue) -> None:  # runs in a forked child
    import hashlib

    import keystream as ks

    # no torch op here: torch's own OpenMP pool may hang after fork (DataLoader workers
    # avoid that with set_num_threads(1)); keystream's pool must not
    queue.put(hashlib.sha256(ks.Generator(3).rand(1 << 20).numpy().tobytes()).hexdigest())


def test_forked_child_draws_after_the_parent_used_the_thread_pool():
    """DataLoader workers are forked: the pool must not wait for the parent's threads."""
    import multiprocessing as mp

    import keystream as ks

    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    try:
        ks.Generator(1).rand(1 << 20)  # starts the pool's workers in this process
    finally:
        torch.set_num_threads(before)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_draw_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "the forked child hung in a multi-threaded draw"
    assert child.exitcode == 0
    import hashlib

    assert queue.get(timeout=5) == hashlib.sha256(ks.Generator(3).rand(1 << 20).numpy().tobytes()).hexdigest()


def test_concurrent_draws_from_python_threads_are_exact():
    """ctypes releases the GIL: two threads may use the pool at once (one runs serially)."""
    import threading

    import keystream as ks

    expected = [ks.Generator(s).randn(300_001) for s in range(8)]
    results: dict[int, torch.Tensor] = {}

    def work(s: int) -> None:
        for _ in range(5):
            results[s] = ks.Generator(s).randn(300_001)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(torch.equal(results[s], expected[s]) for s in range(8))


# ----------------------------------------------------------- NOTE [ small draws ]
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["rand", "randn"])
def test_small_draws_equal_the_full_path(name, dtype):
    """The short path (the C module on the calling thread) against the full path (forced
    through use_engine, which the short path never takes), at odd sizes and offsets near 2^64."""
    from keystream._torch._draws import SMALL_MAX

    previous = torch.get_default_dtype()
    for shape in [(1,), (3,), (2, 3), (5, 7), (SMALL_MAX,), (SMALL_MAX + 1,), ()]:
        for offset in (0, 3, (1 << 64) - 20000):
            # with dtype= (the Python short path); at the default dtype (the C module's, for
            # the method and for generator=)
            calls = [lambda g, shape=shape: getattr(g, name)(shape, dtype=dtype)]
            if dtype in (torch.float32, torch.float64):
                calls += [lambda g, shape=shape: getattr(g, name)(*shape),
                          lambda g, shape=shape: getattr(ks, name)(shape, generator=g)]
            for call in calls:
                a, b = ks.Generator(9), ks.Generator(9)
                a.offset = b.offset = offset
                torch.set_default_dtype(dtype if dtype in (torch.float32, torch.float64) else previous)
                try:
                    got = call(a)
                    with ks.use_engine("cpu"):
                        want = call(b)
                finally:
                    torch.set_default_dtype(previous)
                assert torch.equal(got, want) and got.dtype == want.dtype and got.shape == want.shape
                assert a.offset == b.offset


def test_small_draws_take_the_short_path_and_fail_like_the_full_path(monkeypatch):
    from keystream._torch import _draws

    calls = []
    monkeypatch.setattr(_draws, "_native_fill", lambda *a: calls.append(a))
    ks.rand(4, generator=ks.Generator(1), dtype=torch.float32)
    assert len(calls) == 1  # (a stand-in fill: the short path ran)
    g = ks.Generator(1)
    for bad, exc in (((-1,), ValueError), ((2.5,), TypeError), ((True,), TypeError)):
        with pytest.raises(exc, match="size"):
            ks.rand(*bad, generator=g)
    with pytest.raises(TypeError, match="dtype"):
        ks.randn(3, dtype=torch.int32, generator=g)
    assert g.offset == 0 and len(calls) == 1

    def boom(*a):
        raise MemoryError("no")

    monkeypatch.setattr(_draws, "_native_fill", boom)
    with pytest.raises(MemoryError):
        g.rand(3, dtype=torch.float32)
    assert g.offset == 0  # the blocks given back


def test_the_c_short_path_leaves_the_rest_to_python():
    """The C module's small draw declines (None) what the Python path must decide, and takes
    its blocks under the generator's lock."""
    from keystream._engines import _native
    from keystream._torch import _draws

    ctx = _draws._small_context("rand")
    g = ks.Generator(2)
    g.rand(3)  # (the entry for the default dtype exists after one draw)
    assert _native.small(ctx, g, (4,)) is not None and g.offset == 2
    for sizes in [(-1,), (2.5,), (True,), ([2, 3],), (_draws.SMALL_MAX + 1,), (0,)]:
        assert _native.small(ctx, g, sizes) is None
    assert _native.small(ctx, ks.default_generator, (3,)) is None  # (its DataLoader worker reseeding)
    with g._lock:  # another thread holds the lock: the Python path waits for it
        assert _native.small(ctx, g, (3,)) is None
    with ks.use_engine("portable"):
        assert _native.small(ctx, g, (3,)) is None
    g.offset = (1 << 64) - 2
    assert _native.small(ctx, g, (8,)) is None  # (the Python path raises the OverflowError)
    with pytest.raises(OverflowError):
        g.rand(8)
    assert g.offset == (1 << 64) - 2


def test_native_key_derivation_equals_the_definition():
    """_native.derive (fold_in, spawn, sample_generator) against the numpy Philox of _keys."""
    import numpy as np

    from keystream._core._constants import u32
    from keystream._core._philox import philox4x32_scalar
    from keystream._engines import _native

    rng = np.random.default_rng(5)
    tags = [u32(t) for t in ("TAG_FOLD_INT", "TAG_FOLD_BYTES", "TAG_SPAWN")]
    for _ in range(500):
        k0, k1 = (int(v) for v in rng.integers(0, 1 << 32, 2))
        value = int(rng.integers(0, 1 << 63)) * 2 + int(rng.integers(0, 2))
        for tag in tags:
            w = philox4x32_scalar((value & 0xFFFFFFFF, value >> 32, tag, u32("TAG_VERSION")), (k0, k1))
            assert _native.derive(k0, k1, value, tag) == (w[0], w[1])


@requires_c
@pytest.mark.parametrize("version", [1, 2])
def test_bernoulli_of_tensor_probabilities_is_the_definition(version):
    """Engine.bernoulli_p (ks_bernoulli_p) against the definition (the portable engine's bits
    and float64 comparisons): every output dtype, probabilities of every float dtype, one or
    many, 0 and 1, odd sizes, out=, an offset near 2^64, the generator's offset after."""
    gen = torch.Generator().manual_seed(0)
    cases = []
    for shape in [(16,), (3, 5), (1,), (0,), (257, 7)]:
        for p_dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            p = torch.rand(shape, generator=gen).to(p_dtype)
            if p.numel() > 2:
                p.view(-1)[:2] = torch.tensor([0.0, 1.0])
            cases += [(p, {"dtype": d}) for d in (None, torch.bool, torch.uint8, torch.float32, torch.float64,
                                                  torch.float16, torch.int64)]
    cases += [(torch.tensor(0.3), {"size": (5, 3)}), (torch.rand(9, generator=gen)[::2], {})]
    near_end = (1 << 64) - 1000  # (the largest case takes 450 blocks)
    for p, kwargs in cases:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        for offset in (0, near_end):
            got_g, want_g = ks.Generator(7, stream_version=version), ks.Generator(7, stream_version=version)
            got_g.offset = want_g.offset = offset
            got = ks.bernoulli(p, generator=got_g, **kwargs)
            with ks.use_engine("portable"):
                want = ks.bernoulli(p, generator=want_g, **kwargs)
            assert conf.same_bits(got, want) and got_g.offset == want_g.offset, (p.shape, p.dtype, kwargs, offset)
    for dtype in (torch.float32, torch.bool, torch.float16):
        p = torch.rand(16, generator=gen)
        got, want = torch.empty(16, 2, dtype=dtype)[:, 0], torch.empty(16, dtype=dtype)
        ks.bernoulli(p, generator=ks.Generator(2), out=got)
        with ks.use_engine("portable"):
            ks.bernoulli(p, generator=ks.Generator(2), out=want)
        assert conf.same_bits(got.contiguous(), want)
