"""The GPU engine's Triton kernels, run in Triton's CPU interpreter, equal the reference.

The full conformance table runs in tests/test_engines.py (the `triton-interpreter`
engine is one of the `engine` fixture's engines); this file adds what is Triton's own.
"""
from __future__ import annotations

import platform

import pytest
import torch

import keystream as ks
from keystream import _conformance as conf
from keystream._engines import _triton, get_engine

pytestmark = [
    pytest.mark.skipif(not _triton.triton_available(), reason="triton is not installed"),
    pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                       reason="the Triton interpreter is tested on Linux x86-64 only"),
]


@pytest.mark.parametrize("block", [32, 64, 256])
def test_results_independent_of_block_size(block):
    eng = _triton.TritonEngine(interpret=True, block=block)
    for name in ("randn", "uniform(-3,5)", "randint(-5,12)", "bits"):
        case = next(c for c in conf.CASES if c.name == name)
        for shape, region in (((777,), None), ((9, 13), ((2, 7), (3, 11)))):
            spec = conf.make_spec(case, case.dtypes[0], shape, region, (1 << 40) + 3)
            assert conf.same_bits(conf.run_case(eng, spec), conf.reference(spec))


RANDINT4X_SCRIPT = r"""
import torch, triton, triton.language as tl, keystream as ks

@triton.jit
def k(out, seed, offset):
    a, b, c, d = tl.randint4x(seed, offset + tl.arange(0, 8))
    i = tl.arange(0, 8) * 4
    tl.store(out + i, a.to(tl.int32, bitcast=True))
    tl.store(out + i + 1, b.to(tl.int32, bitcast=True))
    tl.store(out + i + 2, c.to(tl.int32, bitcast=True))
    tl.store(out + i + 3, d.to(tl.int32, bitcast=True))

seed = 987654321
out = torch.empty(32, dtype=torch.int32)
k[(1,)](out, seed, 11)
g = ks.Generator(seed)
g.offset = 11
assert torch.equal(out, g.bits(32).view(torch.int32)), (out, g.bits(32))
print("ok")
"""


def test_randint4x_equality():
    """Triton's own tl.randint4x(seed, offset) gives keystream's bits draw (spec section 1).

    Run in a fresh process: Triton's library functions (tl.randint4x) are only
    interpretable when triton itself was imported with TRITON_INTERPRET=1.
    """
    import os
    import subprocess
    import sys

    env = {**os.environ, "TRITON_INTERPRET": "1"}
    r = subprocess.run([sys.executable, "-c", RANDINT4X_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


def test_interpreter_engine_is_never_chosen_automatically():
    from keystream._engines import engine_for

    assert engine_for(torch.device("cpu")).name != "triton-interpreter"
    assert get_engine("triton-interpreter").supports(torch.device("cpu"))
    assert not get_engine("triton").supports(torch.device("cpu"))


def test_cuda_graph_capture_raises(monkeypatch):
    from keystream import _draws

    class FakeEngine:
        def fill(self, out, spec):  # pragma: no cover - must not be reached
            raise AssertionError

    monkeypatch.setattr(_draws, "engine_for", lambda device: FakeEngine())
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    g = ks.Generator(1)
    with pytest.raises(RuntimeError, match="CUDA graph"):
        g.rand(4, device="cuda")
    assert g.offset == 0
