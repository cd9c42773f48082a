"""NOTE [ memoised small draws ] (keystream/_torch/_memo.py): the short path of small draws is the
full path's bits, state and errors."""
from __future__ import annotations

import pytest
import torch

import keystream as ks
from keystream._torch import _memo

F16, BF16, F32, F64 = torch.float16, torch.bfloat16, torch.float32, torch.float64
FLOATS = (F16, BF16, F32, F64)

# (name, call(generator, dtype) -> tensor, dtypes): every draw and in-place form with a short path
CALLS = [
    ("rand out=", lambda g, dt: ks.rand(3, 5, generator=g, out=torch.empty(3, 5, dtype=dt)), FLOATS),
    ("randn size=", lambda g, dt: ks.randn(size=(7,), generator=g, dtype=dt), FLOATS),
    ("bits", lambda g, dt: ks.bits(9, generator=g, dtype=dt), (torch.uint32, torch.int32, torch.int64, torch.uint64)),
    ("uniform", lambda g, dt: ks.uniform(-2.0, 3.5, (5, 3), generator=g, dtype=dt), FLOATS),
    ("uniform a == b", lambda g, dt: ks.uniform(1.5, 1.5, 6, generator=g, dtype=dt), FLOATS),
    ("uniform ints", lambda g, dt: ks.uniform(-3, 7, size=11, generator=g, dtype=dt), FLOATS),
    ("normal", lambda g, dt: ks.normal(1.0, 2.0, (13,), generator=g, dtype=dt), FLOATS),
    ("normal -0", lambda g, dt: ks.normal(-0.0, 0.0, (16,), generator=g, dtype=dt), FLOATS),
    ("exponential", lambda g, dt: ks.exponential(6, lambd=3.0, generator=g, dtype=dt), FLOATS),
    ("cauchy", lambda g, dt: ks.cauchy(6, median=1.0, sigma=0.5, generator=g, dtype=dt), FLOATS),
    ("laplace", lambda g, dt: ks.laplace(6, loc=1.0, generator=g, dtype=dt), FLOATS),
    ("gumbel", lambda g, dt: ks.gumbel(6, scale=2.0, generator=g, dtype=dt), FLOATS),
    ("log_normal", lambda g, dt: ks.log_normal(6, generator=g, dtype=dt), FLOATS),
    ("geometric", lambda g, dt: ks.geometric(6, p=0.3, generator=g, dtype=dt), FLOATS),
    ("bernoulli", lambda g, dt: ks.bernoulli(0.25, (10,), generator=g, dtype=dt),
     FLOATS + (torch.bool, torch.int8, torch.int64)),
    ("randint", lambda g, dt: ks.randint(-5, 9, (10,), generator=g, dtype=dt),
     (torch.int8, torch.int16, torch.int32, torch.int64)),
    ("randint(high, size)", lambda g, dt: ks.randint(1000, (4, 4), generator=g, dtype=dt), (torch.int32, torch.int64)),
    ("uniform_", lambda g, dt: ks.uniform_(torch.empty(17, dtype=dt), -1.0, to=1.0, generator=g), FLOATS),
    ("normal_", lambda g, dt: ks.normal_(torch.empty(17, dtype=dt), 0.5, generator=g), FLOATS),
    ("exponential_", lambda g, dt: ks.exponential_(torch.empty(2, 9, dtype=dt), generator=g), FLOATS),
    ("geometric_", lambda g, dt: ks.geometric_(torch.empty(9, dtype=dt), 0.5, generator=g), FLOATS),
    ("log_normal_", lambda g, dt: ks.log_normal_(torch.empty(9, dtype=dt), std=0.5, generator=g), FLOATS),
    ("cauchy_", lambda g, dt: ks.cauchy_(torch.empty(9, dtype=dt), generator=g), FLOATS),
    ("bernoulli_", lambda g, dt: ks.bernoulli_(torch.empty(9, dtype=dt), 0.75, generator=g), FLOATS),
    ("random_(to)", lambda g, dt: ks.random_(torch.empty(9, dtype=dt), 100, generator=g), (torch.int32, torch.int64)),
    ("random_(from, to)", lambda g, dt: ks.random_(torch.empty(9, dtype=dt), -4, 100, generator=g),
     (torch.int8, torch.int64)),
    ("rand_like", lambda g, dt: ks.rand_like(torch.empty(3, 4, dtype=dt), generator=g), FLOATS),
    ("randn_like dtype=", lambda g, dt: ks.randn_like(torch.empty(2, 5), generator=g, dtype=dt), FLOATS),
    ("device=cpu", lambda g, dt: ks.bernoulli(0.9, (8, 3), generator=g, dtype=dt, device=torch.device("cpu")),
     FLOATS),
    ("device='cpu'", lambda g, dt: ks.randn(4, generator=g, dtype=dt, device="cpu"), FLOATS),
    ("method", lambda g, dt: g.uniform(0.0, 2.0, 5, dtype=dt), FLOATS),
]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype.is_floating_point:  # (bit for bit: signed zeros too)
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.view(torch.uint8), b.view(torch.uint8))
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("name,call,dtypes", CALLS, ids=[c[0] for c in CALLS])
def test_the_short_path_is_the_full_path(name, call, dtypes, version, monkeypatch):
    served = []
    serve = _memo._serve
    monkeypatch.setattr(_memo, "_serve", lambda *a: served.append(serve(*a)) or served[-1])
    for dtype in dtypes:
        for offset in (0, 5, (1 << 64) - 5000):
            first, second, full = (ks.Generator(3, stream_version=version) for _ in range(3))
            for g in (first, second, full):
                g.offset = offset
            call(first, dtype)  # (learns the entry)
            del served[:]
            got = call(second, dtype)
            assert served and served[-1] is not None, "the short path did not serve"
            with ks.use_engine("cpu"):  # (a forced engine: the full path)
                want = call(full, dtype)
            assert _same(got, want) and second.offset == full.offset


def test_zero_signs_and_number_types_have_entries_of_their_own():
    g = ks.Generator(1)
    plus = ks.normal(0.0, 0.0, (64,), generator=g)
    minus = ks.normal(-0.0, 0.0, (64,), generator=g)
    assert torch.signbit(minus).any() and not torch.signbit(plus).all()
    with ks.use_engine("cpu"):
        want = ks.normal(-0.0, 0.0, (64,), generator=ks.Generator(1).advance(16))
    assert _same(ks.normal(-0.0, 0.0, (64,), generator=ks.Generator(1).advance(16)), want)
    ks.randint(0, 10, (4,), generator=g)
    before = g.offset
    with pytest.raises(TypeError, match="high"):
        ks.randint(0, 10.0, (4,), generator=g)  # (10.0 == 10, but a float is refused)
    with pytest.raises(TypeError, match="p"):
        ks.bernoulli(True, (4,), generator=g)
    assert g.offset == before


def test_bad_input_still_fails_with_the_full_paths_errors():
    g = ks.Generator(1)
    t = torch.empty(8)
    ks.uniform_(t, 0.0, 1.0, generator=g)
    ks.uniform_(t, 0.0, 1.0, generator=g)
    state = g.get_state()
    with pytest.raises(ValueError, match="low"):
        ks.uniform_(t, 1.0, 0.0, generator=g)
    with pytest.raises(TypeError, match="multiple values|twice|got"):
        ks.uniform_(t, 0.0, from_=0.0, generator=g)
    leaf = torch.zeros(8, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad|leaf|in-place"):
        ks.uniform_(leaf, generator=g)
    with pytest.raises(ValueError, match="shape"):
        ks.uniform(0.0, 1.0, (4,), generator=g, out=t)
    with pytest.raises(TypeError, match="dtype"):
        ks.uniform(0.0, 1.0, (8,), generator=g, out=t, dtype=F64)
    assert torch.equal(g.get_state(), state)


def test_out_written_on_the_short_path_is_seen_by_autograd():
    g = ks.Generator(1)
    ks.normal_(torch.empty(4), generator=g)
    x = torch.ones(4, requires_grad=True)
    y = x * 2
    z = (y * y).sum()  # (saves y)
    with torch.no_grad():
        ks.normal_(y, generator=g)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_served_inside_a_transaction_which_sees_its_blocks_and_not_with_unusual_arguments(monkeypatch):
    """Inside another call's transaction (a draw with tensor parameters, a composite draw) the
    short path serves and records its blocks: the transaction gives them back on an exception."""
    from keystream._torch._generator import transaction

    g = ks.Generator(1)
    ks.uniform(0.0, 1.0, (4,), generator=g)
    served = []
    serve = _memo._serve
    monkeypatch.setattr(_memo, "_serve", lambda *a: served.append(serve(*a)) or served[-1])
    with pytest.raises(KeyError):
        with transaction(g):
            ks.uniform(0.0, 1.0, (4,), generator=g)
            raise KeyError
    assert g.offset == 1 and len(served) == 1 and served[0] is not None  # (rolled back: the transaction saw them)
    state = g.get_state()
    with transaction(g):  # (no exception: the blocks stay taken)
        ks.uniform(0.0, 1.0, (4,), generator=g)
    assert g.offset == 2 and served[-1] is not None
    g.set_state(state)
    ks.uniform(0.0, 1.0, (4,), generator=g)
    assert served[-1] is not None and g.offset == 2
    t = torch.empty(8)[::2]  # (not contiguous: the full path)
    with ks.use_engine("cpu"):
        want = ks.uniform_(torch.empty(4), generator=ks.Generator(1).advance(2))
    assert torch.equal(ks.uniform_(t, 0.0, 1.0, generator=g), want)


def test_entries_follow_the_default_dtype_and_the_stream_version():
    previous = torch.get_default_dtype()
    g1, g2 = ks.Generator(5, stream_version=1), ks.Generator(5)
    try:
        for dt in (F32, F64, F32):
            torch.set_default_dtype(dt)
            for g in (g1, g2):
                ref = ks.Generator().set_state(g.get_state())
                a = ks.uniform(0.0, 1.0, (5,), generator=g)
                with ks.use_engine("cpu"):
                    b = ks.uniform(0.0, 1.0, (5,), generator=ref)
                assert a.dtype == dt and _same(a, b) and ref.stream_version == g.stream_version
    finally:
        torch.set_default_dtype(previous)


def test_the_table_is_bounded(monkeypatch):
    monkeypatch.setattr(_memo, "_ENTRIES", {})
    monkeypatch.setattr(_memo, "_CONTEXT", [])
    monkeypatch.setattr(_memo, "_MAX_ENTRIES", 3)
    g = ks.Generator(1)
    for i in range(6):
        ks.normal(float(i), 1.0, (2,), generator=g)
    assert len(_memo._ENTRIES) == 3


@pytest.mark.parametrize("n", [1, 2, 3, 10, 47, 1000, 2048, 2049, 65536])
def test_permutations_sorted_in_c_are_the_definition(n, monkeypatch):
    """Stream version 2's randperm up to 2^16 (ks_perm_sort: on the stack up to 2048, then on
    the heap), on the short path from its second call, against the reference engine."""
    served = []
    serve = _memo._serve
    monkeypatch.setattr(_memo, "_serve", lambda *a: served.append(serve(*a)) or served[-1])
    for offset in (0, (1 << 64) - 7):
        for _call in range(2):  # (the first learns the entry)
            g, ref = ks.Generator(8), ks.Generator(8)
            g.offset = ref.offset = offset
            del served[:]
            got = ks.randperm(n, generator=g)
            hit = served[-1] is not None
            with ks.use_engine("reference"):
                want = ks.randperm(n, generator=ref)
            assert torch.equal(got, want) and g.offset == ref.offset
        assert hit == (n <= _memo.PERM_SORT_STACK)
    with ks.use_engine("cpu"):  # (the C engine's full path: a region, another dtype)
        part = ks.randperm(n, generator=ks.Generator(8), region=slice(n // 3, n), dtype=torch.int32)
    assert torch.equal(part, ks.randperm(n, generator=ks.Generator(8))[n // 3:].int())
    version1 = ks.Generator(8, stream_version=1)
    with ks.use_engine("reference"):
        want = ks.randperm(n, generator=ks.Generator(8, stream_version=1))
    ks.randperm(n, generator=ks.Generator(8, stream_version=1))
    assert torch.equal(ks.randperm(n, generator=version1), want)


def test_tensor_parameter_draws_take_the_short_path_for_their_standard_draw(monkeypatch):
    """normal and uniform of tensor parameters draw their standard numbers on the short path
    (inside their own transaction): the bits of the full path, and a failure after that draw
    still gives its blocks back."""
    means, stds = torch.linspace(-2.0, 2.0, 37), torch.linspace(0.0, 3.0, 37)
    calls = [lambda g: ks.normal(means, stds, generator=g), lambda g: ks.normal(means, 1.5, generator=g),
             lambda g: ks.normal(means.double(), stds.double(), generator=g),
             lambda g: ks.normal(means.half(), stds.half(), generator=g),
             lambda g: ks.uniform(means, means + stds + 0.5, generator=g),
             lambda g: ks.uniform(means.bfloat16(), (means + 1.0).bfloat16(), generator=g)]
    served = []
    serve = _memo._serve
    monkeypatch.setattr(_memo, "_serve", lambda *a: served.append(serve(*a)) or served[-1])
    g = ks.Generator(3)
    got = [[call(g) for _ in range(3)] for call in calls]
    assert sum(r is not None for r in served) >= 2 * len(calls)  # (the second and third calls at least)
    monkeypatch.setattr(_memo, "_serve", None)
    h = ks.Generator(3)
    want = [[call(h) for _ in range(3)] for call in calls]
    assert all(_same(a, b) for x, y in zip(got, want) for a, b in zip(x, y)) and g.offset == h.offset
    monkeypatch.setattr(_memo, "_serve", serve)
    ks.normal(means, stds, generator=g)
    before = g.offset
    from keystream._torch import _draws

    def failing(*args):
        raise RuntimeError("the copy into out failed")

    monkeypatch.setattr(_draws, "_finish", failing)  # (a failure after the standard draw)
    with pytest.raises(RuntimeError, match="copy into out"):
        ks.normal(means, stds, generator=g)
    assert g.offset == before
