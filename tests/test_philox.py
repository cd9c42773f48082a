"""Layer 0: the Random123 known answers on every engine's block function."""
from __future__ import annotations

import pathlib

import pytest
import torch

from keystream._core._philox import philox4x32
from keystream._engines import _portable
from keystream._tools._selftest import KAT

KAT_FILE = pathlib.Path(__file__).parent / "data" / "philox4x32.txt"


def _file_vectors():
    for line in KAT_FILE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, rounds, *words = line.split()
        w = [int(x, 16) for x in words]
        yield int(rounds), tuple(w[:4]), tuple(w[4:6]), tuple(w[6:10])


def test_embedded_vectors_match_file():
    assert tuple(_file_vectors()) == KAT


@pytest.mark.parametrize("rounds,ctr,key,expected", KAT)
def test_reference_kat(rounds, ctr, key, expected):
    assert tuple(int(w) for w in philox4x32(*ctr, key[0], key[1], rounds=rounds)) == expected


@pytest.mark.parametrize("rounds,ctr,key,expected", KAT)
def test_portable_kat(rounds, ctr, key, expected):
    c = [torch.tensor([x], dtype=torch.int64) for x in ctr]
    out = _portable.philox(c[0], c[1], key, c[2], c[3], rounds=rounds)
    assert tuple(int(w) for w in out) == expected


def test_engine_bits_reproduce_zero_vector(engine, device):
    """Key 0, offset 0: the first block of a bits draw is Philox(0, 0) (first KAT vector)."""
    import keystream as ks

    if not engine.supports(device):
        pytest.skip(f"{engine.name} does not run on {device}")
    g = ks.Generator(0)
    with ks.use_engine(engine.name):
        got = g.bits(4, device=device).cpu().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    assert tuple(int(x) for x in got) == KAT[0][3]


@pytest.mark.parametrize("rounds,ctr,key,expected", KAT)
def test_cpu_kat(rounds, ctr, key, expected):
    from keystream._engines import _cpu

    if _cpu._LIB is None:
        pytest.skip("the C engine is not built here")
    assert _cpu.philox(ctr, key, rounds) == expected


@pytest.mark.parametrize("rounds,ctr,key,expected", KAT)
def test_scalar_kat(rounds, ctr, key, expected):
    from keystream._core._philox import philox4x32_scalar

    assert philox4x32_scalar(ctr, key, rounds=rounds) == expected


def test_scalar_equals_the_array_form():
    """Key derivation's Python-int Philox is the numpy definition, on random counters and keys."""
    import numpy as np

    from keystream._core._philox import philox4x32_scalar

    rng = np.random.default_rng(7)
    for ctr, key in zip(rng.integers(0, 2**32, (300, 4)).tolist(), rng.integers(0, 2**32, (300, 2)).tolist()):
        want = tuple(int(w) for w in philox4x32(*ctr, key[0], key[1]))
        assert philox4x32_scalar(tuple(ctr), tuple(key)) == want
