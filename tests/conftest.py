"""Shared fixtures: every available engine, every available device."""
from __future__ import annotations

import pytest
import torch

import keystream as ks
from keystream._engines import all_engines
from keystream._tools._selftest import devices

ENGINES = [e for e in all_engines() if e.name != "reference"]


def _engine_params() -> list:
    params = []
    for e in ENGINES:
        marks = [] if e.available() else [pytest.mark.skip(reason=f"engine {e.name} not available here")]
        params.append(pytest.param(e, id=e.name, marks=marks))
    return params


@pytest.fixture(params=_engine_params())
def engine(request):
    """Every engine except the reference (a visible skip when one is not available)."""
    return request.param


@pytest.fixture(params=[pytest.param(d, id=str(d)) for d in devices()])
def device(request) -> torch.device:
    """cpu always; cuda / mps when present."""
    return request.param


def _accelerator_params() -> list:
    others = [d for d in devices() if d.type != "cpu"]
    if others:
        return [pytest.param(d, id=str(d)) for d in others]
    return [pytest.param(None, id="no-accelerator",
                         marks=pytest.mark.skip(reason="no GPU here: nothing to compare the CPU with"))]


@pytest.fixture(params=_accelerator_params())
def accelerator(request) -> torch.device:
    """Each non-CPU device present (cuda, mps); a visible skip on a machine without one."""
    return request.param


@pytest.fixture
def patched():
    """keystream.patch_torch in effect for the test (undone whatever happens): the test patches."""
    try:
        yield
    finally:
        ks.unpatch_torch()
