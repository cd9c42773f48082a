"""keystream.dask: arrays equal for every chunking and scheduler; estimate on a cluster."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.array")

import keystream.dask as ksd  # noqa: E402
import keystream.numpy as ksnp  # noqa: E402
from keystream.montecarlo import InBall, estimate  # noqa: E402

SHAPE = (37, 23)
CHUNKINGS = [(10, 7), (37, 1), (5, 23)]
DRAWS = [
    ("random", (), {}),
    ("standard_normal", (), {"dtype": np.float32}),
    ("integers", (-5, 1000), {}),
    ("uniform", (2.0, 3.0), {}),
    ("normal", (1.0, 2.0), {}),
    ("bits", (), {"dtype": np.uint64}),
    ("gamma", (0.7, 2.0), {}),
    ("poisson", (30.0,), {}),
    ("binomial", (100, 0.3), {}),
    ("bernoulli", (0.25,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", DRAWS, ids=[d[0] for d in DRAWS])
def test_every_chunking_gives_the_whole_draw(name, args, kwargs):
    want = getattr(ksnp.default_rng(8), name)(*args, size=SHAPE, **kwargs)
    for chunks in CHUNKINGS:
        rng = ksd.default_rng(8)
        got = getattr(rng, name)(*args, size=SHAPE, chunks=chunks, **kwargs)
        assert got.chunks != ((37,), (23,))
        assert got.dtype == want.dtype
        assert got.compute().tobytes() == want.tobytes()
        # building the array moved the generator as the whole draw does
        ref = ksnp.default_rng(8)
        getattr(ref, name)(*args, size=SHAPE, **kwargs)
        assert rng.generator == ref.generator


def test_successive_arrays_continue_the_stream():
    rng = ksd.default_rng(4)
    a, b = rng.random(100, chunks=30), rng.standard_normal(50, chunks=7)
    ref = ksnp.default_rng(4)
    assert np.array_equal(a.compute(), ref.random(100))
    assert np.array_equal(b.compute(), ref.standard_normal(50))


def test_estimate_equals_one_process_for_any_task_count():
    def fn(d):
        return (d.rand(3) ** 2).sum(1) < 1

    one = estimate(fn, 300_000, seed=3, chunk_size=1 << 14)
    for tasks in (1, 5, None):
        e = ksd.estimate(fn, 300_000, seed=3, chunk_size=1 << 14, tasks=tasks)
        assert e.sum_exact == one.sum_exact and e.mean == one.mean and e.stderr == one.stderr
    fused = ksd.estimate(InBall(2), 200_000, seed=1, chunk_size=1 << 15, tasks=3)
    assert fused.sum_exact == estimate(InBall(2), 200_000, seed=1, chunk_size=1 << 15).sum_exact


def test_distributed_scheduler_on_loopback():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1")
        x = ksd.default_rng(21).standard_normal((400, 30), chunks=(57, 11))
        y = ksd.default_rng(21).standard_normal((400, 30), chunks=(400, 30))
        got = client.compute(x).result()
        assert got.tobytes() == ksnp.default_rng(21).standard_normal((400, 30)).tobytes()
        assert got.tobytes() == client.compute(y).result().tobytes()
        workers = client.run(lambda: 1)
        assert len(workers) == 2

        def fn(d):
            return d.randn(2).sum(1)

        e = ksd.estimate(fn, 100_000, seed=9, chunk_size=1 << 13)
        assert e.sum_exact == estimate(fn, 100_000, seed=9, chunk_size=1 << 13).sum_exact
