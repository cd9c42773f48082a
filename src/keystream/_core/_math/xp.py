"""Which array library the reference forms compute in.

The reference forms (``numpy_forms``, ``_philox.philox4x32``, the reference engine's
draws) are written once, on numpy's API.  ``keystream.jax`` runs the same functions on
jax.numpy arrays (under ``jax.jit`` too): each form asks :func:`namespace` for the library
of its inputs, so there is no second copy of a formula to keep equal.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["namespace"]


def namespace(*arrays: Any) -> Any:
    """jax.numpy if any of ``arrays`` is a JAX array (or tracer), else numpy."""
    jax = sys.modules.get("jax")
    if jax is not None:
        for a in arrays:
            if isinstance(a, jax.Array):
                import jax.numpy as jnp

                return jnp
    return np
