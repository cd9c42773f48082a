"""keystream.jax: every draw equals keystream's torch draw bit for bit, eagerly and under
jax.jit and jax.vmap; the PRNG implementation follows keystream's keys; initialisers and
dropout masks equal keystream.init's and keystream.nn's."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import keystream as ks  # noqa: E402
import keystream.init as kinit  # noqa: E402
import keystream.jax as ksj  # noqa: E402
import keystream.jax.init as jinit  # noqa: E402
import keystream.jax.nn as jnn  # noqa: E402
import keystream.nn as knn  # noqa: E402
import keystream.nn.functional as KF  # noqa: E402

N = 1031  # odd: partial blocks at both ends
F32, F64, BF16, F16 = torch.float32, torch.float64, torch.bfloat16, torch.float16
JAX = {F32: jnp.float32, F64: jnp.float64, BF16: jnp.bfloat16, F16: jnp.float16, torch.int32: jnp.int32,
       torch.int64: jnp.int64, torch.uint32: jnp.uint32, torch.uint64: jnp.uint64, torch.bool: jnp.bool_}
REG = (slice(3, 9), slice(2, 11))

#: (name, the keystream.jax draw of (key, offset, dtype), the torch draw of (g, dtype), dtypes)
CASES = [
    ("rand", lambda k, o, d, v: ksj.rand(k, N, d, offset=o, stream_version=v),
     lambda g, d: ks.rand(N, generator=g, dtype=d),
     (F32, F64, BF16, F16)),
    ("randn", lambda k, o, d, v: ksj.randn(k, N, d, offset=o, stream_version=v),
     lambda g, d: ks.randn(N, generator=g, dtype=d),
     (F32, F64, BF16, F16)),
    ("randn region", lambda k, o, d, v: ksj.randn(k, (13, 17), d, offset=o, region=REG, stream_version=v),
     lambda g, d: ks.randn(13, 17, generator=g, dtype=d, region=REG), (F32, F64)),
    ("bits", lambda k, o, d, v: ksj.bits(k, N, d, offset=o, stream_version=v),
     lambda g, d: ks.bits(N, generator=g, dtype=d),
     (torch.uint32, torch.int32, torch.uint64, torch.int64)),
    ("uniform", lambda k, o, d, v: ksj.uniform(k, N, d, -2.5, 3.0, offset=o, stream_version=v),
     lambda g, d: ks.uniform(-2.5, 3.0, N, generator=g, dtype=d), (F32, F64, BF16, F16)),
    ("normal", lambda k, o, d, v: ksj.normal(k, N, d, 1.5, 3.0, offset=o, stream_version=v),
     lambda g, d: ks.normal(1.5, 3.0, N, generator=g, dtype=d), (F32, F64, BF16)),
    ("normal std 0", lambda k, o, d, v: ksj.normal(k, N, d, 0.0, 0.0, offset=o, stream_version=v),
     lambda g, d: ks.normal(0.0, 0.0, N, generator=g, dtype=d), (F32,)),
    ("randint", lambda k, o, d, v: ksj.randint(k, N, -7, 1000, d, offset=o, stream_version=v),
     lambda g, d: ks.randint(-7, 1000, (N,), generator=g, dtype=d), (torch.int32, torch.int64)),
    ("bernoulli", lambda k, o, d, v: ksj.bernoulli(k, 0.3, N, d, offset=o, stream_version=v),
     lambda g, d: ks.bernoulli(0.3, N, generator=g, dtype=d), (torch.bool, F32)),
    ("exponential", lambda k, o, d, v: ksj.exponential(k, N, d, 3.0, offset=o, stream_version=v),
     lambda g, d: ks.exponential(N, lambd=3.0, generator=g, dtype=d), (F32, F64, BF16)),
    ("cauchy", lambda k, o, d, v: ksj.cauchy(k, N, d, 1.0, 2.0, offset=o, stream_version=v),
     lambda g, d: ks.cauchy(N, median=1.0, sigma=2.0, generator=g, dtype=d), (F32, F64)),
    ("laplace", lambda k, o, d, v: ksj.laplace(k, N, d, 1.0, 2.0, offset=o, stream_version=v),
     lambda g, d: ks.laplace(N, loc=1.0, scale=2.0, generator=g, dtype=d), (F32, F64)),
    ("gumbel", lambda k, o, d, v: ksj.gumbel(k, N, d, 1.0, 2.0, offset=o, stream_version=v),
     lambda g, d: ks.gumbel(N, loc=1.0, scale=2.0, generator=g, dtype=d), (F32, F64)),
    ("log_normal", lambda k, o, d, v: ksj.log_normal(k, N, d, 0.5, 0.25, offset=o, stream_version=v),
     lambda g, d: ks.log_normal(N, mean=0.5, std=0.25, generator=g, dtype=d), (F32, F64)),
    ("geometric", lambda k, o, d, v: ksj.geometric(k, 0.2, N, d, offset=o, stream_version=v),
     lambda g, d: ks.geometric(N, p=0.2, generator=g, dtype=d), (F32, F64)),
    # (32 candidates an element: a long computation, fewer elements)
    ("trunc_normal", lambda k, o, d, v: ksj.trunc_normal(k, 67, 0.0, 1.0, -0.5, 2.0, d, offset=o, stream_version=v),
     lambda g, d: ks._torch._draws.trunc_normal(0.0, 1.0, -0.5, 2.0, 67, generator=g, dtype=d), (F32, F64)),
    ("trunc_normal tail", lambda k, o, d, v: ksj.trunc_normal(k, 67, 0.0, 1.0, 3.0, 9.0, d, offset=o,
                                                              stream_version=v),
     lambda g, d: ks._torch._draws.trunc_normal(0.0, 1.0, 3.0, 9.0, 67, generator=g, dtype=d), (F32,)),
]
#: Stream version 1 differs from 2 for 16-bit uniforms and the truncated normal only.
_V1 = {("uniform", BF16), ("uniform", F16), ("trunc_normal", F32)}
#: Long compilations (16 or 32 candidates an element, about 7 s each): the slow suite.
_SLOW = {"trunc_normal tail", "trunc_normal"}


def _param(name, j, t, d, v):
    marks = [pytest.mark.slow] if name in _SLOW or (name, d, v) in _SLOW else []
    return pytest.param(name, j, t, d, v, marks=marks, id=f"{name}-{d}-v{v}")


PARAMS = [_param(name, j, t, d, v) for name, j, t, dts in CASES for d in dts
          for v in ((1, 2) if (name, d) in _V1 else (2,))]


def _bits(a) -> bytes:
    return np.asarray(a).tobytes()


def _torch_bits(t: torch.Tensor) -> bytes:
    return (t.view(torch.int16) if t.dtype == BF16 else t).numpy().tobytes()


@pytest.mark.parametrize("name,jdraw,tdraw,dtype,version", PARAMS)
def test_each_draw_equals_keystream_eager_and_jit(name, jdraw, tdraw, dtype, version):
    g = ks.Generator(2024, stream_version=version).advance(2**64 - 50_000)  # both counter words in use
    key = jnp.asarray(np.array(g.key, dtype=np.uint32))
    want = tdraw(g.clone(), dtype)
    with jax.enable_x64(True):  # (float64 results need 64-bit JAX, as any float64 array does)
        eager = jdraw(key, g.offset, JAX[dtype], version)
        jitted = jax.jit(lambda k, o: jdraw(k, o, JAX[dtype], version))(key, jnp.uint64(g.offset))
    assert eager.dtype == JAX[dtype] and eager.shape == tuple(want.shape)
    assert _bits(eager) == _torch_bits(want)
    assert _bits(jitted) == _torch_bits(want)


def test_stream_version_argument_under_jit():
    g = ks.Generator(5, stream_version=1)
    key = jnp.asarray(np.array(g.key, dtype=np.uint32))
    want = ks.uniform(-2.0, 3.0, 99, generator=g.clone(), dtype=F16).numpy().tobytes()
    f = jax.jit(lambda k: ksj.uniform(k, 99, jnp.float16, -2.0, 3.0, stream_version=1))
    assert _bits(f(key)) == want
    assert _bits(ksj.uniform(key, 99, jnp.float16, -2.0, 3.0)) != want  # version 2 differs for 16-bit uniforms


def test_constant_key_under_jit_and_vmap():
    g = ks.Generator(11)
    key = jnp.asarray(np.array(g.key, dtype=np.uint32))
    want = _torch_bits(ks.uniform(-2.0, 3.0, 4099, generator=g.clone()))
    assert _bits(jax.jit(lambda: ksj.uniform(key, 4099, low=-2.0, high=3.0))()) == want  # the key a constant
    assert _bits(jax.jit(lambda: ksj.uniform(11, 4099, low=-2.0, high=3.0))()) == want  # an int seed
    keys = jnp.stack([jnp.asarray(np.array(ks.Generator(s).key, dtype=np.uint32)) for s in range(3)])
    got = jax.jit(jax.vmap(lambda k: ksj.randn(k, 257)))(keys)
    for s in range(3):
        assert _bits(got[s]) == _torch_bits(ks.randn(257, generator=ks.Generator(s)))
    offsets = jnp.arange(3, dtype=jnp.uint32) * 1000
    got = jax.vmap(lambda o: ksj.rand(key, 33, offset=o))(offsets)
    for i in range(3):
        assert _bits(got[i]) == _torch_bits(ks.rand(33, generator=g.clone().advance(1000 * i)))


def test_generator_key_gives_its_offset_and_is_not_advanced():
    g = ks.Generator(3).advance(77)
    assert _bits(ksj.randn(g, 50)) == _torch_bits(ks.randn(50, generator=g.clone()))
    assert g.offset == 77


def test_prng_impl_follows_keystream_keys():
    k = ksj.key(9)
    g = ks.Generator(9)
    assert tuple(np.asarray(jax.random.key_data(k)).tolist()) == g.key
    assert tuple(np.asarray(jax.random.key_data(jax.random.fold_in(k, 5))).tolist()) == g.fold_in(5).key
    kids = np.asarray(jax.random.key_data(jax.random.split(k, 3))).tolist()
    assert [tuple(c) for c in kids] == [c.key for c in ks.Generator(9).spawn(3)]
    assert [tuple(c) for c in np.asarray(jax.random.key_data(ksj.spawn(k, 3))).tolist()] == [tuple(c) for c in kids]
    assert tuple(np.asarray(jax.random.key_data(ksj.fold_in(k, "layer"))).tolist()) == g.fold_in("layer").key
    assert _bits(jax.random.bits(k, (37,))) == _torch_bits(ks.bits(37, generator=ks.Generator(9)))
    assert _bits(jax.jit(lambda k: jax.random.bits(k, (37,)))(k)) == _torch_bits(ks.bits(37, generator=g.clone()))
    with jax.enable_x64(True):
        assert _bits(jax.random.bits(k, (5,), jnp.uint64)) == _torch_bits(
            ks.bits(5, generator=ks.Generator(9), dtype=torch.uint64))
    traced = jax.jit(lambda k, i: jax.random.key_data(jax.random.fold_in(k, i)))(k, 5)
    assert tuple(np.asarray(traced).tolist()) == g.fold_in(5).key
    assert tuple(np.asarray(jax.random.key_data(ksj.key(-1))).tolist()) == ks.Generator(-1).key
    u = jax.random.uniform(k, (1000,))  # JAX's own uniform on keystream's words
    assert 0.4 < float(u.mean()) < 0.6
    gk, off = ksj.key_of(ks.Generator(9).advance(4))
    assert off == 4 and _bits(ksj.rand(gk, 8, offset=off)) == _torch_bits(ks.rand(8, generator=g.clone().advance(4)))


def test_initialisers_equal_keystream_init():
    lin = torch.nn.Conv2d(3, 4, 2)
    kinit.init_module(lin, seed=7)
    w = jinit.kaiming_uniform(a=math.sqrt(5), seed=7, name="weight", layout="flax")(None, (2, 2, 3, 4))
    assert np.array_equal(np.asarray(w), lin.weight.detach().permute(2, 3, 1, 0).numpy())
    t = torch.empty(5, 6, dtype=BF16)  # (float32 values rounded to the parameter's dtype)
    kinit.normal_(t, std=0.02, generator=kinit.parameter_generator(1, "emb"))
    got = jinit.normal(std=0.02, seed=1, name="emb")(None, (5, 6), jnp.bfloat16)
    assert _bits(got) == _torch_bits(t)
    t = torch.empty(4, 3)
    kinit.xavier_normal_(t, generator=ks.Generator(2))
    assert _bits(jinit.xavier_normal()(ksj.key(2), (4, 3))) == _torch_bits(t)
    for factory, fill in ((jinit.uniform(-1.0, 1.0, seed=3, name="a"), lambda t, g: kinit.uniform_(t, -1.0, 1.0, g)),
                          (jinit.xavier_uniform(seed=3, name="a"), lambda t, g: kinit.xavier_uniform_(t, generator=g)),
                          (jinit.kaiming_normal(seed=3, name="a"), lambda t, g: kinit.kaiming_normal_(t, generator=g))):
        t = torch.empty(3, 5)
        fill(t, kinit.parameter_generator(3, "a"))
        assert _bits(factory(None, (3, 5))) == _torch_bits(t)


@pytest.mark.parametrize("dtype", [F32, BF16, F64])
def test_dropout_equals_keystream_nn(dtype):
    g = ks.Generator(3)
    x = torch.randn(6, 10).to(dtype)
    with knn.batch(start=4, step=7):
        y = KF.dropout(x, 0.3, site="enc.drop", generator=g)
    with jax.enable_x64(True):
        xj = jnp.asarray(x.double().numpy()).astype(JAX[dtype])
        eager = jnn.dropout(xj, 0.3, g, name="enc.drop", step=7, start=4)
        jitted = jax.jit(lambda x, s: jnn.dropout(x, 0.3, g, name="enc.drop", step=s, start=4))(xj, 7)
    assert _bits(eager) == _torch_bits(y) and _bits(jitted) == _torch_bits(y)
    # a feature shard sees its part of the whole mask
    with knn.batch(start=0, step=2):
        whole = KF.dropout(x, 0.5, site="s", generator=g)
    part = jnn.dropout(jnp.asarray(x.double().numpy()[:, 4:9]).astype(JAX[dtype]) if dtype != F64 else None,
                       0.5, g, name="s", step=2, features=(10,), feature_start=(4,)) if dtype != F64 else None
    if part is not None:
        assert _bits(part) == _torch_bits(whole[:, 4:9].contiguous())
    assert jnn.dropout(jnp.ones(3), 0.5, g, name="s", step=0, deterministic=True).tolist() == [1.0] * 3


@pytest.mark.parametrize("n", [1, 2, 37, 1000, 1 << 16])
def test_permutation_equals_randperm(n):
    """keystream.jax.permutation: keystream.randperm's permutation (stream version 2), eagerly,
    under jit with a traced key, and of an array's rows; a region of it."""
    offset = (1 << 64) - 12
    want = ks.randperm(n, generator=ks.Generator(5).advance(offset)).numpy()
    words = jnp.asarray(np.array(ks.Generator(5).key, dtype=np.uint32))
    assert np.array_equal(np.asarray(ksj.permutation(5, n, offset=offset)), want)
    jitted = jax.jit(lambda k: ksj.permutation(k, n, offset=offset))(words)
    assert np.array_equal(np.asarray(jitted), want)
    rows = jnp.arange(n * 2).reshape(n, 2)
    assert np.array_equal(np.asarray(ksj.permutation(5, rows, offset=offset)), np.asarray(rows)[want])
    part = ksj.permutation(5, n, offset=offset, region=slice(n // 3, n))
    assert np.array_equal(np.asarray(part), want[n // 3:])


def test_permutation_refuses_what_it_does_not_compute():
    with pytest.raises(NotImplementedError, match="65536"):
        ksj.permutation(5, (1 << 16) + 1)
    with pytest.raises(NotImplementedError, match="version 2"):
        ksj.permutation(5, 10, stream_version=1)
    with pytest.raises(TypeError, match="x must be"):
        ksj.permutation(5, 2.5)


_SHAPES = np.array([0.1, 0.3, 0.999, 1.0, 2.5, 30.0, 0.7, 7.0])
GAMMA_CASES = [
    ("standard_gamma", lambda k, o, d, v: ksj.standard_gamma(k, np.tile(_SHAPES, 13), dtype=d, offset=o,
                                                            stream_version=v),
     lambda g, d: ks.standard_gamma(torch.tensor(np.tile(_SHAPES, 13)), generator=g, dtype=d)),
    ("standard_gamma number", lambda k, o, d, v: ksj.standard_gamma(k, 0.6, (5, 21), d, offset=o, stream_version=v),
     lambda g, d: ks.standard_gamma(0.6, (5, 21), generator=g, dtype=d)),
    ("gamma", lambda k, o, d, v: ksj.gamma(k, np.tile(_SHAPES, 13), 3.5, dtype=d, offset=o, stream_version=v),
     lambda g, d: ks.gamma(torch.tensor(np.tile(_SHAPES, 13)), 3.5, generator=g, dtype=d)),
    ("chi2", lambda k, o, d, v: ksj.chi2(k, 3.0, 101, d, offset=o, stream_version=v),
     lambda g, d: ks.chi2(3.0, (101,), generator=g, dtype=d)),
    ("beta", lambda k, o, d, v: ksj.beta(k, 0.5, np.linspace(0.2, 3.0, 101), dtype=d, offset=o, stream_version=v),
     lambda g, d: ks.beta(0.5, torch.from_numpy(np.linspace(0.2, 3.0, 101)), generator=g, dtype=d)),
    ("student_t", lambda k, o, d, v: ksj.student_t(k, np.array([0.3, 1.5, 2.0, 5.0] * 25), dtype=d, offset=o,
                                                   stream_version=v),
     lambda g, d: ks.student_t(torch.tensor([0.3, 1.5, 2.0, 5.0] * 25, dtype=F64), generator=g, dtype=d)),
    ("dirichlet", lambda k, o, d, v: ksj.dirichlet(k, np.linspace(0.3, 4.0, 4 * 25).reshape(25, 4).astype(d), d,
                                                   offset=o, stream_version=v),
     lambda g, d: ks.dirichlet(torch.from_numpy(np.linspace(0.3, 4.0, 4 * 25).reshape(25, 4)).to(d), generator=g)),
]


# (about 3 s of compilation each: stream version 1 but beta's in the slow suite)
GAMMA_PARAMS = [pytest.param(name, j, t, v, id=f"{name}-v{v}",
                             marks=[pytest.mark.slow] if v == 1 and name != "beta" else [])
                for name, j, t in GAMMA_CASES for v in (1, 2)]


@pytest.mark.parametrize("name,jdraw,tdraw,version", GAMMA_PARAMS)
def test_gamma_family_equals_keystream_eager_and_jit(name, jdraw, tdraw, version):
    """standard_gamma, gamma, chi2, beta, dirichlet and student_t: the torch draw's bits for the
    same key and offset, eagerly (float64) and under jit with a traced key (float32); with a
    constant key and parameters under jit for student_t (each compilation
    takes about a second)."""
    g = ks.Generator(2024, stream_version=version).advance(2**64 - 50_000)
    key = jnp.asarray(np.array(g.key, dtype=np.uint32))
    with jax.enable_x64(True):
        assert _bits(jdraw(key, g.offset, jnp.float64, version)) == _torch_bits(tdraw(g.clone(), F64))
        jitted = jax.jit(lambda k, o: jdraw(k, o, jnp.float32, version))
        assert _bits(jitted(key, jnp.uint64(g.offset))) == _torch_bits(tdraw(g.clone(), F32))
        if name == "student_t":  # (its x / sqrt(y) too)
            want = _torch_bits(tdraw(g.clone(), F64))
            assert _bits(jax.jit(lambda: jdraw(g, 0, jnp.float64, version))()) == want


def test_gamma_family_traced_parameters_and_checks():
    g = ks.Generator(9)
    alpha = np.linspace(0.2, 5.0, 64)
    want = _torch_bits(ks.standard_gamma(torch.tensor(alpha), generator=g.clone()))
    with jax.enable_x64(True):
        assert _bits(jax.jit(lambda a: ksj.standard_gamma(g, a, dtype=jnp.float64))(jnp.asarray(alpha))) == want
        want_b = _torch_bits(ks.beta(torch.tensor(alpha), 2.0, generator=g.clone(), dtype=F32))
        assert _bits(jax.jit(lambda a: ksj.beta(g, a, 2.0))(jnp.asarray(alpha))) == want_b
    keys = jnp.stack([jnp.asarray(np.array(ks.Generator(s).key, dtype=np.uint32)) for s in range(3)])
    with jax.enable_x64(True):  # (vmap over keys)
        got = jax.vmap(lambda k: ksj.standard_gamma(k, 0.7, (33,), jnp.float64))(keys)
    for s in range(3):
        assert _bits(got[s]) == _torch_bits(ks.standard_gamma(0.7, (33,), generator=ks.Generator(s), dtype=F64))
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        ksj.standard_gamma(g, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="last dimension"):
        ksj.dirichlet(g, np.ones((3, 0)))
    with pytest.raises(TypeError, match="float dtype"):
        ksj.standard_gamma(g, 1.0, (3,), jnp.int32)


def test_gamma_family_subnormal_values_flush_to_zero_under_xla():
    """XLA on the CPU flushes subnormal numbers to zero (inputs and results): keystream's
    subnormal values are 0 in keystream.jax, and so may be values below about 1e-300 whose
    computation passes through a subnormal number (tiny alphas); every other value is keystream's."""
    g = ks.Generator(5)
    want = ks.standard_gamma(1e-3, (400,), generator=g.clone(), dtype=F64).numpy()
    with jax.enable_x64(True):
        got = np.asarray(ksj.standard_gamma(g, 1e-3, (400,), jnp.float64))
    normal = (want == 0) | (np.abs(want) >= 1e-300)
    assert (np.abs(want[~normal]) < np.finfo(np.float64).tiny).any() and normal.sum() > 100
    assert got[normal].tobytes() == want[normal].tobytes()
    tiny = ~normal
    assert ((got[tiny] == 0) | (got[tiny] == want[tiny])).all()
    assert (got[np.abs(want) < np.finfo(np.float64).tiny] == 0).all()
