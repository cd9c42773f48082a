"""Samples of torch.distributions objects drawn with keystream's numbers.

``sample(dist, sample_shape, generator=g)`` returns what ``dist.sample(sample_shape)``
returns (its shape, dtype and device, the same distribution), with every random number a
keystream draw.  ``rsample`` does the same with torch's gradients with respect to the
distribution's parameters, where torch has them.

What is bit-identical on every device: the draws, and the elementwise steps that follow
(one IEEE operation per torch call, the stream's exp where a distribution needs one).
What is not: linear algebra torch does (the ``scale_tril @ eps`` of MultivariateNormal, a
Cholesky factor torch computes) and the transforms of a general
``TransformedDistribution`` (torch's own ``exp``, ``sigmoid``, ...); the draws they
transform are.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import distributions as D

from .._core._math.torch_forms import exp_f64, neg_log1m_f64
from .._torch import _composite, _counts, _draws
from .._torch._generator import Generator, one_call, resolve_generator

__all__ = ["rsample", "sample", "supported"]

Tensor = torch.Tensor


class _Attach(torch.autograd.Function):
    """``value`` (exact keystream numbers) with the gradient of ``surrogate``, an expression
    of the parameters equal to it in value: forward returns ``value``, backward passes the
    gradient to ``surrogate``."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, surrogate: Tensor) -> Tensor:  # type: ignore[override]
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:  # type: ignore[override]
        return None, grad


class _StandardGamma(torch.autograd.Function):
    """keystream's standard Gamma draw with torch's derivative with respect to alpha
    (``torch._standard_gamma_grad``, the implicit reparameterisation torch uses)."""

    @staticmethod
    def forward(ctx: Any, alpha: Tensor, generator: Generator) -> Tensor:  # type: ignore[override]
        x = _composite.standard_gamma(alpha.detach(), generator=generator)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        alpha, x = ctx.saved_tensors
        return grad * torch._standard_gamma_grad(alpha, x), None


def _shape(dist: D.Distribution, sample_shape: Sequence[int] | torch.Size) -> torch.Size:
    """The samples' shape (``sample_shape`` checked first, as a shape of ints >= 0)."""
    if isinstance(sample_shape, (str, bytes)) or not isinstance(sample_shape, (tuple, list, torch.Size)):
        raise TypeError(f"sample_shape must be a tuple of ints (torch.Size), got {type(sample_shape).__name__}")
    for v in sample_shape:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"sample_shape must hold ints >= 0, got {tuple(sample_shape)}")
    return dist._extended_shape(torch.Size(sample_shape))


def _like(t: Tensor) -> dict[str, Any]:
    return {"dtype": t.dtype, "device": t.device}


def _std_normal(shape: torch.Size, ref: Tensor, g: Generator) -> Tensor:
    return _draws.randn(shape, generator=g, **_like(ref))


def _gamma(alpha: Tensor, g: Generator, grad: bool) -> Tensor:
    if grad and alpha.requires_grad:
        out: Tensor = _StandardGamma.apply(alpha, g)
        return out
    return _composite.standard_gamma(alpha.detach(), generator=g)


def _normal(d: D.Normal, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return d.loc + _std_normal(shape, d.loc, g) * d.scale  # torch's rsample: loc + eps * scale


def _log_normal(d: D.LogNormal, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    base = d.base_dist
    v = _normal(base, shape, g, grad)
    value = exp_f64(v.detach()).to(v.dtype)  # the stream's exp: the same bits everywhere
    return _Attach.apply(value, torch.exp(v)) if grad and v.requires_grad else value


def _uniform(d: D.Uniform, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    u = _draws.rand(shape, generator=g, **_like(d.low))
    return d.low + u * (d.high - d.low)  # torch's rsample


def _exponential(d: D.Exponential, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return _draws.exponential(shape, generator=g, **_like(d.rate)) / d.rate


def _cauchy(d: D.Cauchy, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return d.loc + _draws.cauchy(shape, generator=g, **_like(d.loc)) * d.scale


def _laplace(d: D.Laplace, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return d.loc + _draws.laplace(shape, generator=g, **_like(d.loc)) * d.scale


def _gumbel(d: D.Gumbel, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return d.loc + _draws.gumbel(shape, generator=g, **_like(d.loc)) * d.scale


def _bernoulli(d: D.Bernoulli, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return _draws.bernoulli(d.probs.detach().expand(shape), generator=g)


def _geometric(d: D.Geometric, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    """Failures before the first success (torch's Geometric): ``floor(E / lam)`` in float64,
    ``E`` a float64 exponential draw, ``lam = -ln(1 - p)`` as :func:`keystream.geometric`
    computes it (the stream's log), per element."""
    p = d.probs.detach().to(torch.float64).expand(shape)
    if p.numel() and not bool(((p > 0) & (p < 1)).all()):
        raise ValueError("Geometric needs 0 < probs < 1 for keystream's draw")
    lam = neg_log1m_f64(p)
    e = _draws.exponential(shape, generator=g, dtype=torch.float64, device=p.device)
    return torch.floor(e / lam).to(d.probs.dtype)


def _poisson(d: D.Poisson, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return _counts.poisson(d.rate.detach().expand(shape), generator=g)


def _binomial(d: D.Binomial, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return _counts.binomial(d.total_count.detach().expand(shape), d.probs.detach().expand(shape), generator=g)


def _negative_binomial(d: D.NegativeBinomial, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    """Poisson of a Gamma(total_count, exp(-logits)) draw, as torch: the Gamma's rate with
    the stream's exp (float64, rounded once to the parameters' dtype)."""
    logits = d.logits.detach()
    rate = exp_f64(-logits.to(torch.float64)).to(logits.dtype).expand(shape)
    x = _gamma(d.total_count.detach().to(logits.dtype).expand(shape), g, False) / rate
    return _counts.poisson(x, generator=g)


def _categorical(d: D.Categorical, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    probs = d.probs.detach()
    categories = probs.shape[-1]
    rows = probs.reshape(-1, categories)
    if shape.numel() == 0:  # (as torch's Categorical, whose multinomial refuses 0 samples)
        raise RuntimeError(f"sample_shape {tuple(shape)}: cannot sample 0 values")
    n = max(1, shape.numel() // max(1, rows.shape[0]))
    draws = _composite.multinomial(rows, n, True, generator=g)  # [rows, n], as torch's Categorical
    return draws.t().reshape(shape)


def _one_hot(d: D.OneHotCategorical, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    index = _categorical(d._categorical, shape[:-1], g, grad)
    return torch.nn.functional.one_hot(index, d.probs.shape[-1]).to(d.probs.dtype)


def _gamma_dist(d: D.Gamma, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    x = _gamma(d.concentration.expand(shape), g, grad)
    return x / d.rate.expand(shape)


class _DirichletGrad(torch.autograd.Function):
    """``value``, a keystream Dirichlet draw of ``concentration`` (a Beta's as its two
    components), with torch's derivative of its Dirichlet sampler (``_Dirichlet_backward``:
    ``torch._dirichlet_grad``, the implicit reparameterisation).  Stream version 2 computes
    tiny concentrations in log space (no 0 / 0), so the gradient is finite where the value is."""

    @staticmethod
    def forward(ctx: Any, concentration: Tensor, value: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(value, concentration)
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        value, concentration = ctx.saved_tensors
        total = concentration.sum(-1, True).expand_as(concentration)
        slope = torch._dirichlet_grad(value, concentration, total)
        return slope * (grad - (value * grad).sum(-1, True)), None


def _beta(d: D.Beta, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    a, b = d.concentration1.expand(shape), d.concentration0.expand(shape)
    if g._version >= 2:  # keystream.beta: log space for tiny parameters (no 0 / 0)
        x = _composite.beta(a.detach(), b.detach(), generator=g).to(a.dtype)
        if not (grad and (a.requires_grad or b.requires_grad)):
            return x
        pair = _DirichletGrad.apply(torch.stack([a, b], -1), torch.stack([x, 1 - x], -1))
        return pair[..., 0]  # (x itself in value)
    x = _gamma(torch.stack([a, b], -1), g, grad)
    return x[..., 0] / (x[..., 0] + x[..., 1])


def _dirichlet(d: D.Dirichlet, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    if g._version >= 2:  # keystream.dirichlet: log space for tiny parameters (no 0 / 0)
        concentration = d.concentration.expand(shape)
        x = _composite.dirichlet(concentration.detach().contiguous(), generator=g)
        if not (grad and concentration.requires_grad):
            return x
        return _DirichletGrad.apply(concentration, x)  # type: ignore[no-any-return]
    x = _gamma(d.concentration.expand(shape), g, grad)
    total = x[..., 0]
    for i in range(1, shape[-1]):  # left to right, as keystream.dirichlet
        total = total + x[..., i]
    return x / total.unsqueeze(-1)


def _student_t(d: D.StudentT, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    df = d.df.expand(shape)
    x = _std_normal(shape, df, g)
    z = 2.0 * _gamma(df * 0.5, g, grad)
    y = x / torch.sqrt(z / df)
    value = x.detach() / _composite._sqrt(z.detach() / df.detach()).to(x.dtype)  # correctly rounded root
    return d.loc + (_Attach.apply(value, y) if grad and y.requires_grad else value) * d.scale


def _mvn(d: D.MultivariateNormal, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    eps = _std_normal(shape, d.loc, g)
    return d.loc + (d._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)


def _independent(d: D.Independent, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    return _draw(d.base_dist, shape, g, grad)


def _transformed(d: D.TransformedDistribution, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    x = _draw(d.base_dist, shape, g, grad)
    for t in d.transforms:
        x = t(x)
    return x


#: The distributions served, most specific first (Chi2 is a Gamma; LogNormal and Gumbel are
#: TransformedDistributions, served exactly before the general case).
_SAMPLERS: tuple[tuple[type, Callable[..., Tensor], bool], ...] = (
    (D.LogNormal, _log_normal, True),
    (D.Gumbel, _gumbel, True),
    (D.Chi2, _gamma_dist, True),
    (D.Normal, _normal, True),
    (D.Uniform, _uniform, True),
    (D.Exponential, _exponential, True),
    (D.Cauchy, _cauchy, True),
    (D.Laplace, _laplace, True),
    (D.Bernoulli, _bernoulli, False),
    (D.Poisson, _poisson, False),
    (D.Binomial, _binomial, False),
    (D.NegativeBinomial, _negative_binomial, False),
    (D.Geometric, _geometric, False),
    (D.OneHotCategorical, _one_hot, False),
    (D.Categorical, _categorical, False),
    (D.Gamma, _gamma_dist, True),
    (D.Beta, _beta, True),
    (D.Dirichlet, _dirichlet, True),
    (D.StudentT, _student_t, True),
    (D.MultivariateNormal, _mvn, True),
    (D.Independent, _independent, True),
    (D.TransformedDistribution, _transformed, True),
)


def _sampler(dist: Any) -> tuple[Callable[..., Tensor], bool]:
    if not isinstance(dist, D.Distribution):
        raise TypeError(f"dist must be a torch.distributions.Distribution, got {type(dist).__name__}")
    for cls, fn, reparameterized in _SAMPLERS:
        if isinstance(dist, cls):
            return fn, reparameterized
    raise NotImplementedError(f"keystream cannot sample {type(dist).__name__} yet (it serves "
                              f"{', '.join(sorted(c.__name__ for c, _, _ in _SAMPLERS))})")


def _draw(dist: D.Distribution, shape: torch.Size, g: Generator, grad: bool) -> Tensor:
    fn, _ = _sampler(dist)
    return fn(dist, shape, g, grad)


def supported(dist: Any) -> bool:
    """Whether :func:`sample` serves ``dist`` (its class, or what it is built on)."""
    try:
        _sampler(dist)
        if isinstance(dist, (D.Independent, D.TransformedDistribution)) and not isinstance(dist, (D.LogNormal,
                                                                                               D.Gumbel)):
            return supported(dist.base_dist)
        return True
    except (TypeError, NotImplementedError):
        return False


@one_call
def sample(dist: D.Distribution, sample_shape: Sequence[int] | torch.Size = (), *,
           generator: Generator | None = None) -> Tensor:
    """``dist.sample(sample_shape)`` with keystream's numbers (no gradient).

    Args:
        dist: a torch.distributions object (see :func:`supported`).
        sample_shape: as torch's.
        generator: the keystream generator (default: keystream's default generator).

    Raises:
        TypeError: ``dist`` is not a torch distribution.
        NotImplementedError: keystream cannot sample this distribution (it names the ones it can).

    Reproducibility:
        The draws are keystream's public draws at the generator's state, in a fixed order
        (see each distribution's draw); the elementwise steps after them are the same on
        every device. Linear algebra (MultivariateNormal's ``scale_tril @ eps``) and the
        transforms of a general TransformedDistribution are torch's.
    """
    g = resolve_generator(generator)
    _sampler(dist)  # a clear error before anything is drawn
    with torch.no_grad():
        return _draw(dist, _shape(dist, sample_shape), g, False)


@one_call
def rsample(dist: D.Distribution, sample_shape: Sequence[int] | torch.Size = (), *,
            generator: Generator | None = None) -> Tensor:
    """``dist.rsample(sample_shape)`` with keystream's numbers: the values of :func:`sample`
    from the same state, with torch's gradients with respect to the parameters.

    Raises:
        NotImplementedError: ``dist`` has no reparameterised sampler (torch's
            ``has_rsample`` is False), or keystream cannot sample it.
    """
    g = resolve_generator(generator)
    _, reparameterized = _sampler(dist)
    if not (reparameterized and dist.has_rsample):
        raise NotImplementedError(f"{type(dist).__name__} has no reparameterised sampler (use sample)")
    return _draw(dist, _shape(dist, sample_shape), g, True)
