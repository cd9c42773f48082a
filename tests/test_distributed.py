"""Guarantees across real processes: gloo on 127.0.0.1, world sizes 1, 2 and 3.

Each rank is a separate Python process started by the test (tests/dist_worker.py) with a
DataLoader worker of its own.  The global stream of (sample index, hash of the augmented
sample) must be identical for every world size, and resuming mid-epoch at another
world size must continue it exactly.
"""
from __future__ import annotations

import json

import pytest

from _gloo import run_workers


def run_world(world: int, tmp_path, state: dict | None = None) -> dict:
    out = tmp_path / f"out-{world}-{'resume' if state else 'full'}.json"
    args = []
    if state is not None:
        path = tmp_path / f"state-{world}.json"
        path.write_text(json.dumps(state))
        args = [str(path)]
    return run_workers("dist_worker.py", world, out, *args)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    return {w: run_world(w, tmp) for w in (1, 2, 3)}, tmp


def test_global_stream_identical_for_world_sizes_1_2_3(runs):
    results, _ = runs
    ref = results[1]["stream"]
    assert len(ref) == 42 and len({i for i, _ in ref[:41]}) == 41
    for w in (2, 3):
        assert results[w]["stream"] == ref, w


def test_resume_mid_epoch_at_another_world_size(runs):
    results, tmp = runs
    state = results[2]["half_state"]  # saved by a 2-rank run after 3 global steps
    assert state["position"] == 18
    resumed = run_world(3, tmp, state)
    assert resumed["stream"] == results[1]["stream"][18:]


def test_distributed_helpers(runs):
    results, _ = runs
    for w, res in results.items():
        shared = {tuple(k[0]) for k in res["keys"]}
        per_rank = {tuple(k[1]) for k in res["keys"]}
        assert len(shared) == 1 and len(per_rank) == w
    assert "ranks [1]" in results[2]["mismatch"] and "ranks [1]" in results[3]["mismatch"]
    assert results[1]["mismatch"] == ""
