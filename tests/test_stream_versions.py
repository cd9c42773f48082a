"""Stream versions: a generator's version is part of its state, and version 1 stays available."""
from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch

import keystream as ks
from keystream.data import ShuffleSampler


def test_default_is_the_latest_version():
    assert ks.Generator(1).stream_version == ks.STREAM_VERSION == 2
    assert ks.Generator(1, stream_version=1).stream_version == 1


@pytest.mark.parametrize("bad,err", [(3, ValueError), (0, ValueError), (True, TypeError), ("2", TypeError),
                                     (2.0, TypeError)])
def test_bad_versions_name_the_argument(bad, err):
    with pytest.raises(err, match="stream_version"):
        ks.Generator(1, stream_version=bad)


@pytest.mark.parametrize("version", [1, 2])
def test_the_version_travels_with_the_state(version):
    g = ks.Generator(9, stream_version=version)
    g.randn(5)
    other = 3 - version
    for restore in (lambda h: h.set_state(g.get_state()), lambda h: h.load_state_dict(g.state_dict()),
                    lambda h: h.load_state_dict(pickle.loads(pickle.dumps(g)).state_dict())):
        h = ks.Generator(0, stream_version=other)
        restore(h)
        assert h.stream_version == version and h == g
        assert torch.equal(h.randperm(20), g.clone().randperm(20))
    assert int(g.get_state()[5]) == version
    for child in (g.fold_in("x"), g.spawn(1)[0], g.clone(), copy.deepcopy(g)):
        assert child.stream_version == version
    buf = io.BytesIO()
    torch.save(g, buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=False).stream_version == version
    assert f"stream_version={version}" in repr(g)


def test_fork_rng_restores_the_version():
    g = ks.Generator(2)
    with ks.fork_rng([g]):
        g.set_state(ks.Generator(5, stream_version=1).get_state())
        assert g.stream_version == 1
    assert g.stream_version == 2 and g.offset == 0


def test_unknown_versions_in_states_are_refused():
    g = ks.Generator(1)
    state = g.get_state()
    state[5] = 7
    with pytest.raises(ValueError, match="stream version 7"):
        g.set_state(state)
    with pytest.raises(ValueError, match="stream_version"):
        g.load_state_dict({**g.state_dict(), "stream_version": 3})
    assert g == ks.Generator(1)


def test_a_version_change_during_a_draw_takes_nothing():
    g = ks.Generator(1)
    with pytest.raises(RuntimeError, match="stream version changed"):
        g._reserve(4, version=1)
    assert g.offset == 0


@pytest.mark.parametrize("n", [10, 70_001])
def test_blocks_consumed_per_version(n):
    for version, blocks in ((1, 2), (2, 1)):
        g = ks.Generator(3, stream_version=version)
        g.randperm(n)
        assert g.offset == blocks
        ks.Permutation(n, g)
        assert g.offset == 2 * blocks
    g = ks.Generator(3)
    ks._torch._draws.trunc_normal(0.0, 1.0, -2.0, 2.0, (5,), generator=g)
    assert g.offset == 5 * 32


@pytest.mark.parametrize("n", [10, 65536, 70_001])
@pytest.mark.parametrize("version", [1, 2])
def test_permutation_equals_randperm(n, version):
    g = ks.Generator(8, stream_version=version)
    p = ks.Permutation(n, g.clone())
    full = ks.randperm(n, generator=g)
    assert sorted(full.tolist()) == list(range(n))
    idx = torch.tensor([0, 1, n // 3, n - 1])
    assert torch.equal(p[idx], full[idx]) and int(p[n - 1]) == int(full[n - 1])
    assert torch.equal(p.range(n - 7, n), full[n - 7:])


def test_shuffle_sampler_versions():
    new, old = ShuffleSampler(100, seed=4), ShuffleSampler(100, seed=4, stream_version=1)
    a, b = list(new), list(old)
    assert sorted(a) == sorted(b) == list(range(100)) and a != b
    assert b == ks.Permutation(100, ks.Generator(4, stream_version=1).fold_in(0)).range(0, 100).tolist()
    state = old.state_dict()
    assert state["stream_version"] == 1
    with pytest.raises(ValueError, match="stream version 1"):
        new.load_state_dict(state)
    legacy = {k: v for k, v in state.items() if k != "stream_version"}  # states of keystream 0.1
    ShuffleSampler(100, seed=4, stream_version=1).load_state_dict(legacy)


def test_torch_load_of_a_generator_by_default():
    g = ks.Generator(4, stream_version=1)
    g.rand(5)
    buf = io.BytesIO()
    torch.save({"generator": g, "step": 3}, buf)
    buf.seek(0)
    restored = torch.load(buf)["generator"]  # weights_only, torch's default
    assert restored == g and restored.stream_version == 1
    assert g.get_offset() == restored.get_offset() and ks.Generator(1).set_offset(9).offset == 9
