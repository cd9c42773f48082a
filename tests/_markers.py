"""The skip markers every test module shares: one place says when an engine is missing."""
from __future__ import annotations

import platform

import pytest

from keystream._engines import _cpu, _triton

#: The C engine (built at install time; without a compiler keystream runs the portable engine).
requires_c = pytest.mark.skipif(_cpu._LIB is None, reason="the C engine is not built here")

#: Triton, new enough for the kernels (its CPU interpreter runs them on a machine without a GPU).
requires_triton = pytest.mark.skipif(
    not _triton.triton_available() or platform.system() != "Linux" or platform.machine() != "x86_64",
    reason=f"no usable Triton here ({_triton.unavailable_reason() or 'tested on Linux x86-64 only'})",
)
