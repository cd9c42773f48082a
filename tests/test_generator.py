"""Layer 3: the Generator's state, derivation, regions, prefixes, devices and threads."""
from __future__ import annotations

import copy
import json
import pickle
import threading

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import keystream as ks
import keystream.init
from keystream._tools._conformance import same_bits


def test_default_seed_is_torchs():
    assert ks.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721


def test_manual_seed_returns_self_and_resets():
    g = ks.Generator(5)
    g.rand(10)
    g.spawn(2)
    assert g.manual_seed(5) is g
    assert (g.offset, g.spawn_count, g.initial_seed()) == (0, 0, 5)


def test_negative_seed_wraps_like_torch():
    assert ks.Generator(-1).initial_seed() == 2**64 - 1 == torch.Generator().manual_seed(-1).initial_seed()


def test_seed_is_nondeterministic_and_returned():
    g = ks.Generator()
    s = g.seed()
    assert g.initial_seed() == s
    assert ks.Generator().seed() != s


def test_key_is_split_seed():
    assert ks.Generator(0x1234_5678_9ABC_DEF0).key == (0x9ABCDEF0, 0x12345678)


def test_draw_advances_offset_by_blocks():
    g = ks.Generator(1)
    g.rand(9)  # 3 blocks of 4 float32
    assert g.offset == 3
    g.rand(3, dtype=torch.float64)  # 2 blocks of 2 float64
    assert g.offset == 5
    g.randperm(1000)  # 1 block (stream version 1: 2)
    assert g.offset == 6
    g.rand(0)
    assert g.offset == 6


def test_get_set_state_restores_a_draw():
    g = ks.Generator().manual_seed(1234)
    g.randn(7)
    state = g.get_state()
    assert state.dtype == torch.uint8 and state.numel() <= 64
    a = g.randn(5)
    g.set_state(state)
    assert same_bits(g.randn(5), a)


def test_state_dict_is_json_and_round_trips():
    g = ks.Generator(99)
    g.rand(11)
    g.spawn(3)
    d = json.loads(json.dumps(g.state_dict()))
    h = ks.Generator().load_state_dict(d)
    assert h == g and same_bits(h.rand(4), g.rand(4))
    assert d["algorithm"] == "philox4x32-10" and d["stream_version"] == 2


def test_pickle_deepcopy_clone():
    g = ks.Generator(3, device="cpu")
    g.rand(5)
    for twin in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g), copy.copy(g), g.clone()):
        assert twin == g and twin is not g
        assert same_bits(twin.rand(6), g.clone().rand(6))


def test_offset_setter_and_advance():
    g = ks.Generator(1)
    a = g.clone().advance(10).rand(4)
    g.offset = 10
    assert same_bits(g.rand(4), a)
    g.offset = 3
    g.advance(2).advance(5)
    assert g.offset == 10


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_advance_adds(a, b):
    assert ks.Generator(1).advance(a).advance(b).offset == ks.Generator(1).advance(a + b).offset


def test_fold_in_distinct_and_deterministic():
    g = ks.Generator(7)
    keys = {g.fold_in(i).key for i in range(200)} | {g.fold_in(str(i)).key for i in range(200)}
    assert len(keys) == 400
    assert g.fold_in("epoch").key == ks.Generator(7).fold_in("epoch").key
    assert g.fold_in(b"epoch").key == g.fold_in("epoch").key
    assert g.fold_in(5).key != ks.Generator(8).fold_in(5).key
    assert g.offset == 0  # the parent does not move


def test_fold_in_avoids_seed_plus_epoch_collisions():
    assert ks.Generator(0).fold_in(1).key != ks.Generator(1).fold_in(0).key


def test_spawn_distinct_deterministic_and_counted():
    g = ks.Generator(7)
    first = g.spawn(3)
    second = g.spawn(2)
    assert g.spawn_count == 5
    keys = [c.key for c in first + second]
    assert len(set(keys)) == 5
    assert keys == [c.key for c in ks.Generator(7).spawn(5)]
    assert not set(keys) & {g.fold_in(i).key for i in range(5)}


def test_prefix_invariance():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        full = ks.Generator(11).randn(1001, dtype=dtype)
        for k in (0, 1, 3, 4, 5, 500):
            assert same_bits(ks.Generator(11).randn(k, dtype=dtype), full[:k])
    assert same_bits(ks.Generator(11).randint(0, 10**15, (7,)), ks.Generator(11).randint(0, 10**15, (99,))[:7])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_region_is_slice_of_full(data):
    shape = tuple(data.draw(st.lists(st.integers(0, 6), min_size=1, max_size=3)))
    region = []
    for n in shape:
        a = data.draw(st.integers(0, n))
        region.append(slice(a, data.draw(st.integers(a, n))))
    region = tuple(region)
    draw = data.draw(st.sampled_from(["rand", "randn", "bits", "exponential", "randint", "cauchy", "laplace", "gumbel",
                                      "log_normal"]))
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
    kwargs = {} if draw in ("bits", "randint") else {"dtype": dtype}
    args = (-5, 50, shape) if draw == "randint" else shape

    def run(**kw):
        g = ks.Generator(42)
        return getattr(g, draw)(*args, **kwargs, **kw), g.offset

    full, off_full = run()
    part, off_part = run(region=region)
    assert same_bits(part, full[region].contiguous())
    assert off_part == off_full


def test_device_argument_never_changes_bits(accelerator):
    device = accelerator
    a = ks.Generator(5).randn(33, device=device)
    b = ks.Generator(5, device=device).randn(33)
    assert a.device.type == device.type == b.device.type
    assert same_bits(a.cpu(), ks.Generator(5).randn(33))
    assert same_bits(b.cpu(), a.cpu())


def test_module_functions_use_default_generator():
    ks.manual_seed(123)
    a = ks.rand(5)
    assert ks.initial_seed() == 123
    state = ks.get_state()
    b = ks.randn(3)
    ks.set_state(state)
    assert same_bits(ks.randn(3), b)
    assert same_bits(a, ks.Generator(123).rand(5))


def test_out_argument():
    out = torch.empty(2, 3)
    r = ks.rand(2, 3, generator=ks.Generator(1), out=out)
    assert r is out and same_bits(out, ks.Generator(1).rand(2, 3))
    t = torch.empty(3, 2).t()  # non-contiguous
    ks.randn(2, 3, generator=ks.Generator(1), out=t)
    assert same_bits(t.contiguous(), ks.Generator(1).randn(2, 3))


def test_tensor_parameters_equal_scalar_parameters():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        a = ks.normal(1.5, 2.5, (40,), generator=ks.Generator(3), dtype=dtype)
        b = ks.normal(torch.full((40,), 1.5), torch.tensor(2.5), generator=ks.Generator(3), dtype=dtype)
        assert same_bits(a, b)
        a = ks.uniform(-1.0, 3.0, (40,), generator=ks.Generator(3), dtype=dtype)
        b = ks.uniform(torch.full((40,), -1.0), 3.0, generator=ks.Generator(3), dtype=dtype)
        assert same_bits(a, b)
    a = ks.bernoulli(0.3, (50,), generator=ks.Generator(3))
    b = ks.bernoulli(torch.full((50,), 0.3), generator=ks.Generator(3))
    assert same_bits(a, b)


def test_tensor_parameters_with_region():
    mean = torch.arange(12.0).reshape(3, 4)
    full = ks.normal(mean, 1.0, generator=ks.Generator(9))
    part = ks.normal(mean, 1.0, generator=ks.Generator(9), region=(slice(1, 3), slice(1, 2)))
    assert same_bits(part, full[1:3, 1:2].contiguous())


def test_threads_never_share_a_block():
    g = ks.Generator(77)
    results: list[tuple[int, torch.Tensor]] = []
    lock = threading.Lock()

    def work():
        for _ in range(50):
            x = g.bits(8)  # 2 blocks each
            with lock:
                results.append(x.view(torch.int32).clone())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert g.offset == 4 * 50 * 2
    everything = torch.cat(results)
    assert same_bits(everything.sort().values, ks.Generator(77).bits(1600).view(torch.int32).sort().values)


def test_offset_near_end_of_stream():
    g = ks.Generator(1)
    g.offset = 2**64 - 3
    g.rand(8)
    assert g.offset == 2**64 - 1
    with pytest.raises(OverflowError):
        g.rand(4)
    assert g.offset == 2**64 - 1


def test_triton_randint4x_equality_documented():
    """bits(n) at offset b: element e is word e % 4 of Philox(counter=(b + e//4, 0, 0, 0), key=seed)."""
    from keystream._core._philox import philox4x32_scalar

    seed = 0xDEADBEEF12345678
    g = ks.Generator(seed)
    g.offset = 77
    words = g.bits(8).view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    key = (seed & 0xFFFFFFFF, seed >> 32)
    expect = philox4x32_scalar((77, 0, 0, 0), key) + philox4x32_scalar((78, 0, 0, 0), key)
    assert tuple(words.tolist()) == expect


def test_draws_inside_torch_compile_fall_back_cleanly():
    g = ks.Generator(5)

    @torch.compile(backend="eager")
    def f(x):
        return x + ks.randn(4, generator=g)

    zero = torch.zeros(4)
    a, b = f(zero), f(zero)
    ref = ks.Generator(5)
    assert same_bits(a, ref.randn(4)) and same_bits(b, ref.randn(4))  # fresh numbers every call
    assert g.offset == 2


def test_meta_draws_give_meta_tensors_and_take_the_real_draws_blocks():
    """Model code run under torch.device("meta") draws meta tensors; the generator moves as
    the real draws would move it, so what follows is drawn as if the model were real."""
    draws = [
        lambda g, d: g.rand(5, 7, device=d),
        lambda g, d: g.randn(1001, dtype=torch.float64, device=d),
        lambda g, d: g.normal(torch.zeros(3), 2.0, device=d),
        lambda g, d: g.randint(0, 10, (9,), device=d),
        lambda g, d: g.randperm(100, device=d),
        lambda g, d: g.cauchy(11, device=d),
        lambda g, d: g.standard_gamma(2.0, (13,), device=d),
        lambda g, d: ks.init.trunc_normal_(torch.empty(4, 6, device=d), generator=g),
    ]
    for draw in draws:
        real, meta = ks.Generator(5), ks.Generator(5)
        a, b = draw(real, "cpu"), draw(meta, "meta")
        assert b.device.type == "meta" and b.shape == a.shape and b.dtype == a.dtype
        assert meta.offset == real.offset
    with torch.device("meta"):
        assert ks.rand(3, out=torch.empty(3)).device.type == "meta"


def test_torch_spellings_of_the_generator():
    """Generator("cpu") / Generator(device=...) as torch.Generator (a positional int stays a
    seed); clone_state; fork_rng restores the states."""
    assert ks.Generator("cpu").device == torch.device("cpu")
    assert ks.Generator(torch.device("cpu")).key == ks.Generator().key
    assert ks.Generator(5, device="cpu").key == ks.Generator(5).key
    with pytest.raises(TypeError, match="device twice"):
        ks.Generator("cpu", device="cpu")
    g = ks.Generator(6)
    g.rand(5)
    twin = g.clone_state()
    assert twin == g and twin is not g
    with ks.fork_rng([g]):
        inside = g.rand(4)
    assert g == twin and torch.equal(g.rand(4), inside)
    before = ks.default_generator.get_state()
    with ks.fork_rng():
        ks.rand(3)
    assert torch.equal(ks.default_generator.get_state(), before)
    with ks.fork_rng([g], enabled=False):
        g.rand(1)
    assert g != twin
    with pytest.raises(TypeError, match="generators"):
        with ks.fork_rng([torch.Generator()]):
            pass


def test_keystream_init_stands_in_for_torch_nn_init():
    import keystream.init as init

    names = {n for n in dir(torch.nn.init) if n.endswith("_") and not n.startswith("_")}
    assert not {n for n in names if not hasattr(init, n)}
    t = torch.empty(3, 3)
    assert torch.equal(init.eye_(t), torch.eye(3)) and torch.equal(init.zeros_(t), torch.zeros(3, 3))


# Pickles written by keystream 0.2.0, when the Generator and Permutation classes lived in the
# modules keystream._generator and keystream._permutation (the package registers those names).
_PICKLED_GENERATOR = (
    "gASVoQAAAAAAAACMFGtleXN0cmVhbS5fZ2VuZXJhdG9ylIwJR2VuZXJhdG9ylJOUKYGUfZQojAVzdGF0ZZR9lCiMCWFsZ29yaXRobZSMDXBo"
    "aWxveDR4MzItMTCUjA5zdHJlYW1fdmVyc2lvbpRLAowDa2V5lF2UKEsHSwBljAZvZmZzZXSUSwKMC3NwYXduX2NvdW50lEsAdYwGZGV2aWNl"
    "lIwDY3B1lHViLg=="
)
_PICKLED_PERMUTATION = (
    "gASVnAAAAAAAAACMFmtleXN0cmVhbS5fcGVybXV0YXRpb26UjAtQZXJtdXRhdGlvbpSTlCmBlE59lCiMAW6UTegDjApyb3VuZF9rZXlzlCmM"
    "BF9rZXmUSwNLAIaUjAdfb2Zmc2V0lEsAjAhfdmVyc2lvbpRLAowFX3BrZXmUigV3TRDRAErOR+gdhpSMBl90YWJsZZROjAdfdGFibGVzlH2U"
    "dYaUYi4="
)


def test_pickles_of_0_2_0_load():
    import base64

    g = pickle.loads(base64.b64decode(_PICKLED_GENERATOR))  # Generator(7) after rand(5)
    expected = ks.Generator().manual_seed(7)
    expected.rand(5)
    assert g.get_state().equal(expected.get_state())
    assert torch.equal(g.rand(3), expected.rand(3))
    p = pickle.loads(base64.b64decode(_PICKLED_PERMUTATION))  # Permutation(1000) of Generator(3)
    assert len(p) == 1000 and p[5] == 716
    assert torch.equal(p[torch.arange(1000)], ks.Permutation(1000, generator=ks.Generator().manual_seed(3))[
        torch.arange(1000)])
