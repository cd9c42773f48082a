"""Sharded initialisation equals single-device initialisation: gloo, 1, 2 and 4 processes."""
from __future__ import annotations

import pytest

from _gloo import run_workers


def _has_fsdp2() -> bool:
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("world", [1, 2, 4])
def test_sharded_init_equals_single_device(world, tmp_path):
    results = run_workers("dtensor_worker.py", world, tmp_path / "out.json")
    assert "Shard(0)" in results and "Replicate" in results
    for label, bad in results.items():
        if label.startswith("FSDP2") and not _has_fsdp2():
            assert isinstance(bad, str) and bad.startswith("not available"), (label, bad)
            continue
        assert bad == [], (label, bad)  # a string (FSDP2 failed) is a failure too
    if world == 4:
        assert "2-D mesh (Shard(0), Shard(1))" in results
