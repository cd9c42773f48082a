"""Stream version 1 never changes: every public draw has a golden, and every golden holds."""
from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

import keystream as ks
from keystream._conformance import PUBLIC_DRAWS

HERE = pathlib.Path(__file__).parent
GOLDENS = json.loads((HERE / "goldens.json").read_text())
DRAW_FUNCTIONS = {"rand", "randn", "bits", "uniform", "normal", "exponential", "randint", "bernoulli", "randperm"}


def _tool():
    spec = importlib.util.spec_from_file_location("make_goldens", HERE.parent / "tools" / "make_goldens.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", sorted(GOLDENS["draws"]))
def test_golden(engine, name):
    assert _tool().golden(name, engine.name) == GOLDENS["draws"][name]


def test_every_public_draw_has_a_golden():
    assert set(PUBLIC_DRAWS) == set(GOLDENS["draws"])
    covered = {name.split("/")[0] for name in PUBLIC_DRAWS}
    public = {n for n in ks.__all__ if callable(getattr(ks, n)) and n in DRAW_FUNCTIONS}
    assert public <= covered
    # every public draw function is known to this test: a new one must be added to both lists
    assert DRAW_FUNCTIONS == {n for n in ks.__all__ if n in DRAW_FUNCTIONS}


def test_golden_script_reproduces_file():
    assert _tool().make() == GOLDENS
    assert GOLDENS["stream_version"] == ks.STREAM_VERSION == 1
