"""Stream version 1 never changes: every public draw has a golden, and every golden holds."""
from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

import keystream as ks
from keystream._conformance import INIT_FILLS, PUBLIC_DRAWS

HERE = pathlib.Path(__file__).parent
GOLDENS = json.loads((HERE / "goldens.json").read_text())


def _tool():
    spec = importlib.util.spec_from_file_location("make_goldens", HERE.parent / "tools" / "make_goldens.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: Draws whose Triton kernels run one element a lane with loops over candidates: slow in
#: Triton's interpreter at golden sizes, so there they are compared with the C engine at
#: small sizes instead (tests/test_triton_engine.py), which these goldens pin.
_SLOW_IN_THE_INTERPRETER = {"standard_gamma", "gamma", "chi2", "beta", "dirichlet", "student_t", "poisson", "binomial",
                            "sampling.sample"}


@pytest.mark.parametrize("name", sorted(GOLDENS["draws"]))
def test_golden(engine, name):
    if engine.name == "triton-interpreter" and name.split("/")[0] in _SLOW_IN_THE_INTERPRETER:
        pytest.skip("compared with the C engine in tests/test_triton_engine.py")
    try:
        got = _tool().golden(name, engine.name)
    except ValueError as err:  # a draw this engine has no kernel for (the portable engine serves it)
        if "does not implement" not in str(err):
            raise
        pytest.skip(str(err))
    assert got == GOLDENS["draws"][name]


def test_every_public_draw_has_a_golden():
    """The draws are what the modules of keystream._DRAW_MODULES export (no hand-kept list here), and the random
    initialisers of keystream.init and the dropout modules of keystream.nn: each is public and has at
    least one golden, and every golden case is one of theirs."""
    assert set(PUBLIC_DRAWS) == set(GOLDENS["draws"])
    draws = {name for module in ks._DRAW_MODULES for name in module.__all__}
    assert draws <= set(ks.__all__)
    from keystream.init import _init

    fills = {name for name in _init.__all__ if name.endswith("_")}
    assert fills == set(INIT_FILLS)
    covered = {name.split("/")[0] for name in PUBLIC_DRAWS}
    from keystream.nn import _modules

    masks = {f"nn.{name}" for name in _modules.__all__}  # the keyed dropout modules' masks
    want = draws | {f"init.{name}" for name in fills} | {"sampling.sample"} | masks
    assert covered == want, (sorted(want - covered), sorted(covered - want))


def test_golden_script_reproduces_file():
    assert _tool().make() == GOLDENS
    assert GOLDENS["stream_version"] == ks.STREAM_VERSION == 1
