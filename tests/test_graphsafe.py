"""keystream.graph_safe: the offset on the device, read by each kernel and advanced on the device,
so a replayed CUDA graph draws new numbers (checked here with the Triton interpreter engine)."""
from __future__ import annotations

import pytest
import torch

import keystream as ks
from keystream._engines import _triton

pytestmark = pytest.mark.skipif(not _triton.triton_available(), reason="no Triton here")


def _draws(g):
    return [g.randn(10), g.rand(5, dtype=torch.float64), g.randint(0, 9, (7, 3), region=(slice(2, 5), slice(1, 2))),
            g.bernoulli(0.3, (9,)), g.exponential(4, dtype=torch.float16),
            ks.normal_(torch.empty(3, 4).t(), generator=g)]


def test_draws_read_and_advance_the_device_offset():
    g, ref = ks.Generator(3), ks.Generator(3)
    g.offset = ref.offset = (1 << 64) - 40  # the 64-bit carry on the device
    with ks.use_engine("triton-interpreter"):
        with ks.graph_safe(g, "cpu") as state:
            got = _draws(g)
            inside = state.offset
        want = _draws(ref)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert inside == g.offset == ref.offset


def test_identical_launches_draw_new_numbers():
    """What a replay does: the same kernels with the same arguments, after the device offset moved."""
    launches = []
    real = _triton._run_kernel

    def record(kernel, grid, *args, **meta):  # type: ignore[no-untyped-def]
        launches.append((kernel.__name__, grid, [a for a in args if not isinstance(a, torch.Tensor)], meta))
        return real(kernel, grid, *args, **meta)

    g, ref = ks.Generator(5), ks.Generator(5)
    _triton._run_kernel = record
    try:
        with ks.use_engine("triton-interpreter"), ks.graph_safe(g, "cpu"):
            first, second = g.randn(33), g.randn(33)
    finally:
        _triton._run_kernel = real
    assert len(launches) == 2 and launches[0] == launches[1]  # nothing in a launch names the offset
    assert torch.equal(first, ref.randn(33)) and torch.equal(second, ref.randn(33))


BAD = [
    ("randperm", lambda g: g.randperm(10)),
    ("standard_gamma", lambda g: g.standard_gamma(torch.ones(3))),
    ("Permutation", lambda g: ks.Permutation(10, g)),
    ("another device", lambda g: g.rand(3, device="meta")),
]


@pytest.mark.parametrize("name,call", BAD, ids=[b[0] for b in BAD])
def test_draws_that_read_the_offset_on_the_host_raise(name, call):
    g = ks.Generator(1)
    with ks.use_engine("triton-interpreter"), ks.graph_safe(g, "cpu") as state:
        before = state.offset
        with pytest.raises(RuntimeError):
            call(g)
        assert state.offset == before
    assert g.offset == 0


def test_other_engines_and_a_second_open_raise():
    g = ks.Generator(1)
    with ks.graph_safe(g, "cpu"):
        with pytest.raises(RuntimeError, match="engine"):
            g.rand(3)  # the CPU engine reads offsets on the host
        with pytest.raises(RuntimeError, match="already open"):
            ks.graph_safe(g, "cpu").__enter__()
    assert g.offset == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_cuda_graph_replays_draw_new_numbers():  # pragma: no cover - needs a GPU
    g, ref = ks.Generator(7, device="cuda"), ks.Generator(7, device="cuda")
    graph = torch.cuda.CUDAGraph()
    with ks.graph_safe(g, "cuda"):
        static = torch.empty(1000, device="cuda")
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            static.copy_(g.randn(1000))
        outs = []
        for _ in range(3):
            graph.replay()
            outs.append(static.clone())
    ref.randn(1000)  # the capture itself drew once
    for o in outs:
        assert torch.equal(o, ref.randn(1000))
    assert g.offset == ref.offset
