"""Public draws made of other draws: their numbers come from ``_draws`` and exact steps.

A composite draw takes its words from one public draw (so from every engine, bit for
bit) and turns them into its result with steps whose result does not depend on the
order of operations: comparisons, integer sums, one IEEE operation per element, a
stable sort.  So it is the same on every device without kernels of its own.

Like ``_draws``, every function of ``__all__`` is also a :class:`Generator` method.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from .._core._constants import f64
from .._core._kinds import FLOAT_DTYPES
from .._core._math.gamma import CANDIDATES
from .._core._math.torch_forms import c64, exp_f64, log_f64, mulhi64, sqrt_f64
from .._core._spec import blocks_for
from .._engines import engine_for
from . import _draws
from ._draws import generator_method
from ._generator import Generator, resolve_generator

__all__ = ["multinomial", "standard_gamma", "gamma", "chi2", "beta", "dirichlet", "student_t"]

Tensor = torch.Tensor
_M32 = 0xFFFFFFFF
#: torch's limit on categories.
_MAX_CATEGORIES = 1 << 24


def _check_args(input: Any, num_samples: Any, replacement: bool) -> int:
    """``num_samples``, after the checks torch makes of the arguments (not of the values)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dtype not in FLOAT_DTYPES:
        raise TypeError(f"input must be a float tensor of weights, got dtype {input.dtype}")
    if input.dim() not in (1, 2):
        raise ValueError(f"input must be 1-D or 2-D, got {input.dim()} dimensions")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}")
    n = int(num_samples)
    categories = input.shape[-1]
    if n <= 0:
        raise ValueError(f"num_samples must be > 0, got {n}")
    if categories == 0 or categories > _MAX_CATEGORIES:
        raise ValueError(f"input must have between 1 and 2**24 categories, got {categories}")
    if not replacement and n > categories:
        raise ValueError(f"num_samples = {n} is more than the {categories} categories (without replacement)")
    if input.device.type == "meta":
        raise ValueError("input is on the meta device: its values are needed")
    return n


def _value_error(status: int, n: int, replacement: bool) -> None:
    """Raise for a failed check of the weights (1: a bad weight, 2: a short row)."""
    if status == 1:
        raise ValueError("input must hold finite weights >= 0 (it has a negative, inf or NaN entry)")
    if status == 2:
        if replacement:
            raise ValueError("input has a row of weights that are all 0")
        raise ValueError(f"input has a row with fewer than num_samples = {n} weights > 0 (without replacement)")


def _check_values(w: Tensor, n: int, replacement: bool) -> None:
    """The checks of the weights (float64 [rows, cats]) with torch ops."""
    if not w.numel():
        return
    if not bool((torch.isfinite(w) & (w >= 0)).all()):
        _value_error(1, n, replacement)
    if int((w > 0).sum(1).min()) < (1 if replacement else n):
        _value_error(2, n, replacement)


@_draws._eager
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator: Generator | None = None,
                out: Tensor | None = None) -> Tensor:
    """Category indices drawn with probabilities proportional to the rows of ``input``, like
    :func:`torch.multinomial`: ``[num_samples]`` for a 1-D ``input``, ``[rows, num_samples]``
    for a 2-D one (int64).

    Without replacement (an exponential race): each category ``c`` of a row gets the key
    ``E_c / w_c`` with ``E`` a float64 :func:`exponential` draw of ``input``'s shape; the
    samples are the categories of the ``num_samples`` smallest keys, smallest first (equal
    keys: the smaller index first).  That is exactly drawing one at a time, each with
    probability proportional to the weights left.

    With replacement (exact integers): the weights become integers ``q_c = floor(w_c *
    2^(K - e))`` (exactly: ``2^e`` bounds the row's largest weight, ``K = min(52, 62 -
    ceil(log2 C))``; a weight below ``2^(1-K)`` of the row's largest is never drawn), and
    sample ``s`` is the first ``c`` whose prefix sum of ``q`` exceeds ``floor(x_s * Q /
    2^64)``, ``x_s`` a 64-bit :func:`bits` word, ``Q`` the row's sum.

    Raises:
        TypeError: ``input`` not a float tensor, ``num_samples`` not an int.
        ValueError: as torch: ``input`` not 1-D or 2-D, ``num_samples <= 0`` (or above the
            categories without replacement), negative, inf or NaN weights, a row of zeros
            (without replacement: fewer weights > 0 than ``num_samples``).

    Reproducibility:
        Without replacement: the blocks of ``exponential(input.shape, dtype=torch.float64)``
        (``ceil(numel / 2)``); with replacement: those of ``bits(rows, num_samples,
        dtype=torch.uint64)`` (``ceil(rows * num_samples / 2)``).  The rest is exact, so
        every device gives the same indices.
    """
    g = resolve_generator(generator)
    n = _check_args(input, num_samples, replacement)
    rows, categories = (1, input.shape[0]) if input.dim() == 1 else tuple(input.shape)
    shape = (n,) if input.dim() == 1 else (rows, n)
    if out is not None:
        _draws._check_out(out, shape, torch.int64)
    device = input.device
    target = out if out is not None else _draws._empty(shape, torch.int64, device)
    k = min(52, 62 - max(0, categories - 1).bit_length())
    kind, dtype, count = ("bits", torch.uint64, rows * n) if replacement else ("exponential", torch.float64,
                                                                               rows * categories)
    engine = engine_for(device, kind, dtype)
    version = g._version
    if engine.has_multinomial(n, replacement) and version in engine.composite_versions:
        # The kernel checks the weights as it reads them, so it runs before the blocks are
        # reserved, at the state they will have; a draw by another thread in between makes
        # it run again at the blocks reserved.
        src = input.detach().reshape(rows, categories)
        src = (src if src.dtype in (torch.float32, torch.float64) else src.to(torch.float32)).contiguous()
        dest = target if out is None and target.is_contiguous() else _draws._empty(shape, torch.int64, device)
        key, start, _, _ = g._snapshot()
        _value_error(engine.multinomial(dest.view(rows, n), key, start, src, n, replacement, k, version), n,
                     replacement)
        blocks = blocks_for(kind, dtype, count)
        reserved = g._reserve(blocks, version)
        if reserved != (key, start):
            try:
                engine.multinomial(dest.view(rows, n), *reserved, src, n, replacement, k, version)
            except BaseException:
                g._release(*reserved, blocks)
                raise
        if dest is not target:
            return target.copy_(dest)
        return dest if out is None else _draws._written(dest)
    w = input.detach().reshape(rows, categories).to(torch.float64)
    _check_values(w, n, replacement)
    if replacement:
        _, e = torch.frexp(w.amax(1, keepdim=True))  # the row's largest weight is m 2^e, m in [0.5, 1)
        shift = k - e.to(torch.int64)
        a = shift.clamp(max=1000)  # 2^(K - e) in two exact factors (it can pass 2^1023)
        q = torch.floor((w * _power_of_two(a)) * _power_of_two(shift - a)).to(torch.int64)
        prefix = torch.cumsum(q, 1)  # exact: integers below 2^62
        x = _draws.bits((rows, n), generator=g, dtype=torch.int64, device=device)
        hi, lo = mulhi64((x >> 32) & _M32, x & _M32, prefix[:, -1:])
        picks = torch.searchsorted(prefix, (hi << 32) | lo, right=True)
    else:
        keys = _draws.exponential((rows, categories), generator=g, dtype=torch.float64, device=device) / w
        if version >= 2:  # a weight of 0 ranks after every weight > 0, even those whose key overflowed to inf
            keys = torch.where(w == 0.0, torch.nan, keys)
        picks = _smallest(keys, n)
    return target.copy_(picks.reshape(shape))


def _power_of_two(exponent: Tensor) -> Tensor:
    """``2.0 ** exponent`` (int64, in [-1022, 1023]) as float64, from the bits."""
    return ((exponent + 1023) << 52).view(torch.float64)


def _smallest(keys: Tensor, n: int) -> Tensor:
    """Per row, the indices of the ``n`` smallest keys, smallest first; equal keys in index
    order.  topk where the first ``n + 1`` keys have no equal neighbours (then its answer is
    the only one), a stable sort of the other rows."""
    categories = keys.shape[1]
    if n >= categories:
        return torch.sort(keys, dim=1, stable=True).indices[:, :n]
    values, picks = torch.topk(keys, n + 1, 1, largest=False, sorted=True)
    tied = (values[:, 1:] == values[:, :-1]).any(1)
    picks = picks[:, :n]
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        picks[rows] = torch.sort(keys[rows], dim=1, stable=True).indices[:, :n]
    return picks


# ------------------------------------------------------------------ gamma family
# NOTE [ Gamma with a fixed number of candidates ]
# Marsaglia and Tsang's method, in float64 for every dtype, with 12 candidates per element
# and no loop: s = alpha (alpha + 1 when alpha < 1), d = s - 1/3, c = 1 / sqrt(9 d);
# candidate i takes the normal z_i and the exponential E_i (= -ln u_i) of the element,
# v = (1 + c z)^3, and is accepted when v > 0 and -E_i < ((z^2 / 2 + d) - d v) + d ln v;
# the value is d v of the first accepted candidate (d if none is: each is accepted with
# probability above 0.95, so all 12 fail with probability below 3e-16), times
# exp(-E_12 / alpha) when alpha < 1.  Every element reads the same words whatever happens:
# 12 normals and 13 exponentials, so neighbours never shift.  The same method (with its
# own word layout) makes data's Beta draws.  (The definition's numpy form, for the front ends
# on numpy's API: _core/_math/gamma.py.)
GAMMA_CANDIDATES = CANDIDATES


class Elements:
    """Which elements of a virtual draw of ``total`` elements are computed: all of them in C
    order (``index`` None), or a region's, ``index`` their flat indices in increasing order."""

    def __init__(self, total: int, index: Tensor | None = None) -> None:
        self.total = total
        self.index = index

    @classmethod
    def of_region(cls, shape: tuple[int, ...], region: _draws.Region) -> tuple[Elements, tuple[int, ...]]:
        """The elements of ``region`` of a draw of ``shape``, and the region's shape."""
        reg = _draws._region(region, shape)
        total = math.prod(shape)
        out_shape = tuple(b - a for a, b in reg)
        if region is None or all(a == 0 and b == n for (a, b), n in zip(reg, shape)):
            return cls(total), out_shape
        index = torch.zeros((), dtype=torch.int64)
        stride = 1
        for d in reversed(range(len(shape))):  # the region's flat indices, O(region) memory
            a, b = reg[d]
            axis = torch.arange(a, b, dtype=torch.int64) * stride
            index = axis.reshape((-1,) + (1,) * (len(shape) - 1 - d)) + index
            stride *= shape[d]
        return cls(total, index.reshape(-1)), out_shape

    @property
    def count(self) -> int:
        """How many elements are computed."""
        return self.total if self.index is None else self.index.numel()

    def scaled(self, k: int) -> Elements:
        """The elements of the ``(*shape, k)`` draw whose last index runs over these."""
        if self.index is None:
            return Elements(self.total * k)
        return Elements(self.total * k, (self.index.unsqueeze(1) * k + torch.arange(k)).reshape(-1))

    def pieces(self, rows: int) -> Iterator[tuple[int, int, int]]:
        """``(pos, lo, hi)``: output positions ``pos ..`` hold elements ``lo .. hi - 1``, at
        most ``rows`` at a time (runs of consecutive elements of a region)."""
        if self.index is None:
            runs = [(0, 0, self.total)]
        else:
            idx = self.index
            breaks = (torch.nonzero(idx[1:] != idx[:-1] + 1).reshape(-1) + 1).tolist()
            starts = [0, *breaks] if idx.numel() else []
            ends = starts[1:] + [idx.numel()]
            first = idx[starts].tolist() if starts else []
            runs = [(p, e, e + (q - p)) for p, q, e in zip(starts, ends, first)]
        for pos, lo, hi in runs:
            for a in range(lo, hi, rows):
                yield pos + (a - lo), a, min(hi, a + rows)


def _gamma_blocks(n: int) -> tuple[int, int]:
    """The blocks of a standard_gamma draw of ``n`` elements: its normals', and in all."""
    z_blocks = blocks_for("normal", torch.float64, n * GAMMA_CANDIDATES)
    return z_blocks, z_blocks + blocks_for("exponential", torch.float64, n * (GAMMA_CANDIDATES + 1))


def gamma_kernel(engine: Any, out: Tensor, key: tuple[int, int], start: int, z_blocks: int, elements: Elements,
                 alpha: Tensor, version: int, scale: float = 1.0, mult: float = 1.0, rate: Tensor | None = None,
                 numer: Tensor | None = None, log_out: Tensor | None = None) -> None:
    """``Engine.standard_gamma`` for ``elements`` of a draw whose blocks start at ``start``
    (normals, then exponentials from ``start + z_blocks``), into flat ``out``.  A region is
    computed run by run, each run with its own parameters (one value, or the run's values of
    flat parameters that hold one per computed element); element ``e``'s normals are blocks
    ``6e ..`` and its exponentials ``13e / 2 ..``, so a run starts on an even element (one
    more value, dropped) to start on a whole block."""
    if elements.index is None:
        engine.standard_gamma(out, key, start, start + z_blocks, alpha, version, scale, mult, rate, numer,
                              log_out=log_out)
        return
    z_per, e_per2 = GAMMA_CANDIDATES // 2, GAMMA_CANDIDATES + 1  # blocks per element (exponentials: per 2)

    def run_of(values: Tensor | None, pos: int, length: int, padded: bool, each: bool = False) -> Tensor | None:
        """The run's values of per-element ``values`` (one value, unless ``each``: itself), with
        the dropped element's (any) in front where the run starts one element early."""
        if values is None or (values.numel() == 1 and not each):
            return values
        part = values[pos:pos + length]
        return (torch.cat([part[:1], part]) if padded else part).contiguous()

    for pos, lo, hi in elements.pieces(elements.count):
        even = lo - (lo & 1)
        padded = even != lo
        parts = [t[pos:pos + hi - lo] for t in (out, log_out) if t is not None]
        # (a run that starts one element early writes into scratch, then drops that element)
        dsts = [torch.empty(hi - even, dtype=p.dtype, device=p.device) if padded else p for p in parts]
        engine.standard_gamma(dsts[0], key, start + z_per * even, start + z_blocks + e_per2 * even // 2,
                              run_of(alpha, pos, hi - lo, padded), version, scale, mult,
                              run_of(rate, pos, hi - lo, padded), run_of(numer, pos, hi - lo, padded, each=True),
                              log_out=dsts[1] if log_out is not None else None)
        if padded:
            for p, d in zip(parts, dsts):
                p.copy_(d[1:])


def _gamma_f64(alpha: Tensor, g: Generator, elements: Elements | None = None) -> Tensor:
    """Standard Gamma(alpha) for a float64 tensor of alphas > 0 (any shape, on its device):
    the normals of ``randn((n, 12), float64)``, then the exponentials of
    ``exponential((n, 13), float64)``, from the generator's next blocks, for the ``elements``
    of a draw of ``n`` (default: all, ``n = alpha.numel()``), whose alphas ``alpha`` holds."""
    return _gamma_f64_and_log(alpha, g, elements, False)[0]


def _gamma_f64_and_log(alpha: Tensor, g: Generator, elements: Elements | None,
                       with_log: bool) -> tuple[Tensor, Tensor | None]:
    """:func:`_gamma_f64`'s values and, ``with_log``, their logs computed without the exp
    (``ln(d v) - E / alpha`` for ``alpha < 1``, NOTE [ Gamma in log space ]): the same blocks.
    ``alpha`` may be of any float dtype (its values are exact in float64)."""
    elements = Elements(alpha.numel()) if elements is None else elements
    n, k = elements.total, GAMMA_CANDIDATES
    dev = alpha.device
    version = g._version
    value = torch.empty(alpha.shape, dtype=torch.float64, device=dev)
    log_value = torch.empty(alpha.shape, dtype=torch.float64, device=dev) if with_log else None
    z_blocks, blocks = _gamma_blocks(n)
    if dev.type == "meta":  # NOTE [ meta ] in _draws: the blocks, no values
        g._reserve(blocks, version)
        return value, log_value
    engine = engine_for(dev, "normal", torch.float64)
    key, start = g._reserve(blocks, version)
    try:
        out = value.view(-1)
        if (engine.has_standard_gamma() and version in engine.composite_versions
                and (not with_log or engine.has_standard_gamma_log())):
            gamma_kernel(engine, out, key, start, z_blocks, elements, kernel_param(alpha, alpha.shape, dev), version,
                         log_out=None if log_value is None else log_value.view(-1))
            return value, log_value
        flat = alpha.reshape(-1).to(torch.float64)
        rows = max(1, (1 << 20) // (k + 1))  # candidates a chunk at a time: bounded memory
        for pos, lo, hi in elements.pieces(rows):
            z = _draws.normal(0.0, 1.0, (n, k), generator=_at(g, key, start), dtype=torch.float64, device=dev,
                              region=(slice(lo, hi),))
            e = _draws.exponential((n, k + 1), generator=_at(g, key, start + z_blocks), dtype=torch.float64,
                                   device=dev, region=(slice(lo, hi),))
            part = slice(pos, pos + hi - lo)
            out[part], logs = _marsaglia_tsang(flat[part], z, e, version, with_log)
            if log_value is not None and logs is not None:
                log_value.view(-1)[part] = logs
    except BaseException:
        g._release(key, start, blocks)
        raise
    return value, log_value


# NOTE [ Gamma in log space ]
# For alpha < 1 a Gamma variate is X = G U^(1/alpha) (G ~ Gamma(alpha + 1)), which underflows
# for tiny alpha (alpha = 1e-3: X < 1e-308 half of the time).  A ratio of such variates (beta,
# dirichlet) is still well defined: stream version 2 computes ln X = ln G - E / alpha
# (E = -ln U, the stream's log) without the exp, and the ratio from the logs: beta's
# 1 / (1 + exp(ln Y - ln X)) (or exp(ln X - ln Y) / (1 + exp(ln X - ln Y)) when that is
# smaller), dirichlet's exp(ln X_i - max) / sum_j exp(ln X_j - max), the sum left to right,
# exp with gradual underflow.  Elements (rows) whose parameters are all >= 1 keep the ratio
# of the values.


def _at(g: Generator, key: tuple[int, int], offset: int) -> Generator:
    """A generator at (key, offset): the blocks a composite draw reserved."""
    h = g.clone()
    h._key, h.offset = key, offset
    return h


def _marsaglia_tsang(alpha: Tensor, z: Tensor, e: Tensor, version: int = 1,
                     with_log: bool = False) -> tuple[Tensor, Tensor | None]:
    """NOTE [ Gamma with a fixed number of candidates ], one IEEE operation per torch op
    (stream version 2: the boost's exp with gradual underflow, so tiny alphas give the
    subnormal values they should instead of 0)."""
    boost = alpha < 1.0
    one = c64("ONE_F64", alpha)
    s = torch.where(boost, alpha + one, alpha).unsqueeze(1)
    d = s - c64("THIRD_F64", alpha)
    c = one / _sqrt(c64("NINE_F64", alpha) * d)
    t = one + c * z
    v = (t * t) * t
    positive = v > 0.0
    log_v = log_f64(torch.where(positive, v, one))
    rhs = (((c64("HALF_F64", alpha) * z) * z + d) - d * v) + d * log_v
    accept = positive & (-e[:, :GAMMA_CANDIDATES] < rhs)
    first = torch.where(accept, torch.arange(GAMMA_CANDIDATES, device=alpha.device), GAMMA_CANDIDATES).amin(1)
    chosen = (d * v).gather(1, first.clamp(max=GAMMA_CANDIDATES - 1).unsqueeze(1)).squeeze(1)
    value = torch.where(first < GAMMA_CANDIDATES, chosen, d.squeeze(1))
    exponent = -e[:, GAMMA_CANDIDATES] / alpha
    power = exp_f64(exponent, subnormal=version >= 2)  # U^(1/alpha) = exp(-E / alpha)
    logs = torch.where(boost, log_f64(value) + exponent, log_f64(value)) if with_log else None
    return torch.where(boost, value * power, value), logs


def _sqrt(x: Tensor) -> Tensor:
    """The correctly rounded float64 square root: numpy's (IEEE sqrt) on the CPU, where torch's
    vectorised one is not correctly rounded; the stream math's torch form elsewhere (the
    portable engine's, checked against numpy by the conformance suite)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.asarray(np.sqrt(x.detach().contiguous().numpy())))  # (0-d: a numpy scalar)
    return sqrt_f64(x)


def _positive_param(value: Any, name: str) -> Tensor | float:
    """A parameter that must be finite and > 0: a number or a real tensor (checked)."""
    v = _draws._param(value, name)
    if isinstance(v, Tensor):
        ok = True
        if v.numel():  # one pass (NaN propagates to both ends)
            lo, hi = torch.aminmax(v.detach())
            ok = lo.item() > 0 and hi.item() < math.inf
    else:
        ok = math.isfinite(v) and v > 0
    if not ok:
        raise ValueError(f"{name} must be finite and > 0, got {_draws.shown(value)}")
    return v


def region_of(values: dict[str, Any], size: Any, region: _draws.Region
              ) -> tuple[tuple[int, ...], Elements, tuple[int, ...]]:
    """The draw's shape, the elements computed and their shape (a ``region`` needs number
    parameters: the draw's values then depend only on the element index)."""
    shape = _draws._param_shape(size, **values)
    if region is not None and any(isinstance(v, Tensor) for v in values.values()):
        raise ValueError("region needs number parameters (with tensor parameters, index the parameters instead)")
    elements, out_shape = Elements.of_region(shape, region)
    return shape, elements, out_shape


def _gamma_like(params: dict[str, Any], size: Any, g: Generator, dtype: Any, device: Any, out: Tensor | None,
                draw: str, region: _draws.Region = None
                ) -> tuple[dict[str, Tensor | float], tuple[int, ...], torch.dtype, torch.device, Elements]:
    """The checked parameters (numbers or tensors, as given), the computed elements' shape,
    the dtype, device and elements."""
    values = {name: _positive_param(v, name) for name, v in params.items()}
    _, elements, shape = region_of(values, size, region)
    dtype = _draws._dtype(dtype, out, _draws._float_dtype_of(*values.values()) or torch.get_default_dtype(),
                          FLOAT_DTYPES, draw)
    _draws._check_out(out, shape, dtype)
    dev = _draws._device(device, out, g)
    return values, shape, dtype, dev, elements


def _f64(values: dict[str, Tensor | float], shape: tuple[int, ...], dev: torch.device) -> dict[str, Tensor]:
    """Parameters as contiguous float64 tensors of ``shape`` on ``dev``."""
    full = tuple((0, n) for n in shape)
    return {name: _draws._regional(_draws._as_tensor(v), shape, full, torch.float64, dev).contiguous()
            for name, v in values.items()}


#: The dtypes the kernels of gamma and of the counts read and write directly (16-bit
#: values pass through float64).
KERNEL_DTYPES = (torch.float32, torch.float64)


def kernel_param(v: Tensor | float, shape: tuple[int, ...], dev: torch.device) -> Tensor:
    """A parameter as a kernel reads it: one value (broadcast), or contiguous of ``shape``,
    float32 or float64 (a float32 value is exact in float64)."""
    t = _draws._as_tensor(v).to(dev)
    if t.dtype not in KERNEL_DTYPES:
        t = t.to(torch.float64)
    if t.numel() == 1:
        return t.reshape(1)
    return t.expand(shape).contiguous().reshape(-1)


def _scaled_gamma(g: Generator, alpha: Tensor | float, rate: Tensor | float | None, shape: tuple[int, ...],
                  dtype: torch.dtype, dev: torch.device, elements: Elements, out: Tensor | None,
                  half: bool = False, numer: Tensor | None = None) -> Tensor:
    """``standard_gamma(alpha) / rate`` (``rate`` None: the value itself), with ``half``
    chi2's ``2 standard_gamma(alpha / 2)`` instead, then ``numer / sqrt(value)`` where
    ``numer`` is given (float64, of the computed shape: Student's t), in float64, rounded once
    to ``dtype`` (into ``out``).  An engine's kernel reads the parameters and writes the
    values directly where it has one (the same IEEE operations)."""
    engine = None if dev.type == "meta" else engine_for(dev, "normal", torch.float64)
    version = g._version
    if (engine is not None and engine.has_standard_gamma() and dtype in KERNEL_DTYPES
            and version in engine.composite_versions):
        n = elements.total
        z_blocks, blocks = _gamma_blocks(n)
        a = kernel_param(alpha, shape, dev)
        r = None if rate is None else kernel_param(rate, shape, dev)
        target = out if out is not None and out.is_contiguous() else _draws._empty(shape, dtype, dev)
        scale, mult = (f64("HALF_F64"), f64("TWO_F64")) if half else (f64("ONE_F64"), f64("ONE_F64"))
        key, start = g._reserve(blocks, version)
        try:
            gamma_kernel(engine, target.view(-1), key, start, z_blocks, elements, a, version, scale, mult, r,
                         None if numer is None else numer.reshape(-1))
        except BaseException:
            g._release(key, start, blocks)
            raise
        return _draws._written(target) if target is out else _draws._finish(target, out)
    p = _f64({"alpha": alpha} if rate is None else {"alpha": alpha, "rate": rate}, shape, dev)
    if half:
        x = c64("TWO_F64", p["alpha"]) * _gamma_f64(p["alpha"] * c64("HALF_F64", p["alpha"]), g, elements)
    else:
        x = _gamma_f64(p["alpha"], g, elements)
    if rate is not None:
        x = x / p["rate"]
    return _finish(x if numer is None else numer / _sqrt(x), dtype, out)


def _finish(x: Tensor, dtype: torch.dtype, out: Tensor | None) -> Tensor:
    """float64 values rounded once to ``dtype`` (into ``out``)."""
    return _draws._finish(x.to(dtype), out)


@_draws._eager
def standard_gamma(alpha: Tensor | float, size: Any = None, *, generator: Generator | None = None,
                   out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
                   region: _draws.Region = None) -> Tensor:
    """Gamma(``alpha``, 1) numbers (torch's ``_standard_gamma``); ``alpha`` a number or a tensor.

    Marsaglia and Tsang's method in float64 with 12 candidates per element and no loop
    (``alpha < 1``: Gamma(alpha + 1) * U^(1/alpha)); all 12 are rejected with probability
    below 3e-16, and then the value is ``alpha - 1/3`` (``alpha + 2/3`` boosted).  Rounded once
    to the dtype (``alpha``'s float dtype, or torch's default).

    Raises:
        ValueError: ``alpha`` not finite and > 0.

    Reproducibility:
        Element ``e`` (C order) takes the normals ``12e .. 12e + 11`` of ``randn((n, 12),
        dtype=float64)`` and then the exponentials ``13e .. 13e + 12`` of
        ``exponential((n, 13), dtype=float64)`` from the next blocks (``n`` elements:
        ``6n + ceil(13n / 2)`` blocks).  Everything after the draws is elementwise IEEE
        arithmetic and the stream's log, exp and sqrt: the same on every device.  With
        ``region`` (number parameters), exactly ``full[region]``, and the generator advances
        as for the full draw (so do gamma, chi2, beta and student_t).
    """
    g = resolve_generator(generator)
    v, shape, dtype, dev, elements = _gamma_like({"alpha": alpha}, size, g, dtype, device, out, "standard_gamma",
                                                 region)
    return _scaled_gamma(g, v["alpha"], None, shape, dtype, dev, elements, out)


@_draws._eager
def gamma(concentration: Tensor | float, rate: Tensor | float = 1.0, size: Any = None, *,
          generator: Generator | None = None, out: Tensor | None = None, dtype: torch.dtype | None = None,
          device: Any = None, region: _draws.Region = None) -> Tensor:
    """Gamma(``concentration``, ``rate``) numbers (:class:`torch.distributions.Gamma`):
    :func:`standard_gamma` of ``concentration`` divided by ``rate`` in float64, rounded once.

    Reproducibility:
        The blocks of :func:`standard_gamma` for the broadcast shape.
    """
    g = resolve_generator(generator)
    v, shape, dtype, dev, elements = _gamma_like({"concentration": concentration, "rate": rate}, size, g, dtype,
                                                 device, out, "gamma", region)
    return _scaled_gamma(g, v["concentration"], v["rate"], shape, dtype, dev, elements, out)


@_draws._eager
def chi2(df: Tensor | float, size: Any = None, *, generator: Generator | None = None, out: Tensor | None = None,
         dtype: torch.dtype | None = None, device: Any = None, region: _draws.Region = None) -> Tensor:
    """Chi-square numbers with ``df`` degrees of freedom (:class:`torch.distributions.Chi2`):
    ``2 * standard_gamma(df / 2)`` in float64, rounded once.

    Reproducibility:
        The blocks of :func:`standard_gamma` for the broadcast shape.
    """
    g = resolve_generator(generator)
    v, shape, dtype, dev, elements = _gamma_like({"df": df}, size, g, dtype, device, out, "chi2", region)
    return _scaled_gamma(g, v["df"], None, shape, dtype, dev, elements, out, half=True)


@_draws._eager
def beta(a: Tensor | float, b: Tensor | float, size: Any = None, *, generator: Generator | None = None,
         out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
         region: _draws.Region = None) -> Tensor:
    """Beta(``a``, ``b``) numbers (:class:`torch.distributions.Beta`): ``X / (X + Y)`` with
    ``X``, ``Y`` the standard Gamma draws of ``a`` and ``b`` (as ``dirichlet`` of ``[a, b]``).
    Stream version 2, where ``a < 1`` or ``b < 1``: from the Gammas' logs (NOTE [ Gamma in
    log space ]), so tiny parameters give values near 0 and 1 as they should; version 1:
    0.5 where both Gammas are 0.

    Reproducibility:
        The blocks of :func:`standard_gamma` of the ``(*shape, 2)`` tensor ``[a, b]``.
    """
    g = resolve_generator(generator)
    v, shape, dtype, dev, elements = _gamma_like({"a": a, "b": b}, size, g, dtype, device, out, "beta", region)
    logs = g._version >= 2 and any(bool((x < 1.0).any()) if isinstance(x, Tensor) else x < 1.0 for x in v.values())
    full_shape = _draws._param_shape(size, a=a, b=b)
    a_flat, b_flat = (_flat_param(x, full_shape, dev) for x in (v["a"], v["b"]))

    def rows(params: Tensor, x: Tensor, lx: Tensor | None) -> Tensor:
        kernel = _rows_kernel(params, x, lx, beta=True)
        if kernel is not None:
            return kernel
        value = _ratio(x[..., 0], x[..., 0] + x[..., 1])
        if lx is not None:  # NOTE [ Gamma in log space ]
            t = lx[..., 1] - lx[..., 0]
            low = t <= 0.0
            r = exp_f64(torch.where(low, t, -t), subnormal=True)  # exp(-|t|) <= 1
            one = c64("ONE_F64", r)
            in_log = (params < 1.0).any(-1)
            value = torch.where(in_log, torch.where(low, one / (one + r), r / (one + r)), value)
        return value

    def params_of(index: Tensor | slice) -> Tensor:
        return torch.stack([_take(a_flat, index), _take(b_flat, index)], -1)

    return _by_rows(g, elements, 2, params_of, rows, logs, shape, dtype, dev, out)


def _flat_param(v: Tensor | float, shape: tuple[int, ...], dev: torch.device) -> Tensor:
    """A parameter as a flat float64 tensor over the draw's elements in C order (a number: one
    value), without copying one that already has the draw's shape."""
    t = _draws._as_tensor(v).to(dev)
    if t.numel() == 1:
        return t.reshape(1).to(torch.float64)
    return t.expand(shape).reshape(-1)  # (a view where t has the shape; the values exact in float64)


def _take(flat: Tensor, index: Tensor | slice) -> Tensor:
    """``flat``'s values at the flat elements ``index`` (a tensor of indices, or a slice; one
    value: broadcast), in float64."""
    if flat.numel() == 1:
        count = index.stop - index.start if isinstance(index, slice) else index.numel()
        return flat.expand(count).to(torch.float64)
    return flat[index].to(torch.float64)


#: Gamma variates a composite draw computes at a time (its float64 temporaries stay near 20 MiB).
GAMMAS_AT_A_TIME = 1 << 18


def _by_rows(g: Generator, elements: Elements, k: int, params_of: Callable[[Tensor | slice], Tensor],
             rows: Callable[[Tensor, Tensor, Tensor | None], Tensor], logs: bool, shape: tuple[int, ...],
             dtype: torch.dtype, dev: torch.device, out: Tensor | None) -> Tensor:
    """A draw made of the standard Gamma draw of its ``(*shape, k)`` parameters (beta: ``k =
    2``), ``GAMMAS_AT_A_TIME // k`` elements at a time: the blocks are reserved once, for the whole
    Gamma draw; each piece computes its elements' Gammas of ``params_of(index)`` (``Elements``
    of their flat indices: the same blocks as in one go), then ``rows(params, x, log x)``
    their float64 values, rounded once into the result.  The same numbers as in one piece;
    memory bounded."""
    n = elements.total
    z_blocks, blocks = _gamma_blocks(n * k)
    version = g._version
    result = torch.empty(shape, dtype=dtype, device=dev)
    if dev.type == "meta":  # NOTE [ meta ] in _draws: the blocks, no values
        g._reserve(blocks, version)
        return _draws._finish(result, out)
    key, start = g._reserve(blocks, version)
    try:
        count = elements.count
        flat = result.view(count, result.numel() // max(count, 1))  # (an element's values: 1 for beta, k for dirichlet)
        step = max(1, GAMMAS_AT_A_TIME // k)
        for pos in range(0, count, step):
            end = min(count, pos + step)
            if elements.index is None and pos == 0 and end == count:  # (all of them: no index to walk)
                gammas, params = Elements(n * k), params_of(slice(0, count))
            else:
                index = (torch.arange(pos, end, dtype=torch.int64, device=dev) if elements.index is None
                         else elements.index[pos:end].to(dev))
                lanes = torch.arange(k, dtype=torch.int64, device=dev)
                gammas = Elements(n * k, (index.unsqueeze(1) * k + lanes).reshape(-1))
                params = params_of(slice(pos, end) if elements.index is None else index)  # (a slice: no gather)
            x, lx = _gamma_f64_and_log(params, _at(g, key, start), gammas, logs)
            flat[pos:end] = rows(params, x, lx).reshape(end - pos, flat.shape[1]).to(dtype)
    except BaseException:
        g._release(key, start, blocks)
        raise
    return _draws._finish(result, out)


def _rows_kernel(params: Tensor, x: Tensor, lx: Tensor | None, beta: bool) -> Tensor | None:
    """The values of beta's or dirichlet's ``rows`` from the engine's kernel
    (``Engine.gamma_rows``: the same operations in the same order), or None where it has none."""
    return engine_for(x.device, "normal", torch.float64).gamma_rows(x, lx, params.contiguous(), beta)


def _ratio(x: Tensor, total: Tensor) -> Tensor:
    """``x / total``, or 0.5 where ``total`` is 0."""
    if total.device.type == "meta" or bool((total > 0.0).all()):  # the usual case: no selects needed
        return x / total
    safe = torch.where(total > 0.0, total, c64("ONE_F64", total))
    return torch.where(total > 0.0, x / safe, c64("HALF_F64", total))


@_draws._eager
def dirichlet(alpha: Tensor, *, generator: Generator | None = None, out: Tensor | None = None) -> Tensor:
    """Dirichlet(``alpha``) vectors over the last dimension of ``alpha`` (torch's
    ``_sample_dirichlet``, :class:`torch.distributions.Dirichlet`): standard Gamma draws of
    ``alpha`` divided by their sum, summed left to right in float64 (the uniform vector
    where every Gamma is 0); ``alpha``'s dtype.

    Raises:
        TypeError: ``alpha`` not a float tensor.
        ValueError: ``alpha`` 0-d, or not finite and > 0.

    Reproducibility:
        The blocks of :func:`standard_gamma` of ``alpha``.
    """
    g = resolve_generator(generator)
    if not isinstance(alpha, Tensor) or alpha.dtype not in FLOAT_DTYPES:
        raise TypeError(f"alpha must be a float tensor, got {type(alpha).__name__}"
                        + (f" of dtype {alpha.dtype}" if isinstance(alpha, Tensor) else ""))
    if alpha.dim() == 0 or alpha.shape[-1] == 0:
        raise ValueError(f"alpha must have a last dimension of at least one category, got shape {tuple(alpha.shape)}")
    v, shape, dtype, dev, _ = _gamma_like({"alpha": alpha}, None, g, None, None, out, "dirichlet")
    k = shape[-1]
    alpha_rows = alpha.to(dev).reshape(-1, k)  # (its own dtype: the kernels read it, exact in float64)
    logs = g._version >= 2 and bool((alpha_rows < 1.0).any())

    def rows(params: Tensor, x: Tensor, lx: Tensor | None) -> Tensor:
        kernel = _rows_kernel(params, x, lx, beta=False)
        if kernel is not None:
            return kernel
        if lx is not None:  # NOTE [ Gamma in log space ]: rows with an alpha below 1
            top = lx.amax(-1, keepdim=True)  # exact: the row's largest log
            w = exp_f64(lx - top, subnormal=True)
            wsum = w[..., 0]
            for i in range(1, k):  # left to right: the order the spec fixes
                wsum = wsum + w[..., i]
            in_log = (params < 1.0).any(-1, keepdim=True)
            x = torch.where(in_log, w / wsum.unsqueeze(-1), x)
            if bool(in_log.all()):
                return x
            lx_rows = in_log
        else:
            lx_rows = None
        total = x[..., 0]
        for i in range(1, k):  # left to right: the order the spec fixes
            total = total + x[..., i]
        total = total.unsqueeze(-1)
        if lx_rows is not None:  # (the log-space rows are final already)
            total = torch.where(lx_rows, c64("ONE_F64", x), total)
        if bool((total > 0.0).all()):  # the usual case: no selects needed
            return x / total
        uniform = torch.full_like(x, 1.0) / float(k)
        return torch.where(total > 0.0, x / torch.where(total > 0.0, total, c64("ONE_F64", x)), uniform)

    return _by_rows(g, Elements(alpha_rows.shape[0]), k, lambda index: alpha_rows[index], rows, logs, shape, dtype,
                    dev, out)


@_draws._eager
def student_t(df: Tensor | float, size: Any = None, *, generator: Generator | None = None,
              out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
              region: _draws.Region = None) -> Tensor:
    """Student's t numbers with ``df`` degrees of freedom (:class:`torch.distributions.StudentT`
    with loc 0, scale 1): ``X / sqrt(Z / df)``, ``X`` standard normal, ``Z`` chi-square(df),
    in float64 (correctly rounded square root), rounded once.  Stream version 2, for
    ``df < 2``: ``X exp((ln(df / 2) - ln G) / 2)`` with ``ln G`` the log of ``Z / 2`` computed
    without underflow (NOTE [ Gamma in log space ]), so tiny ``df`` overflows only where the
    value itself does.

    Reproducibility:
        ``X`` from ``randn(n, dtype=float64)`` (``ceil(n / 2)`` blocks), then ``Z`` as
        :func:`chi2` from the next blocks.
    """
    g = resolve_generator(generator)
    v, shape, dtype, dev, elements = _gamma_like({"df": df}, size, g, dtype, device, out, "student_t", region)
    full = _draws._param_shape(size, df=v["df"])
    x = _draws.normal(0.0, 1.0, full, generator=g, dtype=torch.float64, device=dev, region=region)
    logs = g._version >= 2 and bool(v["df"] < 2.0 if not isinstance(v["df"], Tensor) else (v["df"] < 2.0).any())
    if not logs:  # x / sqrt((2 G) / df), G = standard_gamma(df / 2)
        return _scaled_gamma(g, v["df"], v["df"], shape, dtype, dev, elements, out, half=True, numer=x)
    p = _f64(v, shape, dev)
    half_df = p["df"] * c64("HALF_F64", x)
    gam, lg = _gamma_f64_and_log(half_df, g, elements, logs)
    value = x / _sqrt((c64("TWO_F64", x) * gam) / p["df"])
    if lg is not None:  # NOTE [ Gamma in log space ]: Z / df = G / (df / 2), so x exp(-(ln G - ln(df / 2)) / 2)
        scaled = x * exp_f64(c64("HALF_F64", x) * (log_f64(half_df) - lg), subnormal=True)
        value = torch.where(half_df < 1.0, scaled, value)
    return _finish(value, dtype, out)


# Every composite draw is also a Generator method.
for _name in __all__:
    setattr(Generator, _name, generator_method(globals()[_name]))
del _name

