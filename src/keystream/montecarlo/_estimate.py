"""estimate(): Monte Carlo means that are a pure function of (seed, n_samples, integrand).

NOTE [ why the bits never depend on chunks, processes or devices ]
* Sample ``i``'s random numbers come from counter ranges fixed by ``i``: the k-th draw
  an integrand asks for is the region ``[s0, s1)`` of a virtual tensor of shape
  ``(n_samples, *dims)`` from ``Generator(seed).fold_in("montecarlo").fold_in(k)``.
* The sums of values and of squared values are exact integers (``_accumulate``), added
  in any order; the mean and the variance are rounded once at the end.
So a deterministic integrand (one that uses IEEE arithmetic, or ``montecarlo.exp``, and
no library reductions across samples) gives the same estimate for any chunk size, any
number of processes and any device.
"""
from __future__ import annotations

import math
import numbers
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import torch

from .._core._keys import canonical_seed
from .._torch import _draws
from .._torch._devices import usable_device
from .._torch._generator import Generator
from ._accumulate import SCALE_BITS, exact_sums, to_fraction

__all__ = ["Estimate", "Draws", "estimate"]


def _rate(per_s: float) -> str:
    """A rate with three significant digits at any speed (0.0123 M samples/s, not 0.0)."""
    return f"{per_s / 1e6:.3g} M samples/s"


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate.

    Attributes:
        mean: the sample mean (correctly rounded from the exact sum).
        stderr: the standard error ``sqrt(var / n)`` (unbiased variance).
        ci: the two-sided confidence interval at ``confidence`` (normal approximation).
        n: samples (antithetic pairs count as one sample each: their average).
        samples_per_s: throughput of this run.
        interrupted: True when Ctrl-C stopped the run early (``n`` says how far it got).
    """

    mean: float
    stderr: float
    ci: tuple[float, float]
    n: int
    confidence: float
    samples_per_s: float
    interrupted: bool = False
    sum_exact: Fraction = field(default=Fraction(0), repr=False, compare=False)

    def __str__(self) -> str:
        lo, hi = self.ci
        note = ", interrupted" if self.interrupted else ""
        return (f"{self.mean:.10g} +- {self.stderr:.3g} ({100 * self.confidence:g}% CI [{lo:.10g}, {hi:.10g}]; "
                f"n = {self.n:,}, {_rate(self.samples_per_s)}{note})")


class Draws:
    """The random numbers of one chunk of samples ``[start, stop)``, as the integrand asks.

    Each method returns a tensor of shape ``(stop - start, *dims)``; the k-th call in an
    integrand draws from its own stream, the same for every chunk, so sample ``i``
    always sees the same numbers.  With antithetic sampling, the second evaluation of
    each chunk gets ``1 - u`` for uniforms and ``-z`` for normals.
    """

    def __init__(self, seed: int, n_total: int, start: int, stop: int, device: torch.device,
                 antithetic: bool = False, streams: dict[Any, Generator] | None = None) -> None:
        self._streams = {} if streams is None else streams  # k -> root.fold_in(k), shared by chunks
        root = self._streams.get("root")
        if root is None:
            root = self._streams["root"] = Generator(seed).fold_in("montecarlo")
        self._root = root
        self.n_total, self.start, self.stop = n_total, start, stop
        self.device = device
        self._antithetic = antithetic
        self._calls = 0

    @property
    def size(self) -> int:
        return self.stop - self.start

    def _stream(self, k: int) -> Generator:
        """A fresh copy of the generator of the k-th draw (the same for every chunk)."""
        g = self._streams.get(k)
        if g is None:
            g = self._streams[k] = self._root.fold_in(k)
        return g.clone()

    def _draw(self, fn: Callable[..., torch.Tensor], dims: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        g = self._stream(self._calls)
        self._calls += 1
        shape = (self.n_total, *dims)
        region = (slice(self.start, self.stop),) + tuple(slice(0, d) for d in dims)
        return fn(*shape, generator=g, dtype=dtype, device=self.device, region=region)

    def rand(self, *dims: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Uniform [0, 1) numbers, shape ``(chunk, *dims)``; antithetic: ``1 - u``."""
        u = self._draw(_draws.rand, dims, dtype)
        return 1.0 - u if self._antithetic else u

    def randn(self, *dims: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Standard normals, shape ``(chunk, *dims)``; antithetic: ``-z`` (a sign flip)."""
        z = self._draw(_draws.randn, dims, dtype)
        return torch.neg(z) if self._antithetic else z


def _check(n_samples: Any, chunk_size: Any, confidence: Any) -> None:
    for name, v in (("n_samples", n_samples), ("chunk_size", chunk_size)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        if v <= 0:
            raise ValueError(f"{name} must be > 0, got {v}")
    if not isinstance(confidence, numbers.Real) or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _values(fn: Callable[[Draws], torch.Tensor], draws: Draws) -> torch.Tensor:
    v = fn(draws)
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"fn must return a tensor of per-sample values, got {type(v).__name__}")
    if v.dim() == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if tuple(v.shape) != (draws.size,):
        raise ValueError(f"fn must return shape ({draws.size},) for a chunk of {draws.size} samples, "
                         f"got {tuple(v.shape)}")
    if v.is_complex():
        raise TypeError(f"fn must return real per-sample values, got dtype {v.dtype} "
                        "(estimate the real and imaginary parts separately)")
    if v.dtype == torch.bool or not v.dtype.is_floating_point:
        return v  # integer values: summed exactly as integers
    return v.to(torch.float64)


#: Default samples per chunk on the CPU, and on other devices (GPUs).
DEFAULT_CHUNK = 1 << 20
DEFAULT_CHUNK_DEVICE = 1 << 22


def estimate(fn: Callable[[Draws], torch.Tensor], n_samples: int, *, seed: int,
             device: torch.device | str | None = None, chunk_size: int | None = None, antithetic: bool = False,
             confidence: float = 0.95, progress: bool | None = None, group: Any = None) -> Estimate:
    """Estimate ``E[fn]`` from ``n_samples`` samples, bit-identically for any chunking.

    Args:
        fn: receives a :class:`Draws` for a chunk of samples and returns one value per
            sample (shape ``(chunk,)``).  Built-in integrands such as
            :class:`~keystream.montecarlo.InBall` also have fused kernels (C on the CPU,
            Triton on CUDA) with the same bits, which the estimator uses (see
            ``_integrands.py``).
        n_samples: number of samples (with ``antithetic``, of antithetic pairs).
        seed: the seed; with ``n_samples`` and ``fn`` it determines every bit of the result.
        device: where the draws are made (default CPU).
        chunk_size: samples per chunk (bounds memory; never changes the result).  Default:
            2^20 on the CPU, 2^22 on other devices (a GPU needs larger chunks to stay busy
            between the host's per-chunk steps), more for fused integrands there (which
            store no draws: ``InBall`` takes 2^26 samples at a time on a GPU).
        antithetic: evaluate each sample also with ``1 - u`` / ``-z`` and average the pair.
        confidence: level of the confidence interval.
        progress: a tqdm bar; ``None`` shows one when tqdm is installed and the run takes
            longer than 2 seconds.
        group: a torch.distributed process group: every rank must call ``estimate`` with
            the same arguments; rank r evaluates chunks r, r + W, ...; the exact sums are
            combined, and every rank returns the same estimate.

    Returns:
        An :class:`Estimate`.  Ctrl-C returns the estimate of the chunks finished so far
        (single process only).

    Raises:
        ValueError: ``n_samples <= 0``, ``chunk_size <= 0``, ``confidence`` outside (0, 1),
            or ``fn`` returning the wrong shape, NaN or infinities.
    """
    dev = usable_device(device) if device is not None else torch.device("cpu")
    if chunk_size is None:
        chunk_size = DEFAULT_CHUNK if dev.type == "cpu" else DEFAULT_CHUNK_DEVICE
        if dev.type != "cpu" and not antithetic:  # a fused integrand stores no draws
            chunk_size = max(chunk_size, getattr(fn, "_fused_chunk", 0))
    _check(n_samples, chunk_size, confidence)
    seed = canonical_seed(seed)
    rank, world = 0, 1
    dist = torch.distributed
    distributed = group is not None or (dist.is_available() and dist.is_initialized())
    if distributed:
        rank, world = dist.get_rank(group), dist.get_world_size(group)
    chunks = math.ceil(n_samples / chunk_size)
    streams: dict[Any, Generator] = {}
    fused = None if antithetic else getattr(fn, "_fused_count", None)  # NOTE [ fused integrands ]
    total = total_sq = 0
    pending: list[torch.Tensor] = []  # fused indicator counts, read in batches (device sync)
    done = 0
    interrupted = False
    t0 = time.perf_counter()
    bar = None
    try:
        for c in range(rank, chunks, world):
            s0, s1 = c * chunk_size, min(n_samples, (c + 1) * chunk_size)
            part = _chunk(fn, fused, seed, n_samples, s0, s1, dev, antithetic, streams)
            if isinstance(part, torch.Tensor):
                pending.append(part)
                if len(pending) == _MAX_PENDING:
                    scaled = _read_counts(pending)
                    total, total_sq = total + scaled, total_sq + scaled
            else:
                total += part[0]
                total_sq += part[1]
            done += s1 - s0
            if bar is None and progress is not False and rank == 0 and time.perf_counter() - t0 > 2.0:
                bar = _bar(progress, n_samples, done * world)
            if bar is not None:
                bar.update((s1 - s0) * world)
    except KeyboardInterrupt:
        if distributed:
            raise
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    scaled = _read_counts(pending)  # the chunks already launched (also after Ctrl-C)
    total, total_sq = total + scaled, total_sq + scaled
    if distributed:
        parts: list[Any] = [None] * world
        dist.all_gather_object(parts, (total, total_sq, done), group=group)
        total = sum(p[0] for p in parts)
        total_sq = sum(p[1] for p in parts)
        done = sum(p[2] for p in parts)
    elapsed = max(time.perf_counter() - t0, 1e-9)
    return _finish(total, total_sq, done, confidence, done / elapsed, interrupted)


def _chunk(fn: Callable[[Draws], torch.Tensor], fused: Any, seed: int, n_samples: int, s0: int, s1: int,
           dev: torch.device, antithetic: bool, streams: dict[Any, Generator]) -> tuple[int, int] | torch.Tensor:
    """The exact sums of ``fn`` and ``fn^2`` over samples ``[s0, s1)``, or (a fused
    integrand) its device count for :func:`_read_counts`."""
    draws = Draws(seed, n_samples, s0, s1, dev, streams=streams)
    count = fused(draws) if fused is not None else None
    if count is not None:
        return count  # type: ignore[no-any-return]
    v = _values(fn, draws)
    if antithetic:
        w = _values(fn, Draws(seed, n_samples, s0, s1, dev, antithetic=True, streams=streams))
        v = (v.to(torch.float64) + w.to(torch.float64)) * 0.5
    return exact_sums(v)


def partial_sums(fn: Callable[[Draws], torch.Tensor], n_samples: int, seed: int, chunk_size: int,
                 chunk_ids: range, device: torch.device | str = "cpu",
                 antithetic: bool = False) -> tuple[int, int, int]:
    """The exact sums ``(sum, sum of squares, samples)`` of the chunks ``chunk_ids`` of
    :func:`estimate`'s run: what one worker of a cluster computes (keystream.dask); the
    sums of all chunks, in any grouping, give :func:`estimate`'s result bit for bit."""
    dev = torch.device(device)
    seed = canonical_seed(seed)
    fused = None if antithetic else getattr(fn, "_fused_count", None)
    streams: dict[Any, Generator] = {}
    total = total_sq = done = 0
    for c in chunk_ids:
        s0, s1 = c * chunk_size, min(n_samples, (c + 1) * chunk_size)
        part = _chunk(fn, fused, seed, n_samples, s0, s1, dev, antithetic, streams)
        if isinstance(part, torch.Tensor):
            part = (_read_counts([part]),) * 2
        total, total_sq, done = total + part[0], total_sq + part[1], done + s1 - s0
    return total, total_sq, done


#: Device counts held before they are read (one synchronisation per this many chunks).
_MAX_PENDING = 256


def _read_counts(pending: list[torch.Tensor]) -> int:
    """The scaled exact sum of fused indicator counts (an indicator's square is itself,
    so it is also the sum of squares); empties ``pending``.  One synchronisation."""
    if not pending:
        return 0
    count = int(torch.stack(pending).sum())
    pending.clear()
    return count << SCALE_BITS


def _bar(progress: bool | None, total: int, initial: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="samples", unit_scale=True)


def _finish(total: int, total_sq: int, n: int, confidence: float, rate: float, interrupted: bool) -> Estimate:
    if n == 0:
        return Estimate(math.nan, math.nan, (math.nan, math.nan), 0, confidence, rate, interrupted)
    s = to_fraction(total)
    mean = s / n
    var = (to_fraction(total_sq) - s * s / n) / (n - 1) if n > 1 else Fraction(0)
    var = max(var, Fraction(0))
    stderr = math.sqrt(float(var / n))  # the Fraction is rounded once, sqrt is correctly rounded
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    m = float(mean)
    return Estimate(m, stderr, (m - z * stderr, m + z * stderr), n, confidence, rate, interrupted, s)


def control_variate(fn: Callable[[Draws], torch.Tensor], control: Callable[[Draws], torch.Tensor],
                    control_mean: float, n_samples: int, *, seed: int, pilot: int = 10_000, **kwargs: Any) -> Estimate:
    """Control-variate estimate of ``E[fn]`` with a control ``g`` of known mean ``control_mean``.

    ``y = f - c (g - control_mean)`` with ``c = Cov(f, g) / Var(g)`` estimated on a pilot
    run (its own seed stream, ``fold_in("pilot")``), then fixed: the main run is a plain
    :func:`estimate` of ``y`` and keeps every guarantee of it.
    """
    pilot_seed = Generator(canonical_seed(seed)).fold_in("pilot").initial_seed()
    d = Draws(pilot_seed, pilot, 0, pilot, torch.device(kwargs.get("device") or "cpu"))
    fv = _values(fn, d)
    d._calls = 0
    gv = _values(control, d)
    gc = gv - gv.mean()
    c = float((gc * (fv - fv.mean())).sum() / (gc * gc).sum())

    def adjusted(draws: Draws) -> torch.Tensor:
        f = fn(draws)
        draws._calls = 0
        return f - c * (control(draws) - control_mean)

    return estimate(adjusted, n_samples, seed=seed, **kwargs)
