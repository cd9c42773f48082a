"""The in-place and *_like forms equal the out-of-place draws they name."""
from __future__ import annotations

import pytest
import torch

import keystream as ks
from keystream._tools._conformance import same_bits

FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: (in-place call, the out-of-place draw it equals), for a tensor t of some shape and dtype.
FORMS = {
    "uniform_": (lambda t, g: ks.uniform_(t, -2.0, 3.0, generator=g),
                 lambda t, g: ks.uniform(-2.0, 3.0, t.shape, generator=g, dtype=t.dtype)),
    "normal_": (lambda t, g: ks.normal_(t, 1.5, 0.5, generator=g),
                lambda t, g: ks.normal(1.5, 0.5, t.shape, generator=g, dtype=t.dtype)),
    "exponential_": (lambda t, g: ks.exponential_(t, 2.0, generator=g),
                     lambda t, g: ks.exponential(t.shape, lambd=2.0, generator=g, dtype=t.dtype)),
    "geometric_": (lambda t, g: ks.geometric_(t, 0.3, generator=g),
                   lambda t, g: ks.geometric(t.shape, p=0.3, generator=g, dtype=t.dtype)),
    "log_normal_": (lambda t, g: ks.log_normal_(t, generator=g),
                    lambda t, g: ks.log_normal(t.shape, generator=g, dtype=t.dtype)),
    "cauchy_": (lambda t, g: ks.cauchy_(t, 1.0, 2.0, generator=g),
                lambda t, g: ks.cauchy(t.shape, median=1.0, sigma=2.0, generator=g, dtype=t.dtype)),
    "bernoulli_": (lambda t, g: ks.bernoulli_(t, 0.25, generator=g),
                   lambda t, g: ks.bernoulli(0.25, t.shape, generator=g, dtype=t.dtype)),
}


@pytest.mark.parametrize("name", sorted(FORMS))
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_in_place_equals_out_of_place(name, dtype):
    fill, draw = FORMS[name]
    for t in (torch.empty(37, 5, dtype=dtype), torch.empty(5, 37, dtype=dtype).t()):  # and non-contiguous
        g1, g2 = ks.Generator(3), ks.Generator(3)
        result = fill(t, g1)
        assert result is t
        assert same_bits(t.contiguous(), draw(t, g2)) and g1.offset == g2.offset


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool,
                                   torch.float16, torch.bfloat16, torch.float32, torch.float64], ids=str)
def test_random_ranges_as_torch(dtype):
    """random_(t) spans [0, max] (floats: [0, 2**digits]), random_(t, to) [0, to), and
    random_(t, from_, to) [from_, to); each equals randint's values."""
    digits = {torch.float16: 11, torch.bfloat16: 8, torch.float32: 24, torch.float64: 53}
    if dtype == torch.bool:
        top = 1
    elif dtype.is_floating_point:
        top = 2 ** digits[dtype]
    else:
        top = torch.iinfo(dtype).max
    t = torch.empty(4099, dtype=dtype)
    ks.random_(t, generator=ks.Generator(1))
    values = t.to(torch.float64) if dtype.is_floating_point else t.to(torch.int64)
    assert float(values.min()) >= 0 and float(values.max()) <= top
    if dtype != torch.bool:
        assert same_bits(t, ks.randint(0, top + 1, (4099,), generator=ks.Generator(1), dtype=dtype))
        ks.random_(t, 7, generator=ks.Generator(2))
        assert same_bits(t, ks.randint(0, 7, (4099,), generator=ks.Generator(2), dtype=dtype))
        ks.random_(t, 3, 9, generator=ks.Generator(2))
        assert same_bits(t, ks.randint(3, 9, (4099,), generator=ks.Generator(2), dtype=dtype))
        ks.random_(t, **{"from": 5}, generator=ks.Generator(2))
        assert int(t.min()) >= 5
    else:
        assert bool(t.any()) and not bool(t.all())


def test_like_forms_keep_the_layout_and_equal_the_draws():
    x = torch.empty(2, 3, 5, 7).to(memory_format=torch.channels_last)
    a = ks.rand_like(x, generator=ks.Generator(4))
    assert a.is_contiguous(memory_format=torch.channels_last) and a.shape == x.shape
    assert same_bits(a.contiguous(), ks.rand(x.shape, generator=ks.Generator(4)))
    b = ks.randn_like(x, generator=ks.Generator(4), dtype=torch.float64, memory_format=torch.contiguous_format)
    assert b.is_contiguous() and same_bits(b, ks.randn(x.shape, generator=ks.Generator(4), dtype=torch.float64))
    c = ks.randint_like(x, 10, generator=ks.Generator(5))
    assert same_bits(c.contiguous(), ks.randint(0, 10, x.shape, generator=ks.Generator(5), dtype=x.dtype))
    d = ks.randint_like(x, 3, 10, dtype=torch.int16, generator=ks.Generator(5))
    assert d.dtype == torch.int16 and int(d.min()) >= 3 and int(d.max()) < 10
    assert ks.rand_like(x, requires_grad=True).requires_grad


def test_randint_and_randperm_into_floats_equal_the_integers():
    for dtype in FLOATS:
        a = ks.randint(-50, 50, (1001,), generator=ks.Generator(6), dtype=dtype)
        b = ks.randint(-50, 50, (1001,), generator=ks.Generator(6))
        assert a.dtype == dtype and torch.equal(a.to(torch.int64), b)
        p = ks.randperm(200, generator=ks.Generator(7), dtype=dtype)
        assert torch.equal(p.to(torch.int64), ks.randperm(200, generator=ks.Generator(7)))


def test_torch_factory_options():
    """layout=torch.strided, requires_grad= and pin_memory= as torch's factories take them
    (pin_memory needs CUDA: a clear error before anything is drawn without it)."""
    x = ks.rand(3, generator=ks.Generator(1), requires_grad=True, layout=torch.strided)
    assert x.requires_grad and x.is_leaf and same_bits(x.detach(), ks.rand(3, generator=ks.Generator(1)))
    assert ks.randn(2, 2, generator=ks.Generator(1), requires_grad=False).requires_grad is False
    assert ks.standard_gamma(2.0, (3,), generator=ks.Generator(1), requires_grad=True).requires_grad
    import inspect

    assert "requires_grad" in inspect.signature(ks.Generator(1).rand).parameters
    if not torch.cuda.is_available():
        g = ks.Generator(2)
        with pytest.raises(ValueError, match="pin_memory"):
            g.rand(3, pin_memory=True)
        assert g.offset == 0


def test_bernoulli_input_and_p_as_torch():
    x = torch.empty(4, 5, dtype=torch.float64)
    a = ks.bernoulli(x, 0.25, generator=ks.Generator(3))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert same_bits(a, ks.bernoulli(0.25, (4, 5), generator=ks.Generator(3), dtype=torch.float64))


@pytest.mark.parametrize("fill", [
    lambda t, g: ks.uniform_(t, generator=g), lambda t, g: ks.normal_(t, generator=g),
    lambda t, g: ks.exponential_(t, generator=g), lambda t, g: ks.geometric_(t, 0.3, generator=g),
    lambda t, g: ks.log_normal_(t, generator=g), lambda t, g: ks.cauchy_(t, generator=g),
    lambda t, g: ks.bernoulli_(t, 0.5, generator=g), lambda t, g: ks.random_(t, 0, 5, generator=g),
    lambda t, g: ks.poisson(torch.ones(3), generator=g, out=t),
])
def test_in_place_writes_bump_the_version_counter(fill):
    """As torch's in-place operations: autograd then refuses a backward pass through a value
    saved before the write, instead of computing a wrong gradient."""
    x = torch.ones(3, requires_grad=True)
    y = x * 1
    z = (y * y).sum()  # saves y
    with torch.no_grad():
        fill(y, ks.Generator(1))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_inference_tensors_are_refused_outside_inference_mode():
    with torch.inference_mode():
        t = torch.empty(3)
    g = ks.Generator(1)
    with pytest.raises(RuntimeError, match="inference tensor"):
        ks.uniform_(t, generator=g)
    with pytest.raises(RuntimeError, match="inference tensor"):
        ks.poisson(torch.ones(3), generator=g, out=t)
    assert g.offset == 0
    with torch.inference_mode():
        ks.uniform_(t, generator=g)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_uniform_of_equal_bounds_gives_the_bound(dtype):
    """torch's ``uniform_(a, a)`` (torchvision's fixed-factor transforms): ``a`` everywhere,
    and the draw's blocks taken as for any other bounds."""
    for version in (1, 2):
        g = ks.Generator(1, stream_version=version)
        t = ks.uniform_(torch.empty(5, dtype=dtype), 0.75, 0.75, generator=g)
        assert bool((t == 0.75).all()) and g.offset == (3 if dtype == torch.float64 else 2)
        both = ks.uniform(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 1.0]), generator=g, dtype=dtype)
        assert float(both[0]) == 0.5 and 0.5 <= float(both[1]) < 1.0
