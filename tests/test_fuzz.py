"""A property-based fuzz of the public draws' keywords (hypothesis): whatever the arguments,

* a call that fails raises a clear exception type (no AttributeError, KeyError, ...) with a
  message, and leaves the generator and the default generator byte for byte as they were;
* a call that succeeds returns a tensor of the draw's support, the same bits as the full path
  (a second generator at the same state, the C engine forced: NOTE [ memoised small draws ]
  is what a repeated call takes), and moves the generator as that one does.

tests/test_validation.py names each bad input and the argument its message must name; this
walks the space between its rows.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keystream as ks

CLEAR = (TypeError, ValueError, RuntimeError, IndexError, NotImplementedError, OverflowError)
FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
INTS = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]

#: numbers, odd numbers and things that are not numbers
NUMBER = st.one_of(
    st.floats(-4.0, 4.0), st.integers(-5, 5), st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e-300, 1e300, 3e38]),
    st.sampled_from([math.nan, math.inf, -math.inf, True, None, "1", 2 + 0j]),
)
PROB = st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 1.0, 0.5, 1e-9, math.nan, None, True]))
SIZE = st.one_of(st.integers(0, 20), st.tuples(st.integers(0, 5), st.integers(0, 5)),
                 st.sampled_from([-1, 2.5, (3, -1), "3", None, True, (2, 3)]))
DTYPE = st.one_of(st.none(), st.sampled_from(FLOATS + INTS + [torch.bool, torch.complex64, "float32"]))


def _tensor_of(values: Any) -> Any:
    return st.builds(lambda v, n, dt: torch.full((n,), v, dtype=dt), values, st.integers(1, 4),
                     st.sampled_from([torch.float32, torch.float64]))


def _real(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(x) if x.is_complex() else x


def _in(lo: float, hi: float) -> Callable[[torch.Tensor, dict[str, Any]], bool]:
    return lambda x, kw: bool(((_real(x).double() >= lo) & (_real(x).double() <= hi)).all())


def _not_nan(x: torch.Tensor, kw: dict[str, Any]) -> bool:
    return not bool(torch.isnan(_real(x).double()).any()) if x.dtype.is_floating_point or x.is_complex() else True


def _uniform_support(x: torch.Tensor, kw: dict[str, Any]) -> bool:
    lo, hi = kw.get("low", 0.0), kw.get("high", 1.0)
    lo, hi = torch.tensor(lo, dtype=torch.float64).to(x.dtype).double(), torch.tensor(hi, dtype=torch.float64).to(
        x.dtype).double()  # (the bounds rounded to the dtype, as the draw does)
    return bool(((x.double() >= lo) & ((x.double() < hi) | (lo == hi))).all())


def _whole_nonnegative(x: torch.Tensor, kw: dict[str, Any]) -> bool:
    return bool(((x >= 0) & (x == torch.floor(x))).all())


# name -> (call(generator, **keywords), keyword strategies, support of an accepted result)
CASES: dict[str, tuple[Callable[..., Any], dict[str, Any], Callable[[torch.Tensor, dict[str, Any]], bool]]] = {
    "rand": (lambda g, size, **kw: ks.rand(size, generator=g, **kw), {"size": SIZE, "dtype": DTYPE}, _in(0.0, 1.0)),
    "randn": (lambda g, size, **kw: ks.randn(size, generator=g, **kw), {"size": SIZE, "dtype": DTYPE}, _not_nan),
    "uniform": (lambda g, **kw: ks.uniform(generator=g, **kw),
                {"low": NUMBER, "high": NUMBER, "size": SIZE, "dtype": DTYPE}, _uniform_support),
    "normal": (lambda g, **kw: ks.normal(generator=g, **kw),
               {"mean": st.one_of(NUMBER, _tensor_of(st.floats(-3, 3))),
                "std": st.one_of(NUMBER, _tensor_of(st.floats(-1, 3))), "size": SIZE, "dtype": DTYPE}, _not_nan),
    "exponential": (lambda g, size, **kw: ks.exponential(size, generator=g, **kw),
                    {"size": SIZE, "lambd": NUMBER, "dtype": DTYPE}, _in(0.0, math.inf)),
    "cauchy": (lambda g, size, **kw: ks.cauchy(size, generator=g, **kw),
               {"size": SIZE, "median": NUMBER, "sigma": NUMBER, "dtype": DTYPE}, _not_nan),
    "laplace": (lambda g, size, **kw: ks.laplace(size, generator=g, **kw),
                {"size": SIZE, "loc": NUMBER, "scale": NUMBER, "dtype": DTYPE}, _not_nan),
    "gumbel": (lambda g, size, **kw: ks.gumbel(size, generator=g, **kw),
               {"size": SIZE, "loc": NUMBER, "scale": NUMBER, "dtype": DTYPE}, _not_nan),
    "log_normal": (lambda g, size, **kw: ks.log_normal(size, generator=g, **kw),
                   {"size": SIZE, "mean": NUMBER, "std": NUMBER, "dtype": DTYPE}, _in(0.0, math.inf)),
    "geometric": (lambda g, size, **kw: ks.geometric(size, generator=g, **kw),
                  {"size": SIZE, "p": PROB, "dtype": DTYPE}, _in(1.0, math.inf)),
    "bernoulli": (lambda g, **kw: ks.bernoulli(generator=g, **kw),
                  {"p": st.one_of(PROB, _tensor_of(st.floats(-0.2, 1.2))), "size": SIZE, "dtype": DTYPE},
                  _in(0.0, 1.0)),
    "randint": (lambda g, low, high, size, **kw: ks.randint(low, high, size, generator=g, **kw),
                {"low": NUMBER, "high": NUMBER, "size": SIZE, "dtype": DTYPE},
                lambda x, kw: bool(((x >= kw["low"]) & (x < kw["high"])).all())),
    "randperm": (lambda g, n, **kw: ks.randperm(n, generator=g, **kw),
                 {"n": st.one_of(st.integers(0, 3000), NUMBER), "dtype": DTYPE},
                 lambda x, kw: torch.equal(torch.sort(x.long()).values, torch.arange(kw["n"]))),
    "uniform_": (lambda g, t, **kw: ks.uniform_(t, generator=g, **kw),
                 {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS + [torch.int32])),
                  "from_": NUMBER, "to": NUMBER}, _not_nan),
    "normal_": (lambda g, t, **kw: ks.normal_(t, generator=g, **kw),
                {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS)),
                 "mean": NUMBER, "std": NUMBER}, _not_nan),
    "bernoulli_": (lambda g, t, **kw: ks.bernoulli_(t, generator=g, **kw),
                   {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS + INTS)),
                    "p": PROB}, _in(0.0, 1.0)),
    "random_": (lambda g, t, *a: ks.random_(t, *a, generator=g),
                {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(INTS + [torch.float32])),
                 "numbers": st.lists(st.one_of(st.integers(-300, 300), NUMBER), max_size=2)}, _not_nan),
    "exponential_": (lambda g, t, **kw: ks.exponential_(t, generator=g, **kw),
                     {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS)), "lambd": NUMBER},
                     _in(0.0, math.inf)),
    "cauchy_": (lambda g, t, **kw: ks.cauchy_(t, generator=g, **kw),
                {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS)),
                 "median": NUMBER, "sigma": NUMBER}, _not_nan),
    "geometric_": (lambda g, t, **kw: ks.geometric_(t, generator=g, **kw),
                   {"t": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS)), "p": PROB},
                   _in(1.0, math.inf)),
    "rand_like": (lambda g, x, **kw: ks.rand_like(x, generator=g, **kw),
                  {"x": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS + [torch.int64])),
                   "dtype": DTYPE}, _in(0.0, 1.0)),
    "randint_like": (lambda g, x, *numbers, **kw: ks.randint_like(x, *numbers, generator=g, **kw),
                     {"x": st.builds(torch.empty, st.integers(0, 9), dtype=st.sampled_from(FLOATS + INTS)),
                      "numbers": st.lists(st.one_of(st.integers(-300, 300), NUMBER), min_size=1, max_size=2),
                      "dtype": DTYPE}, _not_nan),
    "bits": (lambda g, size, **kw: ks.bits(size, generator=g, **kw), {"size": SIZE, "dtype": DTYPE},
             lambda x, kw: True),
    "poisson": (lambda g, rate, **kw: ks.poisson(rate, generator=g, **kw),
                {"rate": st.one_of(_tensor_of(st.floats(-1, 50)), NUMBER), "size": st.one_of(st.none(), SIZE)},
                _whole_nonnegative),
    "binomial": (lambda g, count, prob, **kw: ks.binomial(count, prob, generator=g, **kw),
                 {"count": st.one_of(_tensor_of(st.floats(-1, 30)), NUMBER),
                  "prob": st.one_of(_tensor_of(st.floats(-0.2, 1.2)), PROB)}, _whole_nonnegative),
    "standard_gamma": (lambda g, alpha, **kw: ks.standard_gamma(alpha, generator=g, **kw),
                       {"alpha": st.one_of(_tensor_of(st.floats(-1, 10)), NUMBER), "size": st.one_of(st.none(), SIZE)},
                       _in(0.0, math.inf)),
    "beta": (lambda g, a, b, **kw: ks.beta(a, b, generator=g, **kw),
             {"a": st.one_of(_tensor_of(st.floats(-1, 5)), NUMBER),
              "b": st.one_of(_tensor_of(st.floats(-1, 5)), NUMBER), "size": st.one_of(st.none(), SIZE)},
             _in(0.0, 1.0)),
    "gamma": (lambda g, shape, **kw: ks.gamma(shape, generator=g, **kw),
              {"shape": st.one_of(_tensor_of(st.floats(-1, 10)), NUMBER), "rate": NUMBER,
               "size": st.one_of(st.none(), SIZE)}, _in(0.0, math.inf)),
    "chi2": (lambda g, df, **kw: ks.chi2(df, generator=g, **kw),
             {"df": st.one_of(_tensor_of(st.floats(-1, 10)), NUMBER), "size": st.one_of(st.none(), SIZE)},
             _in(0.0, math.inf)),
    "student_t": (lambda g, df, **kw: ks.student_t(df, generator=g, **kw),
                  {"df": st.one_of(_tensor_of(st.floats(-1, 10)), NUMBER), "size": st.one_of(st.none(), SIZE)},
                  _not_nan),
    "dirichlet": (lambda g, alpha, **kw: ks.dirichlet(alpha, generator=g, **kw),
                  {"alpha": _tensor_of(st.floats(-0.5, 5))}, _in(0.0, 1.0)),
    "multinomial": (lambda g, w, n, **kw: ks.multinomial(w, n, generator=g, **kw),
                    {"w": _tensor_of(st.floats(-0.5, 2)), "n": st.one_of(st.integers(0, 6), NUMBER),
                     "replacement": st.booleans()},
                    lambda x, kw: bool(((x >= 0) & (x < kw["w"].shape[-1])).all())),
}


def _state(g: ks.Generator) -> torch.Tensor:
    return g.get_state().clone()


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzzed_calls_keep_the_promises(name: str) -> None:
    call, keywords, support = CASES[name]

    @settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries(keywords), st.sampled_from([0, 5, (1 << 64) - 3000]))
    def check(kw: dict[str, Any], offset: int) -> None:
        kw = {k: v for k, v in kw.items()
              if not (v is None and k in ("dtype", "size") and name not in ("rand", "randn"))}
        args = kw.pop("numbers", ())  # (random_'s positional from_ / to)
        g, ref = ks.Generator(11), ks.Generator(11)
        g.offset = ref.offset = offset
        before, default_before = _state(g), _state(ks.default_generator)
        copies = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
        try:
            result = call(g, *args, **kw)
        except CLEAR as err:
            assert str(err), f"{name}: {type(err).__name__} without a message"
            assert torch.equal(g.get_state(), before), f"{name}({kw}) failed and moved the generator: {err}"
            assert torch.equal(ks.default_generator.get_state(), default_before)
            return
        assert isinstance(result, torch.Tensor)
        assert support(result, kw), f"{name}({kw}) returned values outside its support: {result}"
        with ks.use_engine("cpu"):  # (the full path, on the C engine)
            want = call(ref, *args, **copies)
        assert result.dtype == want.dtype and result.shape == want.shape
        if result.dtype.is_floating_point or result.is_complex():
            assert torch.equal(result.view(-1).view(torch.uint8) if result.numel() else result,
                               want.view(-1).view(torch.uint8) if want.numel() else want), name
        else:
            assert torch.equal(result, want), name
        assert g.offset == ref.offset
        assert torch.equal(ks.default_generator.get_state(), default_before)

    check()
