"""keystream.nn: keyed dropout masks, the same for any batch split, shard, engine or recompute."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp

import keystream as ks
import keystream.nn as knn
from _gloo import run_workers
from _nn_model import GLOBAL_BATCH, STEP, Net, inputs, model_and_step
from keystream._core._math.torch_forms import alpha_dropout_noise

MODULES = [knn.Dropout, knn.Dropout1d, knn.Dropout2d, knn.Dropout3d, knn.AlphaDropout, knn.FeatureAlphaDropout]
SHAPES = {knn.Dropout: (9, 7, 5), knn.Dropout1d: (9, 6, 5), knn.Dropout2d: (9, 6, 3, 2),
          knn.Dropout3d: (9, 3, 2, 2, 3), knn.AlphaDropout: (9, 13), knn.FeatureAlphaDropout: (9, 5, 4)}


def _module(cls, p=0.3, **kw):
    return cls(p, generator=ks.Generator(21), name="m", **kw).train()


def _mask_words(name, step, call, shape, seed=21):
    """The definition of NOTE [ Keyed masks ]: a bits draw at offset 0 of the folded key."""
    g = ks.Generator(seed).fold_in("keystream.nn.dropout:" + name).fold_in(step).fold_in(call)
    return ks.bits(shape, generator=g).to(torch.int64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_is_torchs_formula_with_the_keyed_mask(dtype, p):
    x = ks.randn(6, 35, generator=ks.Generator(1)).to(dtype)
    m = _module(knn.Dropout, p)
    with knn.batch(0, step=4):
        y = m(x)
    keep = (_mask_words("m", 4, 0, (6, 35)) < math.ceil((1 - p) * 2**32)).to(dtype)
    assert torch.equal(y, x * keep.div_(1 - p))


@pytest.mark.parametrize("cls", MODULES)
def test_micro_batches_give_the_full_batch_masks(cls):
    shape = SHAPES[cls]
    x = ks.randn(shape, generator=ks.Generator(2))
    m = _module(cls)
    with knn.batch(0, step=3):
        full = m(x)
    pieces = []
    for a, b in ((0, 2), (2, 3), (3, 9)):
        with knn.batch(a, step=3):
            pieces.append(m(x[a:b]))
    assert torch.equal(torch.cat(pieces), full)
    with knn.batch(0, step=4):
        assert not torch.equal(m(x), full)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cls", MODULES)
def test_kernel_equals_definition(cls, dtype, engine):
    """Each engine's kernel (C, Triton in its interpreter) against the torch definition."""
    shape = SHAPES[cls]
    x = ks.randn(shape, generator=ks.Generator(4), dtype=dtype)
    m = _module(cls, 0.37)
    starts = (0, 1, 3, 2**40 + 1)  # odd starts: mask elements that begin inside a block
    with ks.use_engine("portable"):
        want = []
        for s in starts:
            with knn.batch(s, step=1):
                want.append(m(x))
    with ks.use_engine(engine.name):
        for s, w in zip(starts, want):
            with knn.batch(s, step=1):
                assert torch.equal(m(x), w)


def test_odd_sizes_and_large_starts_on_the_kernels(engine):
    for n in (1, 3, 255, 257, 4097):
        x = ks.randn(2, n, generator=ks.Generator(n))
        m = _module(knn.Dropout, 0.2)
        for start in (0, 7, 2**50 + 3):
            with ks.use_engine("portable"), knn.batch(start, step=9):
                want = m(x)
            with ks.use_engine(engine.name), knn.batch(start, step=9):
                assert torch.equal(m(x), want)


def test_feature_shards_give_the_full_masks():
    x = ks.randn(4, 10, 6, generator=ks.Generator(5))  # (N, S, H), sharded on S
    m = _module(knn.Dropout, 0.4)
    with knn.batch(0, step=2):
        full = m(x)
    for a, b in ((0, 3), (3, 4), (4, 10)):
        shard = _module(knn.Dropout, 0.4, features=(10, 6), feature_start=(a, 0))
        with knn.batch(0, step=2):
            assert torch.equal(shard(x[:, a:b]), full[:, a:b])
    # channel shards of a feature form
    x = ks.randn(3, 8, 5, generator=ks.Generator(6))
    m = _module(knn.Dropout1d, 0.5)
    with knn.batch(0, step=2):
        full = m(x)
    shard = _module(knn.Dropout1d, 0.5, features=(8, 5), feature_start=(2, 0))
    with knn.batch(0, step=2):
        assert torch.equal(shard(x[:, 2:6]), full[:, 2:6])


@pytest.mark.parametrize("world", [2, 3])
def test_data_parallel_ranks_give_the_full_batch(world, tmp_path):
    x = inputs().requires_grad_()
    y = model_and_step(x, start=0)
    got = run_workers("dropout_worker.py", world, tmp_path / "out.json")
    assert got["y"] == [v.hex() for v in y.detach().flatten().double().tolist()]
    assert got["grad"] == [v.hex() for v in x.grad.flatten().double().tolist()]


@pytest.mark.parametrize("cls", MODULES)
def test_gradient_is_the_mask_times_the_scale(cls):
    shape = SHAPES[cls]
    x = ks.randn(shape, generator=ks.Generator(7)).requires_grad_()
    m = _module(cls)
    with knn.batch(0, step=0):
        y = m(x)
    gy = ks.randn(shape, generator=ks.Generator(8))
    y.backward(gy)
    with knn.batch(0, step=0):  # the same call: the same mask
        probe = m(torch.zeros(shape) if cls in (knn.AlphaDropout, knn.FeatureAlphaDropout) else torch.ones(shape))
    if cls in (knn.AlphaDropout, knn.FeatureAlphaDropout):  # a kept unit's shift is > 0, a dropped one's < 0
        mult = alpha_dropout_noise((probe > 0).to(probe.dtype), m.p)[0]
    else:
        mult = probe  # keep / (1 - p)
    assert torch.equal(x.grad, gy * mult)


def test_backward_saves_no_mask():
    x = torch.randn(64, 1000, requires_grad=True)
    w = torch.ones(1000, requires_grad=True)
    m = _module(knn.Dropout, 0.5)
    saved: list[int] = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = m(x * w)
    mul_saves = (64 * 1000 + 1000) * 4  # x * w saves its two inputs
    assert sum(saved) == mul_saves  # keystream's dropout saves no tensor (three ints on its context)
    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.nn.functional.dropout(x * w, 0.5)
    assert sum(saved) - mul_saves >= 64 * 1000  # torch's: at least a byte per element
    y.sum().backward()


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_recompute_draws_the_first_forwards_mask(reentrant):
    torch.manual_seed(0)
    net = knn.name_modules(Net(ks.Generator(12)))
    x = inputs().requires_grad_()
    with knn.batch(0, step=1):
        y = net(x)
        y.square().sum().backward()
    want_y, want_grad = y.detach(), x.grad.clone()
    want_w = net.proj.grad.clone()
    net.zero_grad()
    x.grad = None
    with knn.batch(0, step=1):
        y2 = cp.checkpoint(net, x, use_reentrant=reentrant)
        y2.square().sum().backward()
    assert torch.equal(y2.detach(), want_y)
    assert torch.equal(x.grad, want_grad)
    assert torch.equal(net.proj.grad, want_w)


def test_recompute_of_a_site_used_twice_in_a_step_raises():
    m = _module(knn.Dropout)
    x = torch.randn(4, 8, requires_grad=True)

    def twice(v):  # (the product saves tensors: the backward pass recomputes the segment)
        return m(m(v) * v)

    with knn.batch(0, step=0):
        y = cp.checkpoint(twice, x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="ran 2 times"):
        y.sum().backward()


def test_calls_within_a_step_draw_new_masks_and_batch_restarts_them():
    m = _module(knn.Dropout)
    x = torch.ones(4, 64)
    with knn.batch(0, step=0):
        a, b = m(x), m(x)
    assert not torch.equal(a, b)
    keep = _mask_words("m", 0, 1, (4, 64)) < math.ceil(0.7 * 2**32)
    assert torch.equal(b != 0, keep)
    with knn.batch(0, step=0):
        assert torch.equal(m(x), a)


def test_the_step_counts_optimizer_steps_and_set_step_resumes():
    lin = torch.nn.Linear(8, 8)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    m = _module(knn.Dropout)
    knn.set_step(40)
    x = torch.ones(2, 64)
    first = m(x)
    opt.step()
    assert knn.get_step() == 41
    second = m(x)
    assert torch.equal(first != 0, _mask_words("m", 40, 0, (2, 64)) < math.ceil(0.7 * 2**32))
    assert torch.equal(second != 0, _mask_words("m", 41, 0, (2, 64)) < math.ceil(0.7 * 2**32))
    knn.set_step(40)
    m2 = _module(knn.Dropout)
    assert torch.equal(m2(x), first)


def test_name_modules_names_by_path():
    net = knn.name_modules(Net())
    assert net.drop2.site.name == "drop2"
    outer = knn.name_modules(torch.nn.Sequential(Net()), prefix="model")
    assert outer[0].drop.site.name == "model.0.drop"


def test_eval_p0_p1_and_empty():
    x = torch.randn(3, 5)
    for cls in MODULES:
        shape = SHAPES[cls]
        v = torch.randn(shape)
        assert cls(0.5).eval()(v) is v
        assert cls(0.0)(v) is v
        z = cls(1.0)(v)
        assert torch.equal(z, v * torch.zeros(()))
    e = torch.empty(0, 4)
    assert knn.Dropout(0.5)(e) is e
    assert knn.Dropout(0.5, inplace=True)(x) is x


def test_inplace_writes_the_input():
    x = ks.randn(4, 9, generator=ks.Generator(9))
    m = _module(knn.Dropout, 0.3)
    with knn.batch(0, step=0):
        want = m(x)
    m.inplace = True
    with knn.batch(0, step=0):
        got = m(x)
    assert got is x and torch.equal(x, want)


def test_unbatched_feature_input_is_sample_start():
    x = ks.randn(2, 6, 5, generator=ks.Generator(10))
    m = _module(knn.Dropout1d, 0.5)
    with knn.batch(0, step=0):
        full = m(x)
    with knn.batch(1, step=0):
        assert torch.equal(m(x[1]), full[1])


def test_full_batch_reference_of_the_workers():
    # the workers' model (tests/_nn_model.py) at the global batch: masks really drop
    x = inputs()
    y = model_and_step(x.clone().requires_grad_(), start=0)
    torch.manual_seed(0)
    plain = Net().eval()(x)
    assert y.shape == plain.shape == (GLOBAL_BATCH, 4, 6) and STEP == 5
    assert bool((y != plain).any())


def test_functional_dropout_without_a_site_is_torch_s_call_under_torch_random():
    """NOTE [ dropout without a site ]: torch's call as it is, the mask from the generator."""
    from keystream.nn import functional as KF

    x = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0))
    for ours, theirs in [(KF.dropout, F.dropout), (KF.alpha_dropout, F.alpha_dropout),
                         (KF.dropout1d, F.dropout1d), (KF.dropout2d, F.dropout2d),
                         (KF.feature_alpha_dropout, F.feature_alpha_dropout)]:
        got = ours(x, 0.4, True, generator=ks.Generator(3))
        with ks.torch_random(ks.Generator(3)):
            want = theirs(x, 0.4, True)
        assert torch.equal(got, want), ours.__name__
    g = ks.Generator(5)
    y = x.clone()
    assert KF.dropout(y, 0.5, inplace=True, generator=g) is y and g.offset > 0
    assert KF.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="need a site"):
        KF.dropout(x, 0.5, features=(3, 5))


def test_functional_generator_keys_a_named_sites_mask():
    import keystream.nn.functional as KF

    x = torch.randn(8, 16)
    g, h = ks.Generator(1), ks.Generator(2)
    with knn.batch(step=3):
        a = KF.dropout(x, 0.5, site="f.drop", generator=g)
    with knn.batch(step=3):
        b = KF.dropout(x, 0.5, site=knn.Site("f.drop", generator=g))
    with knn.batch(step=3):
        c = KF.dropout(x, 0.5, site="f.drop", generator=h)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert g.offset == 0  # only the key is read
