"""Weight initialisation identical on any device, dtype path and sharding.

The random initialisers of :mod:`torch.nn.init` with the same names and signatures
(``generator=`` last), plus :func:`init_module` and :func:`materialize`, which key each
parameter by ``Generator(seed).fold_in(qualified name)``.  See docs/init.md.
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

__all__ = [
    "calculate_gain",
    "init_module",
    "kaiming_normal_",
    "kaiming_uniform_",
    "materialize",
    "normal_",
    "orthogonal_",
    "parameter_generator",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
]
