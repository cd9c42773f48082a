"""torch.compile: every public draw and keyed dropout traces with fullgraph=True and dynamic
shapes, compiles once, advances the generator as eager code does and gives eager's bits."""
from __future__ import annotations

import pytest
import torch

import keystream as ks
import keystream.nn as knn
from keystream._torch import _opaque

pytestmark = pytest.mark.skipif(not _opaque.OPAQUE, reason="this torch has no opaque objects for custom operators")

# One traced call of every public draw: (x is a float32 (n, 3) input of a dynamic size n).
CALLS = {
    "rand": lambda g, x: ks.rand(x.shape[0], 3, generator=g),
    "randn": lambda g, x: ks.randn(x.shape, generator=g, dtype=torch.float64),
    "bits": lambda g, x: ks.bits(x.shape[0], generator=g),
    "uniform": lambda g, x: ks.uniform(-1.0, 2.0, (x.shape[0],), generator=g),
    "normal": lambda g, x: ks.normal(x, 2.0, generator=g),
    "exponential": lambda g, x: ks.exponential(x.shape[0], lambd=0.5, generator=g),
    "randint": lambda g, x: ks.randint(3, 10, (x.shape[0], 2), generator=g),
    "bernoulli": lambda g, x: ks.bernoulli(0.3, x.shape, generator=g),
    "randperm": lambda g, x: ks.randperm(x.shape[0], generator=g),
    "cauchy": lambda g, x: ks.cauchy(x.shape[0], generator=g, region=(slice(1, None),)),
    "laplace": lambda g, x: ks.laplace(x.shape, loc=1.0, generator=g),
    "gumbel": lambda g, x: ks.gumbel(x.shape, generator=g),
    "log_normal": lambda g, x: ks.log_normal(x.shape, generator=g),
    "geometric": lambda g, x: ks.geometric(x.shape, p=0.25, generator=g),
    "multinomial": lambda g, x: ks.multinomial(x.abs() + 0.1, 2, generator=g),
    "standard_gamma": lambda g, x: ks.standard_gamma(x.abs() + 0.5, generator=g),
    "gamma": lambda g, x: ks.gamma(2.0, 3.0, (x.shape[0],), generator=g),
    "chi2": lambda g, x: ks.chi2(x.abs() + 1.0, generator=g),
    "beta": lambda g, x: ks.beta(x.abs() + 1.0, 2.0, generator=g),
    "dirichlet": lambda g, x: ks.dirichlet(x.abs() + 0.5, generator=g),
    "student_t": lambda g, x: ks.student_t(3.0, x.shape, generator=g),
    "poisson": lambda g, x: ks.poisson(x.abs() * 4, generator=g),
    "binomial": lambda g, x: ks.binomial(10.0, 0.3, x.shape, generator=g),
    "bernoulli_": lambda g, x: ks.bernoulli_(torch.empty_like(x), 0.4, generator=g),
    "cauchy_": lambda g, x: ks.cauchy_(torch.empty_like(x), generator=g),
    "exponential_": lambda g, x: ks.exponential_(torch.empty_like(x), generator=g),
    "geometric_": lambda g, x: ks.geometric_(torch.empty_like(x), 0.5, generator=g),
    "log_normal_": lambda g, x: ks.log_normal_(torch.empty_like(x), generator=g),
    "normal_": lambda g, x: ks.normal_(torch.empty_like(x).t(), 1.0, 3.0, generator=g),
    "uniform_": lambda g, x: ks.uniform_(torch.empty_like(x), 2.0, 5.0, generator=g),
    "random_": lambda g, x: ks.random_(torch.empty(x.shape, dtype=torch.int64), 0, 100, generator=g),
    "rand_like": lambda g, x: ks.rand_like(x, generator=g),
    "randn_like": lambda g, x: ks.randn_like(x, generator=g),
    "randint_like": lambda g, x: ks.randint_like(x, 7, generator=g),
}
SIZES = (4, 5, 7, 4)


def test_every_public_draw_has_a_compile_case():
    names = {n for m in (*ks._DRAW_MODULES, ks._inplace) for n in m.__all__}
    assert names == set(CALLS)


def _counter(backend):
    import torch._dynamo.testing

    torch._dynamo.reset()
    return torch._dynamo.testing.CompileCounterWithBackend(backend)


def _all(g, x):
    return [fn(g, x) for fn in CALLS.values()]


def _same(a, b):
    return all(torch.equal(p, q) and p.dtype == q.dtype and p.shape == q.shape for p, q in zip(a, b))


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compiled_draws_equal_eager(backend):
    g = ks.Generator(7)
    xs = [ks.randn(n, 3, generator=ks.Generator(n)) for n in SIZES]
    eager = [_all(g, x) for x in xs]
    offset = g.offset
    g.manual_seed(7)
    cnt = _counter(backend)
    f = torch.compile(_all, fullgraph=True, backend=cnt, dynamic=True)
    compiled = [f(g, xs[0])]
    frames = cnt.frame_count
    compiled += [f(g, x) for x in xs[1:]]
    assert g.offset == offset
    assert all(_same(a, b) for a, b in zip(eager, compiled))
    assert cnt.frame_count == frames  # one graph for every size


def _step(model, g, x):
    return model(x) + ks.rand(x.shape, generator=g)


def test_a_hundred_calls_compile_once_and_advance_as_eager():
    g = ks.Generator(3)
    model = knn.Dropout(0.25, generator=ks.Generator(4), name="d")
    x = torch.ones(6, 5)
    knn.set_step(0)
    eager = [_step(model, g, x) for _ in range(100)]
    offset = g.offset
    g.manual_seed(3)
    knn.set_step(0)
    cnt = _counter("aot_eager")
    f = torch.compile(_step, fullgraph=True, backend=cnt, dynamic=True)
    first = f(model, g, x)
    frames = cnt.frame_count
    compiled = [first] + [f(model, g, x) for _ in range(99)]
    assert cnt.frame_count == frames  # no recompilation
    assert g.offset == offset
    assert all(torch.equal(a, b) for a, b in zip(eager, compiled))
    assert len({bytes(t.numpy()) for t in compiled}) == 100  # each call drew new numbers


def test_no_graph_break():
    import torch._dynamo

    g = ks.Generator(1)
    model = knn.Dropout2d(0.5, generator=g)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(lambda x: model(x) * ks.randn(x.shape, generator=g))(torch.ones(2, 3, 4, 4))
    assert explained.graph_break_count == 0 and explained.graph_count == 1


class _Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1, 1, 8))
        self.drop = knn.Dropout(0.3, generator=ks.Generator(9), name="drop")
        self.drop2 = knn.Dropout1d(0.5, generator=ks.Generator(9), name="drop2")

    def forward(self, x):
        h = self.drop(x * self.w)
        return self.drop2(h.reshape(x.shape[0], 2, 4)).reshape(x.shape[0], 8)


def _train(model, xs):
    out = []
    for step, x in enumerate(xs):
        model.zero_grad()
        with knn.batch(0, step=step):
            y = model(x)
            (y * y).sum().backward()
        out.append((y.detach(), model.w.grad.clone()))
    return out


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_dropout_forward_and_backward_equal_eager(backend):
    xs = [ks.randn(n, 8, generator=ks.Generator(n)) for n in (3, 5, 4)]
    model = _Block()
    eager = _train(model, xs)
    cnt = _counter(backend)
    compiled = _train(torch.compile(model, fullgraph=True, backend=cnt, dynamic=True), xs)
    for (y0, g0), (y1, g1) in zip(eager, compiled):
        assert torch.equal(y0, y1)
        # (the weight gradient is a sum over the batch, whose order a compiler may change)
        torch.testing.assert_close(g0, g1, rtol=1e-6, atol=1e-6)


def test_inductor_draws_equal_eager():
    g = ks.Generator(5)

    def f(x):
        return ks.randn(x.shape, generator=g) * 2 + x, ks.rand(x.shape[0], generator=g)

    eager = [f(torch.ones(n, 3)) for n in (3, 6)]
    g.manual_seed(5)
    cf = torch.compile(f, fullgraph=True, backend=_counter("inductor"), dynamic=True)
    compiled = [cf(torch.ones(n, 3)) for n in (3, 6)]
    assert all(_same(a, b) for a, b in zip(eager, compiled))
