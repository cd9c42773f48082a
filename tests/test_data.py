"""keystream.data: the sampler's global stream, resumption, per-sample randomness, augmentation."""
from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import keystream as ks
from keystream.data import (
    PerSampleDataset,
    ShuffleSampler,
    augment_words,
    color_jitter,
    crop_boxes,
    cutmix_boxes,
    flip,
    mixup_lambda,
    sample_generator,
    seeded_globals,
)


def global_stream(n, B, W, epoch=0, seed=7, drop_last=False, state=None):
    """The global sample stream as W ranks see it, step by step, ranks in order."""
    ranks = []
    for r in range(W):
        s = ShuffleSampler(n, batch_size=B, seed=seed, num_replicas=W, rank=r, drop_last=drop_last)
        s.set_epoch(epoch)
        if state is not None:
            s.load_state_dict(state)
        ranks.append(list(s))
    b = B // W
    steps = len(ranks[0]) // b
    return [x for step in range(steps) for r in range(W) for x in ranks[r][step * b:(step + 1) * b]]


def test_epoch_is_a_permutation_keyed_by_fold_in():
    s = ShuffleSampler(1000, batch_size=10, seed=3)
    s.set_epoch(2)
    order = list(s)
    assert sorted(order) == list(range(1000))
    expect = ks.Permutation(1000, ks.Generator(3).fold_in(2))
    assert order == [expect[i] for i in range(1000)]
    s.set_epoch(3)
    assert list(s) != order


def test_global_stream_identical_for_every_world_size():
    for n in (100, 101, 7):
        ref = global_stream(n, 6, 1)
        for W in (2, 3, 6):
            assert global_stream(n, 6, W) == ref, (n, W)


def test_tail_is_decided_globally():
    padded = global_stream(100, 6, 3)
    assert len(padded) == 102 and padded[100:] == padded[:2]  # wraps to the epoch's start
    dropped = global_stream(100, 6, 2, drop_last=True)
    assert len(dropped) == 96 and dropped == padded[:96]


def test_resume_mid_epoch_with_another_world_size():
    full = global_stream(200, 12, 1, epoch=4)
    s = ShuffleSampler(200, batch_size=12, seed=7, num_replicas=2, rank=0)
    s.set_epoch(4)
    state = s.state_dict(steps_done=5)
    assert state["position"] == 60
    for W in (1, 3, 4):
        assert global_stream(200, 12, W, epoch=4, state=state) == full[60:]


def test_state_from_iteration_progress():
    s = ShuffleSampler(100, batch_size=4, seed=1)
    it = iter(s)
    for _ in range(10):
        next(it)
    assert s.state_dict()["position"] == 8  # whole steps only


def test_large_dataset_constant_memory():
    s = ShuffleSampler(10**10, batch_size=1024, seed=1, num_replicas=4, rank=3)
    it = iter(s)
    first = [next(it) for _ in range(5000)]
    assert len(set(first)) == 5000 and max(first) < 10**10


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"data_source": 0}, ValueError, "length"),
    ({"data_source": 10, "num_replicas": 2, "rank": 2}, ValueError, "rank"),
    ({"data_source": 10, "batch_size": 5, "num_replicas": 2, "rank": 0}, ValueError, "divisible"),
    ({"data_source": 10, "batch_size": 0}, ValueError, "batch_size"),
    ({"data_source": 10, "seed": 1.5}, TypeError, "seed"),
])
def test_sampler_bad_input(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        ShuffleSampler(**kwargs)


def test_sampler_rejects_foreign_state():
    s = ShuffleSampler(10, batch_size=2, seed=1)
    with pytest.raises(ValueError, match="seed"):
        s.load_state_dict({**s.state_dict(), "seed": 2})
    with pytest.raises(ValueError, match="length"):
        s.load_state_dict({**s.state_dict(), "n": 11})
    with pytest.raises(ValueError, match="whole number"):
        s.load_state_dict({**s.state_dict(), "position": 3})


class Toy(torch.utils.data.Dataset):
    def __len__(self):
        return 53

    def __getitem__(self, i):
        return torch.arange(6, dtype=torch.float32) + i


def augment(sample, g):
    x = sample + g.randn(6) * 0.1
    if bool(g.rand(1) < 0.5):
        x = x.flip(0)
    return x + torch.rand(6)  # a "legacy" transform using torch's global RNG


def run_loader(num_workers, loader_batch, seed=5, epoch=1):
    ds = PerSampleDataset(Toy(), seed, augment, seed_globals=True)
    ds.set_epoch(epoch)
    s = ShuffleSampler(len(ds), batch_size=4, seed=seed)
    s.set_epoch(epoch)
    loader = DataLoader(ds, batch_size=loader_batch, sampler=s, num_workers=num_workers)
    return [hashlib.sha256(row.numpy().tobytes()).hexdigest()[:16] for batch in loader for row in batch]


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_dataloader_stream_independent_of_workers_and_batch_size():
    ref = run_loader(0, 4)
    assert len(ref) == 56 and len(set(ref[:53])) == 53
    for workers, bs in ((1, 4), (3, 4), (3, 1), (2, 2), (0, 3)):
        assert run_loader(workers, bs) == ref, (workers, bs)


def test_sample_generator_is_fold_in_chain():
    g = sample_generator(1, 2, 3)
    assert g.key == ks.Generator(1).fold_in(2).fold_in("sample").fold_in(3).key


def test_seeded_globals_reproducible_and_restoring():
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    with seeded_globals(ks.Generator(9)):
        a = (torch.rand(3), np.random.rand(3), random.random())
    with seeded_globals(ks.Generator(9)):
        b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert torch.equal(torch.random.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]


def test_augment_words_match_sample_generator():
    w = augment_words(3, 1, [0, 5, 2**40])
    for row, i in zip(w, (0, 5, 2**40)):
        expect = sample_generator(3, 1, i).fold_in("augment").bits(18).view(torch.int32).numpy().view(np.uint32)
        assert np.array_equal(row, expect)


@pytest.mark.parametrize("nwords", [1, 4, 13, 18])
def test_augment_words_c_kernel_equals_the_numpy_definition(nwords, monkeypatch):
    from keystream._engines import _cpu

    idx = [0, 1, 5, 2**32 - 1, 2**32, 2**40 + 7, 2**63 - 1]
    fast = augment_words(9, 2, idx, nwords)
    monkeypatch.setattr(_cpu, "_LIB", None)
    assert np.array_equal(fast, augment_words(9, 2, idx, nwords))


def test_augment_batched_equals_one_at_a_time(device):
    idx = [4, 9, 1, 100]
    batched = (flip(1, 2, idx, device=device), crop_boxes(1, 2, idx, 64, 48, device=device),
               mixup_lambda(1, 2, idx, device=device), cutmix_boxes(1, 2, idx, 32, 32, device=device)[0],
               color_jitter(1, 2, idx, 0.4, 0.4, 0.4, 0.1, device=device)["order"])
    singles = [(flip(1, 2, [i]), crop_boxes(1, 2, [i], 64, 48), mixup_lambda(1, 2, [i]),
                cutmix_boxes(1, 2, [i], 32, 32)[0], color_jitter(1, 2, [i], 0.4, 0.4, 0.4, 0.1)["order"])
               for i in idx]
    for k, t in enumerate(batched):
        assert t.device.type == device.type
        assert torch.equal(t.cpu(), torch.cat([s[k] for s in singles]))


@pytest.mark.parametrize("alpha", [0.2, 0.4, 1.0, 2.0])
def test_mixup_lambda_is_beta(alpha):
    """Beta(alpha, alpha): mean 1/2, variance 1 / (4 (2 alpha + 1)), inside [0, 1]; and a
    Kolmogorov-Smirnov test against the Beta cdf (scipy, a test dependency)."""
    lam = mixup_lambda(7, 3, range(40_000), alpha=alpha).numpy()
    n = lam.size
    assert ((lam >= 0.0) & (lam <= 1.0)).all()
    var = 1.0 / (4.0 * (2.0 * alpha + 1.0))
    assert abs(lam.mean() - 0.5) < 5 * (var / n) ** 0.5
    assert abs(lam.var() - var) < 0.05 * var
    stats = pytest.importorskip("scipy.stats")  # in the test extra: skipped visibly without it
    assert stats.kstest(lam, stats.beta(alpha, alpha).cdf).pvalue > 1e-4


def test_beta_lambda_batched_equals_one_at_a_time_and_alpha_1_is_unchanged(device):
    idx = [3, 0, 77, 2**33]
    for alpha in (0.2, 3.0):
        batched = mixup_lambda(5, 1, idx, alpha=alpha, device=device)
        singles = torch.cat([mixup_lambda(5, 1, [i], alpha=alpha) for i in idx])
        assert torch.equal(batched.cpu(), singles)
        boxes, lam = cutmix_boxes(5, 1, idx, 32, 40, alpha=alpha, device=device)
        assert boxes.device.type == device.type and lam.shape == (4,)
    # alpha = 1 keeps the uniform lambda of words 14-15 (the stream of earlier releases)
    w = augment_words(5, 1, idx)
    u = (w[:, 14].astype(np.uint64) | (w[:, 15].astype(np.uint64) << np.uint64(32))) >> np.uint64(11)
    assert np.array_equal(mixup_lambda(5, 1, idx).numpy(), u.astype(np.float64) * 2.0**-53)


def test_augment_ranges():
    idx = list(range(2000))
    boxes = crop_boxes(0, 0, idx, 50, 80)
    top, left, h, w = boxes.unbind(1)
    assert bool(((top >= 0) & (left >= 0) & (top + h <= 50) & (left + w <= 80) & (h >= 1) & (w >= 1)).all())
    f = flip(0, 0, idx, p=0.25).float().mean()
    assert abs(float(f) - 0.25) < 0.05
    order = color_jitter(0, 0, idx)["order"]
    assert bool((order.sort(1).values == torch.arange(4)).all())
    for alpha in (0, -1.0, float("nan"), float("inf"), True, "0.2"):
        with pytest.raises(ValueError, match="alpha"):
            mixup_lambda(0, 0, idx, alpha=alpha)
        with pytest.raises(ValueError, match="alpha"):
            cutmix_boxes(0, 0, idx, 8, 8, alpha=alpha)
    with pytest.raises(ValueError, match="p must be"):
        flip(0, 0, idx, p=2.0)


def test_elastic_training_example_resumes_bitwise():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "elastic_training.py"
    spec = importlib.util.spec_from_file_location("elastic_training", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main()


def _loader_draws(workers: int, context: str | None, **kwargs) -> list[tuple[float, float]]:
    from _worker_data import DefaultGeneratorDraws

    torch.manual_seed(123)
    loader = DataLoader(DefaultGeneratorDraws(12), batch_size=None, num_workers=workers,
                        multiprocessing_context=context, **kwargs)
    return [tuple(x.tolist()) for x in loader]


@pytest.mark.parametrize("workers,context", [(2, "fork"), (3, "fork"), (2, "spawn")])
def test_default_generator_differs_between_workers(workers, context):
    """Every worker starts from the parent's default generator (or a fresh one): it is
    reseeded from torch's per-worker seed, so workers never repeat each other, and a run
    is as reproducible as torch.manual_seed makes the loader."""
    first = _loader_draws(workers, context)
    assert len(set(first)) == len(first)  # no two samples (in any two workers) alike
    assert _loader_draws(workers, context) == first


def test_an_explicit_seed_in_a_worker_is_kept():
    from _worker_data import seed_keystream

    draws = _loader_draws(2, "fork", worker_init_fn=seed_keystream)
    # items are dealt round-robin: item 0 is worker 0's first draw, item 1 worker 1's
    assert draws[0] == tuple(ks.Generator(1000).rand(2, dtype=torch.float64).tolist())
    assert draws[1] == tuple(ks.Generator(1001).rand(2, dtype=torch.float64).tolist())


def test_keystream_loader_makes_the_sampler_state_count_what_training_received():
    from keystream.data import DataLoader as KsLoader

    s = ShuffleSampler(100, batch_size=4, seed=1)
    loader = KsLoader(list(range(100)), batch_size=4, sampler=s, num_workers=2)
    it = iter(loader)
    seen = [next(it).tolist() for _ in range(3)]
    state = s.state_dict()
    assert state["position"] == 12  # torch's DataLoader alone: the prefetched 28
    del it
    resumed = ShuffleSampler(100, batch_size=4, seed=1)
    resumed.load_state_dict(state)
    rest = [b.tolist() for b in KsLoader(list(range(100)), batch_size=4, sampler=resumed)]
    full = [b.tolist() for b in DataLoader(list(range(100)), batch_size=4, sampler=ShuffleSampler(100, 4, seed=1))]
    assert seen + rest == full


def test_dataloader_takes_a_keystream_generator():
    g = ks.Generator(1)
    loader = ks.data.DataLoader(list(range(10)), 3, True, generator=g)  # (shuffle positional, as torch allows)
    first = [v for batch in loader for v in batch.tolist()]
    second = [v for batch in loader for v in batch.tolist()]
    h = ks.Generator(1)
    assert first == ks.randperm(10, generator=h).tolist() and second == ks.randperm(10, generator=h).tolist()
    assert g.spawn_count == 1  # the workers' base seed: g.torch_generator(), made once
    plain = ks.data.DataLoader(list(range(4)), batch_size=2, generator=ks.Generator(2))
    assert [b.tolist() for b in plain] == [[0, 1], [2, 3]]


def test_resume_survives_the_epoch_loop_s_set_epoch():
    """load_state_dict, then the epoch loop's set_epoch of that epoch: the epoch continues."""
    s = ks.data.ShuffleSampler(20, batch_size=4, seed=3)
    s.set_epoch(2)
    it = iter(s)
    first = [next(it) for _ in range(8)]
    state = s.state_dict(steps_done=2)
    rest = list(it)
    t = ks.data.ShuffleSampler(20, batch_size=4, seed=3)
    t.load_state_dict(state)
    t.set_epoch(2)  # what `for epoch in range(start, epochs): sampler.set_epoch(epoch)` does
    assert first + list(t) == first + rest
    t.set_epoch(2)  # after an iteration, set_epoch starts the epoch over
    assert list(t) == first + rest
    u = ks.data.ShuffleSampler(20, batch_size=4, seed=3)
    u.load_state_dict(state)
    u.set_epoch(3)  # another epoch: from its start
    assert len(list(u)) == 20


def test_steps_done_beyond_what_was_handed_out_is_refused():
    s = ks.data.ShuffleSampler(20, batch_size=4, seed=3)
    assert s.state_dict(steps_done=2)["position"] == 8  # no iteration yet: a computed state
    it = iter(s)
    [next(it) for _ in range(4)]
    with pytest.raises(ValueError, match="steps_done = 3"):
        s.state_dict(steps_done=3)
    assert s.state_dict(steps_done=1)["position"] == 4
