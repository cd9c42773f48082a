"""Weight initialisation identical on any device, dtype path and sharding.

The random initialisers of :mod:`torch.nn.init` with the same names and signatures
(``generator=`` last), plus :func:`init_module` and :func:`materialize`, which key each
parameter by ``Generator(seed).fold_in(qualified name)``; torch's initialisers that draw
nothing (``zeros_``, ``ones_``, ``constant_``, ``eye_``, ``dirac_``) are re-exported.  See
docs/init.md.
"""
from ._init import (
    calculate_gain,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    orthogonal_,
    sparse_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
)
from ._module import init_module, materialize, parameter_generator
from ._torch import constant_, dirac_, eye_, ones_, zeros_

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "init_module",
    "kaiming_normal_",
    "kaiming_uniform_",
    "materialize",
    "normal_",
    "ones_",
    "orthogonal_",
    "parameter_generator",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
