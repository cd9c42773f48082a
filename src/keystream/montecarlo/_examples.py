"""The worked examples behind ``keystream mc``: pi, a European call, an Asian call, an integral.

Each integrand uses only IEEE elementwise arithmetic and :func:`keystream.montecarlo.exp`
(never torch.exp, torch.cumsum or fused ops such as addcmul, whose bits differ between
devices), so each estimate is the same on every device and for any chunking.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._core._detmath import exp
from ._estimate import Draws, Estimate, estimate
from ._integrands import InBall

__all__ = ["EXAMPLES", "Example", "pi_integrand", "european_call", "asian_call", "peak_integral",
           "black_scholes_call"]


#: 1 where a uniform point of the unit square falls inside the quarter disc (mean pi/4):
#: ``x*x + y*y < 1`` in float32.  An :class:`InBall`, so on the CPU the estimator runs
#: its fused kernel (same bits as the torch ops).
pi_integrand = InBall(2)


def black_scholes_call(s0: float, k: float, r: float, sigma: float, t: float) -> float:
    """The closed form of a European call (host math, for comparison only)."""
    d1 = (math.log(s0 / k) + (r + sigma * sigma / 2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    return s0 * n(d1) - k * math.exp(-r * t) * n(d2)


S0, K, R, SIGMA, T = 100.0, 105.0, 0.05, 0.2, 1.0


def european_call(d: Draws) -> torch.Tensor:
    """Discounted payoff ``e^{-rT} max(S_T - K, 0)``, ``S_T = S0 exp((r - s^2/2) T + s sqrt(T) z)``."""
    z = d.randn()
    drift = (R - 0.5 * SIGMA * SIGMA) * T
    st = S0 * exp(z * (SIGMA * math.sqrt(T)) + drift)
    return torch.clamp(st - K, min=0.0) * math.exp(-R * T)


def asian_call(d: Draws, steps: int = 16) -> torch.Tensor:
    """Arithmetic-average Asian call on ``steps`` monitoring dates (no closed form)."""
    z = d.randn(steps)
    dt = T / steps
    log_s = torch.zeros(d.size, dtype=torch.float64)
    total = torch.zeros(d.size, dtype=torch.float64)
    for j in range(steps):  # a fixed-order running sum, not torch.cumsum (parallel scans round differently)
        log_s = log_s + (z[:, j] * (SIGMA * math.sqrt(dt)) + (R - 0.5 * SIGMA * SIGMA) * dt)
        total = total + S0 * exp(log_s)
    return torch.clamp(total / steps - K, min=0.0) * math.exp(-R * T)


PEAK_A, PEAK_DIM = 4.0, 6


def peak_integral(d: Draws) -> torch.Tensor:
    """Genz's product peak on [0, 1]^6: prod_i 1 / (1 + a^2 (x_i - 1/2)^2)."""
    x = d.rand(PEAK_DIM)
    c = x - 0.5
    f = 1.0 / (1.0 + PEAK_A * PEAK_A * (c * c))
    out = f[:, 0]
    for i in range(1, PEAK_DIM):
        out = out * f[:, i]
    return out


@dataclass(frozen=True)
class Example:
    fn: Callable[[Draws], torch.Tensor]
    scale: float
    truth: float | None
    what: str

    def run(self, n: int, seed: int, device: str | None = None, **kw: object) -> Estimate:
        e = estimate(self.fn, n, seed=seed, device=device, **kw)  # type: ignore[arg-type]
        if self.scale == 1.0:
            return e
        s = self.scale
        return Estimate(e.mean * s, e.stderr * s, (e.ci[0] * s, e.ci[1] * s), e.n, e.confidence, e.samples_per_s,
                        e.interrupted, e.sum_exact * int(s) if float(s).is_integer() else e.sum_exact)


EXAMPLES = {
    "pi": Example(pi_integrand, 4.0, math.pi, "pi from the quarter disc"),
    "european-call": Example(european_call, 1.0, black_scholes_call(S0, K, R, SIGMA, T),
                             f"European call S0={S0} K={K} r={R} sigma={SIGMA} T={T} (Black-Scholes)"),
    "asian-call": Example(asian_call, 1.0, None, "arithmetic Asian call, 16 dates (no closed form)"),
    "integral": Example(peak_integral, 1.0, (2.0 / PEAK_A * math.atan(PEAK_A / 2.0)) ** PEAK_DIM,
                        "Genz product peak on [0,1]^6"),
}
