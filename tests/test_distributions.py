"""keystream.distributions: torch.distributions sampled with keystream's numbers."""
from __future__ import annotations

import pytest
import torch
from torch import distributions as D

import keystream as ks
from keystream import distributions as kd
from keystream._engines import use_engine
from keystream._tools._conformance import same_bits
from test_stats import chi2, chi2_critical, ks_critical, ks_distance


def _dists():
    p = torch.tensor([0.2, 0.5, 0.3])
    return {
        "Normal": D.Normal(torch.zeros(3), torch.tensor([1.0, 2.0, 0.5])),
        "LogNormal": D.LogNormal(0.5, 0.75),
        "HalfNormal": D.HalfNormal(2.0),
        "Uniform": D.Uniform(-1.0, torch.tensor([1.0, 3.0])),
        "Exponential": D.Exponential(torch.tensor([0.5, 2.0])),
        "Cauchy": D.Cauchy(1.0, 2.0),
        "Laplace": D.Laplace(0.0, 3.0),
        "Gumbel": D.Gumbel(1.0, 2.0),
        "Bernoulli": D.Bernoulli(p),
        "Geometric": D.Geometric(p),
        "Poisson": D.Poisson(torch.tensor([0.5, 30.0])),
        "Binomial": D.Binomial(torch.tensor([10.0, 100.0]), torch.tensor([0.2, 0.7])),
        "NegativeBinomial": D.NegativeBinomial(5.0, probs=torch.tensor([0.4, 0.9])),
        "Categorical": D.Categorical(torch.stack([p, p.flip(0)])),
        "OneHotCategorical": D.OneHotCategorical(p),
        "Gamma": D.Gamma(torch.tensor([0.5, 3.0]), 2.0),
        "Chi2": D.Chi2(4.0),
        "Beta": D.Beta(2.0, torch.tensor([0.5, 5.0])),
        "Dirichlet": D.Dirichlet(torch.tensor([[0.5, 1.0, 2.0], [3.0, 3.0, 3.0]])),
        "StudentT": D.StudentT(5.0, 1.0, 2.0),
        "MultivariateNormal": D.MultivariateNormal(torch.zeros(2), torch.tensor([[2.0, 0.5], [0.5, 1.0]])),
        "Independent": D.Independent(D.Normal(torch.zeros(4), 1.0), 1),
    }


@pytest.mark.parametrize("name", sorted(_dists()))
def test_shape_dtype_and_reproducibility(name):
    dist = _dists()[name]
    want = dist.sample((5, 2))
    a = kd.sample(dist, (5, 2), generator=ks.Generator(1))
    b = kd.sample(dist, (5, 2), generator=ks.Generator(1))
    assert a.shape == want.shape and a.dtype == want.dtype and same_bits(a, b)
    assert kd.supported(dist)


@pytest.mark.parametrize("name", sorted(set(_dists()) - {"MultivariateNormal"}))
def test_every_engine_gives_the_same_samples(name):
    """MultivariateNormal's matmul is torch's; every other sampler is draws and elementwise IEEE steps."""
    dist = _dists()[name]
    results = []
    for engine in ("reference", "portable", "cpu"):
        if engine in ks.available_engines():
            with use_engine(engine):
                results.append(kd.sample(dist, (7,), generator=ks.Generator(2)))
    assert all(same_bits(r, results[0]) for r in results)


def test_distributions_follow_their_laws():
    n = 1 << 17
    g = ks.Generator(3)
    x = kd.sample(D.LogNormal(0.5, 0.75), (n,), generator=g)
    assert ks_distance(torch.log(x.double()), lambda v: 0.5 * (1 + torch.erf((v - 0.5) / (0.75 * 2 ** 0.5)))) \
        < ks_critical(n)
    geo = kd.sample(D.Geometric(torch.tensor(0.25)), (n,), generator=g).long()
    counts = torch.bincount(geo.clamp(max=20), minlength=21).double()
    k = torch.arange(20, dtype=torch.float64)
    probs = torch.cat([0.75 ** k * 0.25, torch.tensor([0.75 ** 20])])
    assert chi2(counts, n * probs) < chi2_critical(20)
    nb = kd.sample(D.NegativeBinomial(4.0, probs=torch.tensor(0.3)), (n,), generator=g).long()
    stats = pytest.importorskip("scipy.stats")
    law = stats.nbinom(4.0, 0.7)  # scipy counts failures before 4 successes of probability 0.7
    counts = torch.bincount(nb.clamp(max=10), minlength=11).double()
    probs = torch.tensor(list(law.pmf(range(10))) + [float(law.sf(9))], dtype=torch.float64)
    assert chi2(counts, n * probs) < chi2_critical(10)
    cat = kd.sample(D.Categorical(torch.tensor([0.1, 0.6, 0.3])), (n,), generator=g)
    counts = torch.bincount(cat, minlength=3).double()
    assert chi2(counts, n * torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)) < chi2_critical(2)


def test_log_normal_is_the_streams_exp_of_the_normal():
    from keystream._core._math.torch_forms import exp_f64

    a = kd.sample(D.LogNormal(0.0, 1.0), (1000,), generator=ks.Generator(4))
    b = kd.sample(D.Normal(0.0, 1.0), (1000,), generator=ks.Generator(4))
    assert same_bits(a, exp_f64(b).to(torch.float32))


def test_rsample_has_torchs_gradients():
    loc = torch.zeros(3, requires_grad=True)
    scale = torch.ones(3, requires_grad=True)
    x = kd.rsample(D.Normal(loc, scale), (4,), generator=ks.Generator(5))
    x.sum().backward()
    eps = kd.sample(D.Normal(torch.zeros(3), 1.0), (4,), generator=ks.Generator(5))
    assert torch.equal(loc.grad, torch.full((3,), 4.0)) and torch.allclose(scale.grad, eps.sum(0))
    alpha = torch.tensor([0.5, 2.0, 7.0], requires_grad=True)
    y = kd.rsample(D.Gamma(alpha, 1.0), (6,), generator=ks.Generator(6))
    y.sum().backward()
    values = ks.standard_gamma(alpha.detach().expand(6, 3), generator=ks.Generator(6))
    assert same_bits(y.detach(), values)
    assert torch.allclose(alpha.grad, torch._standard_gamma_grad(alpha.detach().expand(6, 3), values).sum(0))
    for dist in (D.Beta(alpha, 2.0), D.Dirichlet(alpha), D.StudentT(alpha), D.LogNormal(alpha, 1.0)):
        alpha.grad = None
        kd.rsample(dist, (3,), generator=ks.Generator(7)).sum().backward()
        assert alpha.grad is not None and bool(torch.isfinite(alpha.grad).all())
    same = kd.rsample(D.StudentT(alpha, 1.0, 2.0), (3,), generator=ks.Generator(8)).detach()
    assert same_bits(same, kd.sample(D.StudentT(alpha.detach(), 1.0, 2.0), (3,), generator=ks.Generator(8)))


def test_what_cannot_be_served_says_so():
    with pytest.raises(NotImplementedError, match="VonMises"):
        kd.sample(D.VonMises(0.0, 3.0), generator=ks.Generator(9))
    with pytest.raises(NotImplementedError, match="reparameterised"):
        kd.rsample(D.Bernoulli(0.5), generator=ks.Generator(9))
    with pytest.raises(TypeError, match="dist"):
        kd.sample(torch.zeros(3), generator=ks.Generator(9))
    assert not kd.supported(D.VonMises(0.0, 3.0))
    g = ks.Generator(9)
    with pytest.raises(NotImplementedError):
        kd.sample(D.VonMises(0.0, 3.0), generator=g)
    assert g.offset == 0


@pytest.mark.parametrize("tiny", [1e-3, 0.05])
def test_beta_and_dirichlet_rsample_at_tiny_concentrations(tiny):
    """Stream version 2: the values of sample (log space: no 0 / 0), with torch's implicit
    reparameterisation gradient (torch._dirichlet_grad), finite."""
    from torch.distributions.dirichlet import _Dirichlet_backward

    a = torch.tensor([tiny, 0.5, 2.0], requires_grad=True)
    b = torch.tensor([tiny, 3.0, tiny], requires_grad=True)
    beta = torch.distributions.Beta(a, b)
    x = kd.rsample(beta, (500,), generator=ks.Generator(1))
    assert torch.equal(x.detach(), kd.sample(beta, (500,), generator=ks.Generator(1)))
    ga, gb = torch.autograd.grad(x.sum(), [a, b])
    assert bool(torch.isfinite(x).all() & torch.isfinite(ga).all() & torch.isfinite(gb).all())
    pair = torch.stack([a, b], -1).detach().expand(500, 3, 2)
    value = torch.stack([x.detach(), 1 - x.detach()], -1)
    want = _Dirichlet_backward(value, pair, torch.stack([torch.ones(500, 3), torch.zeros(500, 3)], -1)).sum(0)
    assert torch.allclose(torch.stack([ga, gb], -1), want)
    c = torch.tensor([tiny, tiny, 1.0], requires_grad=True)
    d = torch.distributions.Dirichlet(c)
    y = kd.rsample(d, (200,), generator=ks.Generator(2))
    assert torch.equal(y.detach(), kd.sample(d, (200,), generator=ks.Generator(2)))
    (gc,) = torch.autograd.grad(y[:, 0].sum(), c)
    assert bool(torch.isfinite(y).all() & torch.isfinite(gc).all())
