"""A released stream never changes: every public draw has a golden in every stream version,
and every golden holds."""
from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

import keystream as ks
from keystream._tools._conformance import INIT_FILLS, PUBLIC_DRAWS

HERE = pathlib.Path(__file__).parent
#: The goldens of each stream version.
ALL_GOLDENS = {1: json.loads((HERE / "goldens.json").read_text()),
               2: json.loads((HERE / "goldens_v2.json").read_text())}
GOLDENS = ALL_GOLDENS[1]
#: The public draws whose values stream version 2 changed, at the golden's parameters
#: (docs/spec.md section 10); every other golden is the same in both versions.
CHANGED_IN_V2 = {
    "beta/float64-tiny", "binomial/float64-huge", "dirichlet/float64", "dirichlet/float64-tiny",
    "init.sparse_/float32", "init.trunc_normal_/float32", "init.trunc_normal_/tails", "poisson/float64-huge",
    "rand/bfloat16", "rand/float16", "randperm/int32-large", "randperm/int64", "randperm/int64-16",
    "standard_gamma/float64-tiny", "student_t/float64-tiny", "uniform/bfloat16", "uniform/bfloat16-1-2",
    "uniform/float16", "uniform/float16-tensors",
}


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
#: Cases added for stream version 2's parameters: version 1's values on the interpreter are
#: the randperm and trunc_normal kernels' (checked at the other goldens and in test_engines).
_NOT_IN_THE_INTERPRETER = {"randperm/int64-16", "randperm/int32-large", "init.trunc_normal_/tails"}


#: Draws whose version-2 kinds have no Triton kernel yet (randperm_v2, trunc_normal_v2).
_NO_V2_TRITON_KERNEL = {"randperm", "init.sparse_", "init.trunc_normal_"}


@pytest.mark.parametrize("version", sorted(ALL_GOLDENS))
@pytest.mark.parametrize("name", sorted(GOLDENS["draws"]))
def test_golden(engine, name, version):
    if engine.name == "triton-interpreter" and name in _NOT_IN_THE_INTERPRETER:
        pytest.skip("version 1's randperm and trunc_normal kernels are checked at the other goldens")
    if engine.name == "triton-interpreter" and name.split("/")[0] in _SLOW_IN_THE_INTERPRETER:
        pytest.skip("compared with the C engine in tests/test_triton_engine.py")
    if engine.name == "triton-interpreter" and version == 2 and name not in CHANGED_IN_V2:
        pytest.skip("the same values as version 1 (test_unchanged_draws_are_equal_in_both_versions)")
    if engine.name == "triton-interpreter" and version == 2 and name.split("/")[0] in _NO_V2_TRITON_KERNEL:
        pytest.skip("no Triton kernel for version 2's kind: the portable engine serves it (its goldens run)")
    try:
        got = _tool().golden(name, engine.name, version)
    except ValueError as err:  # a draw this engine has no kernel for (the portable engine serves it)
        if "does not implement" not in str(err):
            raise
        pytest.skip(str(err))
    assert got == ALL_GOLDENS[version]["draws"][name]


def test_unchanged_draws_are_equal_in_both_versions():
    """Stream version 2 changed only the draws it had to: every other golden is identical."""
    v1, v2 = ALL_GOLDENS[1]["draws"], ALL_GOLDENS[2]["draws"]
    assert set(v1) == set(v2)
    assert {name for name in v1 if v1[name] != v2[name]} == CHANGED_IN_V2


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


def test_golden_script_reproduces_files():
    tool = _tool()
    for version, goldens in ALL_GOLDENS.items():
        assert tool.make(version) == goldens
        assert goldens["stream_version"] == version
    assert ks.STREAM_VERSION == 2 and ks.STREAM_VERSIONS == (1, 2)
