"""Monte Carlo estimates that are the same bits for any chunking, process count or device.

See docs/montecarlo.md and ``keystream mc --help``.
"""
from .._core._detmath import exp, log
from ._estimate import Draws, Estimate, control_variate, estimate
from ._examples import EXAMPLES
from ._integrands import InBall

__all__ = ["EXAMPLES", "Draws", "Estimate", "InBall", "control_variate", "estimate", "exp", "log"]
