"""keystream.numpy: every method equals its keystream draw bit for bit; the BitGenerator's
words equal keystream.bits."""
from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
import torch

import keystream as ks
import keystream.numpy as ksnp

F64, F32, F16 = torch.float64, torch.float32, torch.float16
REG = (slice(1, 4), slice(2, 5))

#: (name, numpy front end call, the keystream draw it is defined as)
CASES = [
    ("random", lambda r: r.random((3, 5)), lambda g: ks.rand(3, 5, generator=g, dtype=F64)),
    ("random f32", lambda r: r.random(7, dtype=np.float32), lambda g: ks.rand(7, generator=g, dtype=F32)),
    ("random f16", lambda r: r.random(9, dtype="float16"), lambda g: ks.rand(9, generator=g, dtype=F16)),
    ("random region", lambda r: r.random((5, 6), region=REG), lambda g: ks.rand(5, 6, generator=g, dtype=F64,
                                                                                 region=REG)),
    ("bits u32", lambda r: r.bits(11), lambda g: ks.bits(11, generator=g)),
    ("bits u64", lambda r: r.bits((2, 3), dtype=np.uint64), lambda g: ks.bits(2, 3, generator=g, dtype=torch.uint64)),
    ("bits i64 region", lambda r: r.bits(9, dtype=np.int64, region=slice(3, 8)),
     lambda g: ks.bits(9, generator=g, dtype=torch.int64, region=slice(3, 8))),
    ("standard_normal", lambda r: r.standard_normal(13), lambda g: ks.randn(13, generator=g, dtype=F64)),
    ("standard_normal f32 region", lambda r: r.standard_normal((5, 6), np.float32, region=REG),
     lambda g: ks.randn(5, 6, generator=g, dtype=F32, region=REG)),
    ("standard_exponential", lambda r: r.standard_exponential(6), lambda g: ks.exponential(6, generator=g, dtype=F64)),
    ("exponential", lambda r: r.exponential(2.0, 6), lambda g: ks.exponential(6, lambd=0.5, generator=g, dtype=F64)),
    ("standard_cauchy", lambda r: r.standard_cauchy(5), lambda g: ks.cauchy(5, generator=g, dtype=F64)),
    ("laplace", lambda r: r.laplace(1.0, 2.0, 5, np.float32),
     lambda g: ks.laplace(5, loc=1.0, scale=2.0, generator=g, dtype=F32)),
    ("gumbel", lambda r: r.gumbel(1.0, 2.0, 5), lambda g: ks.gumbel(5, loc=1.0, scale=2.0, generator=g, dtype=F64)),
    ("lognormal", lambda r: r.lognormal(0.5, 0.25, 5),
     lambda g: ks.log_normal(5, mean=0.5, std=0.25, generator=g, dtype=F64)),
    ("geometric", lambda r: r.geometric(0.3, 7), lambda g: ks.geometric(7, p=0.3, generator=g, dtype=F64).long()),
    ("uniform", lambda r: r.uniform(-2, 3, 7), lambda g: ks.uniform(-2.0, 3.0, 7, generator=g, dtype=F64)),
    ("uniform f16", lambda r: r.uniform(-2, 3, 7, np.float16), lambda g: ks.uniform(-2.0, 3.0, 7, generator=g,
                                                                                    dtype=F16)),
    ("uniform arrays", lambda r: r.uniform(np.zeros(3), [1.0, 2.0, 3.0], (2, 3)),
     lambda g: ks.uniform(torch.zeros(3, dtype=F64), torch.tensor([1.0, 2.0, 3.0], dtype=F64), (2, 3), generator=g,
                          dtype=F64)),
    ("normal", lambda r: r.normal(1.0, 3.0, 6), lambda g: ks.normal(1.0, 3.0, 6, generator=g, dtype=F64)),
    ("normal arrays region", lambda r: r.normal(np.arange(6.0), 2.0, (5, 6), region=REG),
     lambda g: ks.normal(torch.arange(6.0, dtype=F64), 2.0, (5, 6), generator=g, dtype=F64, region=REG)),
    ("integers", lambda r: r.integers(10, size=6), lambda g: ks.randint(0, 10, (6,), generator=g)),
    ("integers endpoint int8", lambda r: r.integers(-3, 3, 9, np.int8, endpoint=True),
     lambda g: ks.randint(-3, 4, (9,), generator=g, dtype=torch.int8)),
    ("integers 2^64", lambda r: r.integers(0, 2**63, 4) ^ r.integers(-2**63, 2**63 - 1, 4, endpoint=True),
     lambda g: ks.randint(0, 2**63, (4,), generator=g) ^ ks.randint(-2**63, 2**63, (4,), generator=g)),
    ("bernoulli", lambda r: r.bernoulli(0.3, 9), lambda g: ks.bernoulli(0.3, 9, generator=g, dtype=torch.bool)),
    ("bernoulli array", lambda r: r.bernoulli([0.1, 0.9], dtype=np.float32),
     lambda g: ks.bernoulli(torch.tensor([0.1, 0.9], dtype=F64), generator=g, dtype=F32)),
    ("standard_gamma", lambda r: r.standard_gamma(0.5, 9), lambda g: ks.standard_gamma(0.5, 9, generator=g,
                                                                                      dtype=F64)),
    ("standard_gamma f32 region", lambda r: r.standard_gamma(2.5, (5, 6), np.float32, region=REG),
     lambda g: ks.standard_gamma(2.5, (5, 6), generator=g, dtype=F32, region=REG)),
    ("gamma", lambda r: r.gamma(2.5, 4.0, 5), lambda g: ks.gamma(2.5, 0.25, 5, generator=g, dtype=F64)),
    ("gamma arrays", lambda r: r.gamma([1.0, 3.0], [2.0, 0.5]),
     lambda g: ks.gamma(torch.tensor([1.0, 3.0], dtype=F64), 1.0 / torch.tensor([2.0, 0.5], dtype=F64), generator=g,
                        dtype=F64)),
    ("chisquare", lambda r: r.chisquare(3.0, 5), lambda g: ks.chi2(3.0, 5, generator=g, dtype=F64)),
    ("standard_t", lambda r: r.standard_t(5.0, 5), lambda g: ks.student_t(5.0, 5, generator=g, dtype=F64)),
    ("beta", lambda r: r.beta(2.0, 3.0, 5), lambda g: ks.beta(2.0, 3.0, 5, generator=g, dtype=F64)),
    ("dirichlet", lambda r: r.dirichlet([1.0, 2.0, 0.5], 4),
     lambda g: ks.dirichlet(torch.tensor([1.0, 2.0, 0.5], dtype=F64).expand(4, 3).contiguous(), generator=g)),
    ("poisson", lambda r: r.poisson(4.0, 9), lambda g: ks.poisson(4.0, 9, generator=g, dtype=F64).long()),
    ("poisson region", lambda r: r.poisson(1e6, (5, 6), region=REG),
     lambda g: ks.poisson(1e6, (5, 6), generator=g, dtype=F64, region=REG).long()),
    ("binomial", lambda r: r.binomial(10, 0.3, 9), lambda g: ks.binomial(10.0, 0.3, 9, generator=g, dtype=F64).long()),
    ("binomial arrays", lambda r: r.binomial([5, 2**40], 0.5),
     lambda g: ks.binomial(torch.tensor([5.0, 2.0**40], dtype=F64), 0.5, generator=g, dtype=F64).long()),
    ("multinomial", lambda r: r.multinomial(20, [0.2, 0.3, 0.5], 4),
     lambda g: torch.stack([torch.bincount(row, minlength=3) for row in ks.multinomial(
         torch.tensor([0.2, 0.3, 0.5], dtype=F64).expand(4, 3), 20, True, generator=g)])),
    ("permutation int", lambda r: r.permutation(10), lambda g: ks.randperm(10, generator=g)),
    ("permutation array", lambda r: r.permutation(np.arange(20) * 3), lambda g: ks.randperm(20, generator=g) * 3),
    ("choice", lambda r: r.choice(7, (2, 3)), lambda g: ks.randint(0, 7, (6,), generator=g).reshape(2, 3)),
    ("choice no replace", lambda r: r.choice(100, 5, replace=False),
     lambda g: ks.randperm(100, generator=g, region=slice(0, 5))),
    ("choice p", lambda r: r.choice(np.arange(3) + 10, 6, p=[0.5, 0.25, 0.25]),
     lambda g: ks.multinomial(torch.tensor([0.5, 0.25, 0.25], dtype=F64), 6, True, generator=g) + 10),
    ("choice p no replace", lambda r: r.choice(4, 3, replace=False, p=[0.1, 0.2, 0.3, 0.4]),
     lambda g: ks.multinomial(torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=F64), 3, False, generator=g)),
]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("name,np_call,torch_call", CASES, ids=[c[0] for c in CASES])
def test_each_method_is_its_keystream_draw(name, np_call, torch_call, version):
    rng = ksnp.Generator(ks.Generator(77, stream_version=version).advance(2**40 + 3))
    g = ks.Generator(77, stream_version=version).advance(2**40 + 3)
    got = np.asarray(np_call(rng))
    want = torch_call(g).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    assert rng.get_state().tobytes() == bytes(g.get_state().tolist())  # the same blocks consumed


def test_out_is_filled_in_place_and_returned():
    rng, g = ksnp.default_rng(5), ks.Generator(5)
    out = np.empty((4, 6), dtype=np.float32)
    assert rng.standard_normal((4, 6), out=out) is out
    assert out.tobytes() == ks.randn(4, 6, generator=g, dtype=F32).numpy().tobytes()
    strided = np.empty((6, 4))[:, ::2]  # not contiguous
    assert rng.random((6, 2), out=strided) is strided
    assert np.array_equal(strided, ks.rand(6, 2, generator=g, dtype=F64).numpy())
    counts = np.empty(5, dtype=np.int32)
    assert rng.poisson(3.0, 5, out=counts) is counts
    assert np.array_equal(counts, ks.poisson(3.0, 5, generator=g, dtype=F64).numpy())


def test_size_none_gives_a_scalar_like_numpy():
    rng = ksnp.default_rng(1)
    for x in (rng.random(), rng.standard_normal(), rng.integers(5), rng.gamma(2.0), rng.poisson(3.0),
              rng.uniform(), rng.uniform(-1, 1), rng.normal(), rng.normal(2.0, 3.0), rng.standard_exponential(),
              rng.exponential(2.0), rng.choice(4)):
        assert np.ndim(x) == 0 and not isinstance(x, np.ndarray)  # (a numpy scalar, as numpy's)
    assert rng.normal([0.0, 1.0]).shape == (2,)


def test_numpy_and_torch_continue_one_stream():
    g = ks.Generator(9)
    rng = ksnp.Generator(g)  # shared: each draw moves both
    a = rng.random(5)
    b = g.rand(3, dtype=F64).numpy()
    c = rng.integers(0, 100, 4)
    ref = ks.Generator(9)
    assert np.array_equal(a, ref.rand(5, dtype=F64).numpy())
    assert np.array_equal(b, ref.rand(3, dtype=F64).numpy())
    assert np.array_equal(c, ref.randint(0, 100, (4,)).numpy())


def test_state_and_derivation_follow_keystream():
    rng = ksnp.default_rng(3)
    rng.random(10)
    state = rng.get_state()
    assert state.dtype == np.uint8 and state.shape == (32,)
    a = rng.standard_normal(4)
    assert np.array_equal(rng.set_state(state).standard_normal(4), a)
    g = ks.Generator(3)
    assert rng.fold_in("layer").random(3).tobytes() == g.fold_in("layer").rand(3, dtype=F64).numpy().tobytes()
    kids = rng.spawn(2)
    assert [k.key for k in kids] == [c.key for c in g.spawn(2)] and rng.spawn_count == 2
    assert pickle.loads(pickle.dumps(rng)) == rng
    assert rng.clone() == rng and rng.clone() is not rng
    assert ksnp.Generator(1, stream_version=1).stream_version == 1
    assert "keystream.numpy.Generator" in repr(rng)


def test_shuffle_in_place_and_axis():
    x = np.arange(24).reshape(4, 6)
    y = x.copy()
    ksnp.default_rng(2).shuffle(y, axis=1)
    order = ks.randperm(6, generator=ks.Generator(2)).numpy()
    assert np.array_equal(y, x[:, order])
    z = ksnp.default_rng(2).permutation(x, axis=1)
    assert np.array_equal(z, y)


# ------------------------------------------------------------------ BitGenerator
def test_bit_generator_words_are_keystream_bits():
    bg = ksnp.KeystreamBitGenerator(11)
    words = bg.random_raw(300)  # past a refill of the word buffer
    assert np.array_equal(words, ks.bits(300, dtype=torch.uint64, generator=ks.Generator(11)).numpy())
    assert bg.state["state"] == {"key": list(ks.Generator(11).key), "block": 150, "word": 0}
    # 32-bit reads: the next words of bits(uint32), in order
    bg = ksnp.KeystreamBitGenerator(11)
    rng = np.random.Generator(bg)
    x = rng.integers(0, 2**32, 3, dtype=np.uint32)
    w32 = ks.bits(8, generator=ks.Generator(11)).numpy()
    assert np.array_equal(x, w32[:3]) and bg.state["state"]["word"] == 3


def test_bit_generator_state_spawn_jumped_pickle():
    g = ks.Generator(5)
    bg = ksnp.bit_generator(g)  # the stream of g's next spawned child
    child = ks.Generator(5).spawn(1)[0]
    assert g.spawn_count == 1 and bg.key == child.key
    rng = np.random.Generator(bg)
    state = bg.state
    a = rng.standard_normal(50)
    bg.state = state
    assert np.array_equal(rng.standard_normal(50), a)
    twin = pickle.loads(pickle.dumps(bg))
    assert twin.state == bg.state and np.array_equal(twin.random_raw(5), bg.random_raw(5))
    kids = rng.spawn(2)  # numpy's Generator.spawn asks the bit generator
    assert [k.bit_generator.key for k in kids] == [c.key for c in ks.Generator(5).spawn(1)[0].spawn(2)]
    from keystream._core._keys import fold_in_key

    assert bg.jumped(2).key == fold_in_key(bg.key, b"jumped" + (2).to_bytes(8, "little"))
    with pytest.raises(ValueError, match="state"):
        bg.state = {"bit_generator": "PCG64"}


def test_bit_generator_runs_numpy_distributions_threaded():
    bg = ksnp.bit_generator(1)
    rng = np.random.Generator(bg)
    for draw in (lambda: rng.standard_normal(1000), lambda: rng.gamma(0.5, size=100), lambda: rng.choice(9, 4),
                 lambda: rng.permutation(20), lambda: rng.binomial(100, 0.3, 10), lambda: rng.random(5)):
        draw()
    z = rng.standard_normal(200_000)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    # numpy takes the bit generator's lock: threads never share a word
    bg2 = ksnp.KeystreamBitGenerator(2)
    out: list[np.ndarray] = []

    def work() -> None:
        out.append(np.random.Generator(bg2).integers(0, 2**32, 4096, dtype=np.uint32))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = np.sort(np.concatenate(out))
    assert np.array_equal(seen, np.sort(ks.bits(4 * 4096, generator=ks.Generator(2)).numpy()))


def test_permutation_object_equals_keystream_permutation():
    p = ksnp.Permutation(10**12, ksnp.default_rng(6))
    q = ks.Permutation(10**12, ks.Generator(6))
    idx = np.array([0, 5, 10**12 - 1, 123456789])
    assert np.array_equal(p[idx], q[torch.from_numpy(idx)].numpy())
    assert p[7] == int(q[7]) and len(p) == 10**12
    assert np.array_equal(p[3:9], q.range(3, 9).numpy()) and np.array_equal(p.range(3, 9), p[3:9])
    small = ksnp.Permutation(50, ks.Generator(2))
    assert np.array_equal(np.fromiter(small, int), ks.randperm(50, generator=ks.Generator(2)).numpy())
