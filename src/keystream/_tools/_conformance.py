"""Conformance cases shared by the test suite and ``keystream selftest``.

One table of draw cases (every kind, every dtype, representative parameters) and
one comparison: an engine's output must equal the reference engine's bit for bit.
Following Random123's habit, outputs are pre-filled with a sentinel so that an
element an engine forgot to write shows up as a mismatch.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .._core._math import truncnorm
from .._core._spec import DrawSpec
from .._engines import Engine, get_engine
from .._torch._draws import _below

__all__ = ["Case", "CASES", "INIT_FILLS", "PUBLIC_DRAWS", "cases", "make_spec", "reference", "run_case", "same_bits"]

F16, BF16, F32, F64 = torch.float16, torch.bfloat16, torch.float32, torch.float64
FLOATS = (F16, BF16, F32, F64)


def _uniform_params(low: float, high: float) -> Callable[[torch.dtype], tuple[Any, ...]]:
    """The kernel parameters of uniform(low, high), also where the bounds round to one value
    (which the public draw refuses: the kernels must still compute it)."""

    def make(dtype: torch.dtype) -> tuple[Any, ...]:
        lo = float(torch.tensor(low, dtype=dtype))
        hi = float(torch.tensor(high, dtype=dtype))
        span = (float(torch.tensor(hi - lo, dtype=torch.float64).to(torch.float32).to(dtype)) if dtype != F64
                else hi - lo)
        return (lo, span, hi, _below(hi, dtype))

    return make


def _uniform_v2_params(low: float, high: float) -> Callable[[torch.dtype], tuple[Any, ...]]:
    """The kernel parameters of stream version 2's 16-bit uniform(low, high): the span in float32."""

    def make(dtype: torch.dtype) -> tuple[Any, ...]:
        lo = float(torch.tensor(low, dtype=dtype))
        hi = float(torch.tensor(high, dtype=dtype))
        return (lo, float(torch.tensor(hi - lo, dtype=torch.float64).to(torch.float32)), hi, _below(hi, dtype))

    return make


def _trunc_normal_v2_params(mean: float, std: float, a: float, b: float) -> Callable[[torch.dtype], tuple[Any, ...]]:
    """Stream version 2's truncated normal parameters (the same for every dtype)."""
    return lambda d: truncnorm.plan(mean, std, a, b)


def _ct(dtype: torch.dtype) -> torch.dtype:
    return F64 if dtype == F64 else F32


@dataclass(frozen=True)
class Case:
    """A draw kind with parameters, over a set of dtypes."""

    name: str
    kind: str
    dtypes: tuple[torch.dtype, ...]
    params: Callable[[torch.dtype], tuple[Any, ...]]


CASES: tuple[Case, ...] = (
    Case("bits", "bits", (torch.uint32, torch.uint64), lambda d: ()),
    Case("rand", "uniform", FLOATS, _uniform_params(0.0, 1.0)),
    Case("uniform(-3,5)", "uniform", FLOATS, _uniform_params(-3.0, 5.0)),
    Case("uniform(1,1.001)", "uniform", FLOATS, _uniform_params(1.0, 1.001)),
    Case("randn", "normal", FLOATS, lambda d: (0.0, 1.0)),
    Case("normal(2,3)", "normal", FLOATS,
         lambda d: (2.0, float(torch.tensor(3.3, dtype=F64).to(_ct(d))))),
    Case("exponential", "exponential", FLOATS, lambda d: (1.0,)),
    Case("exponential(2.5)", "exponential", FLOATS, lambda d: (2.5,)),
    Case("randint(-5,12)", "randint", (torch.int64, torch.int32, torch.int8), lambda d: (-5, 17)),
    Case("randint(2^32+1)", "randint", (torch.int64,), lambda d: (0, 2**32 + 1)),
    Case("randint(2^63-25)", "randint", (torch.int64,), lambda d: (7, 2**63 - 25)),
    Case("randint(full int64)", "randint", (torch.int64,), lambda d: (-(2**63), 2**64)),
    Case("bernoulli(0.3)", "bernoulli", (F32, torch.bool, torch.int64), lambda d: (math.ceil(0.3 * 2**32),)),
    Case("bernoulli(1)", "bernoulli", (F32,), lambda d: (2**32,)),
    Case("randperm", "randperm", (torch.int64,), lambda d: ()),
    Case("trunc_normal(0,1,-2,2)", "trunc_normal", FLOATS, lambda d: (0.0, 1.0, -2.0, 2.0)),
    # most elements clamp or take a late candidate
    Case("trunc_normal(0.5,2,1,1.25)", "trunc_normal", FLOATS, lambda d: (0.5, 2.0, 1.0, 1.25)),
    Case("cauchy", "cauchy", FLOATS, lambda d: (0.0, 1.0)),
    Case("cauchy(-1.5,0.3)", "cauchy", FLOATS, lambda d: (-1.5, float(torch.tensor(0.3, dtype=_ct(d))))),
    Case("laplace", "laplace", FLOATS, lambda d: (0.0, 1.0)),
    Case("laplace(2,0.7)", "laplace", FLOATS, lambda d: (2.0, float(torch.tensor(0.7, dtype=_ct(d))))),
    Case("gumbel", "gumbel", FLOATS, lambda d: (0.0, 1.0)),
    Case("gumbel(-3,0.1)", "gumbel", FLOATS, lambda d: (-3.0, 0.1)),
    Case("log_normal", "log_normal", FLOATS, lambda d: (0.0, 1.0)),
    Case("log_normal(1,2)", "log_normal", FLOATS, lambda d: (1.0, 2.0)),
    Case("log_normal(-0.3,0.25)", "log_normal", FLOATS, lambda d: (float(torch.tensor(-0.3, dtype=_ct(d))), 0.25)),
    Case("geometric(0.3)", "geometric", FLOATS, lambda d: (float(torch.tensor(0.35667494393873245, dtype=_ct(d))),)),
    Case("geometric(1e-6)", "geometric", FLOATS, lambda d: (float(torch.tensor(1.0000005e-06, dtype=_ct(d))),)),
    # stream version 2's kinds (docs/spec.md section 10)
    Case("rand v2", "uniform_v2", (F16, BF16), _uniform_v2_params(0.0, 1.0)),
    Case("uniform(1,2) v2", "uniform_v2", (F16, BF16), _uniform_v2_params(1.0, 2.0)),
    Case("uniform(-3,5) v2", "uniform_v2", (F16, BF16), _uniform_v2_params(-3.0, 5.0)),
    Case("randperm v2", "randperm_v2", (torch.int64,), lambda d: ()),
    *(Case(f"trunc_normal({m},{sd},{a},{b}) v2", "trunc_normal_v2", FLOATS, _trunc_normal_v2_params(m, sd, a, b))
      for m, sd, a, b in ((0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 2.0, 3.0), (1.0, 0.5, -1.0, 0.9), (0.0, 1.0, 0.0, 0.1),
                          (0.0, 1.0, 4.0, math.inf), (0.0, 0.0, -1.0, 1.0), (0.0, 1.0, -0.3, 0.2))),
)

#: Every public draw, as the golden files and the coverage test know it:
#: ``name -> function(generator) -> tensor``.  A public draw without a golden fails a test.
PUBLIC_DRAWS: dict[str, Callable[[Any], torch.Tensor]] = {}


def _given_generator(fn: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> Callable[[Any], torch.Tensor]:
    """``fn(*args, generator=g, **kwargs)`` as a function of the generator ``g``."""
    return lambda g: fn(*args, generator=g, **kwargs)


def _public_draws() -> None:
    import keystream as ks

    n = 1031  # odd, not a multiple of the block size
    for dt in FLOATS:
        tag = str(dt).replace("torch.", "")
        PUBLIC_DRAWS[f"rand/{tag}"] = _given_generator(ks.rand, n, dtype=dt)
        PUBLIC_DRAWS[f"randn/{tag}"] = _given_generator(ks.randn, n, dtype=dt)
        PUBLIC_DRAWS[f"uniform/{tag}"] = _given_generator(ks.uniform, -2.0, 3.0, n, dtype=dt)
        PUBLIC_DRAWS[f"normal/{tag}"] = _given_generator(ks.normal, 1.5, 2.0, n, dtype=dt)
        PUBLIC_DRAWS[f"exponential/{tag}"] = _given_generator(ks.exponential, n, lambd=0.5, dtype=dt)
        PUBLIC_DRAWS[f"laplace/{tag}"] = _given_generator(ks.laplace, n, loc=-1.0, scale=0.5, dtype=dt)
        PUBLIC_DRAWS[f"gumbel/{tag}"] = _given_generator(ks.gumbel, n, loc=0.5, scale=1.5, dtype=dt)
        PUBLIC_DRAWS[f"log_normal/{tag}"] = _given_generator(ks.log_normal, n, mean=0.5, std=0.75, dtype=dt)
        PUBLIC_DRAWS[f"geometric/{tag}"] = _given_generator(ks.geometric, n, p=0.2, dtype=dt)
        PUBLIC_DRAWS[f"cauchy/{tag}"] = _given_generator(ks.cauchy, n, median=1.0, sigma=2.0, dtype=dt)
    for dt in (torch.complex64, torch.complex128):  # NOTE [ complex draws ]: the parts' draws
        tag = str(dt).replace("torch.", "")
        PUBLIC_DRAWS[f"rand/{tag}"] = _given_generator(ks.rand, n, dtype=dt)
        PUBLIC_DRAWS[f"randn/{tag}"] = _given_generator(ks.randn, n, dtype=dt)
    for dt in (torch.uint32, torch.uint64):
        tag = str(dt).replace("torch.", "")
        PUBLIC_DRAWS[f"bits/{tag}"] = _given_generator(ks.bits, n, dtype=dt)
    PUBLIC_DRAWS["randint/int64"] = lambda g: ks.randint(-1000, 10**12, (n,), generator=g)
    PUBLIC_DRAWS["randint/int64-full"] = lambda g: ks.randint(-(2**63), 2**63, (n,), generator=g)
    PUBLIC_DRAWS["bernoulli/float32"] = lambda g: ks.bernoulli(0.25, (n,), generator=g, dtype=F32)
    PUBLIC_DRAWS["randperm/int64"] = lambda g: ks.randperm(n, generator=g)
    weights = torch.arange(1, 1 + 3 * 37, dtype=F32).reshape(3, 37) % 7  # zeros among them
    PUBLIC_DRAWS["multinomial/with-replacement"] = lambda g: ks.multinomial(weights, 101, True, generator=g)
    PUBLIC_DRAWS["multinomial/without-replacement"] = lambda g: ks.multinomial(weights, 20, generator=g)
    shapes = torch.tensor([0.01, 0.3, 0.999, 1.0, 2.5, 30.0]).repeat(172)[:n]  # boosted and not
    for dt in FLOATS:
        tag = str(dt).replace("torch.", "")
        PUBLIC_DRAWS[f"standard_gamma/{tag}"] = _given_generator(ks.standard_gamma, shapes.to(dt))
    PUBLIC_DRAWS["gamma/float64"] = _given_generator(ks.gamma, 2.5, 3.0, (n,), dtype=F64)
    PUBLIC_DRAWS["chi2/float32"] = _given_generator(ks.chi2, 3.0, (n,), dtype=F32)
    PUBLIC_DRAWS["beta/float32"] = _given_generator(ks.beta, shapes, 0.7)
    PUBLIC_DRAWS["dirichlet/float64"] = _given_generator(ks.dirichlet, shapes.to(F64).reshape(-1, 1).expand(n, 3)
                                                         * torch.tensor([1.0, 0.5, 2.0], dtype=F64))
    PUBLIC_DRAWS["student_t/float32"] = _given_generator(ks.student_t, shapes * 3, (n,))
    rates = torch.tensor([0.0, 0.3, 4.0, 9.99, 10.0, 30.0, 1000.0, 1e6]).repeat(129)[:n]  # both methods
    for dt in FLOATS:
        tag = str(dt).replace("torch.", "")
        PUBLIC_DRAWS[f"poisson/{tag}"] = _given_generator(ks.poisson, rates.clamp(max=1000.0).to(dt))
    counts = torch.tensor([0.0, 1.0, 20.0, 100.0, 1000.0, 1e6], dtype=F64).repeat(172)[:n]
    probs = torch.tensor([0.0, 0.01, 0.3, 0.5, 0.75, 1.0], dtype=F64).repeat(172)[:n].flip(0)
    PUBLIC_DRAWS["binomial/float64"] = _given_generator(ks.binomial, counts, probs)
    PUBLIC_DRAWS["binomial/float32"] = _given_generator(ks.binomial, 400.0, 0.125, (n,), dtype=F32)
    from .. import init, sampling

    def sampled(**params: Any) -> Callable[[Any], torch.Tensor]:
        keys = sampling.request_keys(range(16), 3)
        return lambda g: sampling.sample(ks.randn(16, 500, generator=g) * 3.0, keys, **params)

    PUBLIC_DRAWS["sampling.sample/temperature"] = sampled(temperature=0.7)
    PUBLIC_DRAWS["sampling.sample/top-k-top-p-min-p"] = sampled(temperature=1.2, top_k=40, top_p=0.9, min_p=0.02)

    from .. import nn

    def dropped(cls: Any, shape: tuple[int, ...], p: float, dtype: torch.dtype = F32) -> Callable[[Any], torch.Tensor]:
        def draw(g: Any) -> torch.Tensor:
            x = ks.randn(shape, generator=ks.Generator(1), dtype=dtype)
            with nn.batch(5, step=7):  # samples 5.. of step 7, the first call of site "golden"
                return cls(p, generator=g, name="golden")(x)
        return draw

    for cls, shape in ((nn.Dropout, (6, 101)), (nn.Dropout1d, (4, 9, 5)), (nn.Dropout2d, (3, 7, 2, 3)),
                       (nn.Dropout3d, (2, 5, 2, 2, 3)), (nn.AlphaDropout, (6, 101)),
                       (nn.FeatureAlphaDropout, (4, 9, 5))):  # the masks are a promise too
        PUBLIC_DRAWS[f"nn.{cls.__name__}/float32"] = dropped(cls, shape, 0.3)
    PUBLIC_DRAWS["nn.Dropout/float64"] = dropped(nn.Dropout, (6, 101), 0.6, F64)

    def filled(fill: Callable[..., torch.Tensor], *args: Any) -> Callable[[Any], torch.Tensor]:
        return lambda g: fill(torch.empty(37, 29), *args, generator=g)

    for name in INIT_FILLS:  # the weight initialisers' values are a promise too
        args = (0.25,) if name == "sparse_" else ()
        PUBLIC_DRAWS[f"init.{name}/float32"] = filled(getattr(init, name), *args)

    # The parameters where stream version 2 changed a definition (docs/spec.md section 10):
    # extreme parameters, each method of the truncated normal, permutations of both kinds.
    PUBLIC_DRAWS["init.trunc_normal_/tails"] = lambda g: torch.cat([
        init.trunc_normal_(torch.empty(257, dtype=F64), 0.0, 1.0, lo, hi, generator=g).clone()
        for lo, hi in ((2.0, 3.0), (-3.0, -2.5), (0.0, 0.1), (-0.3, 0.4), (5.0, math.inf), (-2.0, 2.0))])
    PUBLIC_DRAWS["randperm/int64-16"] = lambda g: torch.cat([ks.randperm(16, generator=g) for _ in range(64)])
    PUBLIC_DRAWS["randperm/int32-large"] = lambda g: ks.randperm(
        100_003, generator=g, dtype=torch.int32, region=(slice(99_000, 100_003),))
    PUBLIC_DRAWS["uniform/bfloat16-1-2"] = _given_generator(ks.uniform, 1.0, 2.0, n, dtype=torch.bfloat16)
    PUBLIC_DRAWS["standard_gamma/float64-tiny"] = _given_generator(
        ks.standard_gamma, torch.full((n,), 1e-3, dtype=F64))
    PUBLIC_DRAWS["beta/float64-tiny"] = _given_generator(ks.beta, 1e-3, 1e-3, (n,), dtype=F64)
    PUBLIC_DRAWS["dirichlet/float64-tiny"] = _given_generator(ks.dirichlet, torch.full((257, 4), 1e-3, dtype=F64))
    PUBLIC_DRAWS["student_t/float64-tiny"] = _given_generator(ks.student_t, 0.01, (n,), dtype=F64)
    PUBLIC_DRAWS["binomial/float64-huge"] = _given_generator(ks.binomial, 2.0**40, 1e-9, (n,), dtype=F64)
    PUBLIC_DRAWS["poisson/float64-huge"] = _given_generator(ks.poisson, 1e12, (n,), dtype=F64)
    # Tensor parameters: the standard draw transformed with torch ops (mean + std * z, ...).
    means = torch.linspace(-3.0, 3.0, n, dtype=F64)
    stds = torch.tensor([0.0, 0.5, 1.0, 7.25]).repeat(258)[:n]
    for dt in (F16, F32, F64):
        tag = str(dt).replace("torch.", "")
        PUBLIC_DRAWS[f"normal/{tag}-tensors"] = _given_generator(ks.normal, means.to(dt), stds.to(dt))
        PUBLIC_DRAWS[f"uniform/{tag}-tensors"] = _given_generator(ks.uniform, means.to(dt), (means + stds).to(dt))
    PUBLIC_DRAWS["bernoulli/float64-tensor"] = _given_generator(ks.bernoulli, torch.linspace(0.0, 1.0, n, dtype=F64))


#: The random initialisers of ``keystream.init`` (each has a golden).
INIT_FILLS = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
              "kaiming_normal_", "orthogonal_", "sparse_")


def cases() -> Iterator[tuple[Case, torch.dtype]]:
    """Every (case, dtype) pair of the conformance table."""
    for case in CASES:
        for dt in case.dtypes:
            yield case, dt


def make_spec(case: Case, dtype: torch.dtype, shape: tuple[int, ...], region: tuple[tuple[int, int], ...] | None = None,
              offset: int = 0, key: tuple[int, int] = (0x12345678, 0x9ABCDEF0)) -> DrawSpec:
    if region is None:
        region = tuple((0, s) for s in shape)
    params = case.params(dtype)
    if case.kind in ("randperm", "randperm_v2"):
        params = (shape[0],)
    return DrawSpec(case.kind, params, key, offset, shape, region, dtype)


def _sentinel(spec: DrawSpec, device: torch.device) -> torch.Tensor:
    out = torch.empty(spec.out_shape, dtype=spec.dtype, device=device)
    if spec.dtype == torch.bool:
        return out.fill_(True)
    if spec.dtype.is_floating_point:
        return out.fill_(float("nan"))
    if spec.dtype in (torch.uint32, torch.uint64):
        out.view(torch.int32 if spec.dtype == torch.uint32 else torch.int64).fill_(-0x5A5A5A5B)
        return out
    return out.fill_(torch.iinfo(spec.dtype).max - 3)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (NaN payloads and signed zeros included)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a, b = a.detach().cpu().contiguous(), b.detach().cpu().contiguous()
    if a.dtype == torch.bool:
        return bool(torch.equal(a, b))
    ints = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    return bool(torch.equal(a.view(ints), b.view(ints)))


def run_case(engine: Engine | str, spec: DrawSpec, device: torch.device | str = "cpu") -> torch.Tensor:
    """Fill a sentinel-initialised tensor on ``device`` with ``engine``."""
    eng = get_engine(engine) if isinstance(engine, str) else engine
    out = _sentinel(spec, torch.device(device))
    if spec.out_numel:
        eng.fill(out, spec)
    return out


def reference(spec: DrawSpec) -> torch.Tensor:
    return run_case("reference", spec, "cpu")


_public_draws()
