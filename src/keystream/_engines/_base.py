"""The engine interface: one small abstract class every engine implements."""
from __future__ import annotations

import abc
from typing import Any

import torch

from .._core._kinds import KERNEL_KINDS, kernel_kind
from .._core._spec import DrawSpec

#: Every kernel kind of the one table.
ALL_KERNEL_KINDS = frozenset(k.name for k in KERNEL_KINDS)

__all__ = ["ALL_KERNEL_KINDS", "Engine"]


class Engine(abc.ABC):
    """Turns a :class:`~keystream._core._spec.DrawSpec` into numbers on some devices.

    Engines hold no state.  ``fill`` must write exactly ``full[spec.region]`` of the
    virtual draw into ``out``, bit for bit as the reference engine does, for any
    thread count, launch geometry or chunking the engine uses internally.
    """

    #: Short name shown by ``keystream selftest`` and accepted by ``use_engine``.
    name: str = "?"

    #: The kernel kinds (``_kinds.KERNEL_KINDS`` names) this engine computes.  The
    #: reference and portable engines compute every row; a fast engine lists what it has
    #: kernels for, and ``engine_for`` takes the portable engine for the rest.
    kernel_kinds: frozenset[str] = ALL_KERNEL_KINDS

    def implements(self, kind: str, dtype: torch.dtype) -> bool:
        """Whether this engine computes draw kind ``kind`` at ``dtype``."""
        return kernel_kind(kind, dtype).name in self.kernel_kinds

    def available(self) -> bool:
        """Whether the engine can run in this process (its extension or Triton loaded)."""
        return True

    @abc.abstractmethod
    def supports(self, device: torch.device) -> bool:
        """Whether the engine can fill tensors on ``device``."""

    @abc.abstractmethod
    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        """Write the draw into ``out``.

        Args:
            out: a contiguous tensor of shape ``spec.out_shape`` and dtype ``spec.dtype``
                on a device this engine supports.
            spec: the draw; already validated by the caller.
        """

    # Montecarlo's fused work (NOTE [ fused integrands ] in montecarlo/_integrands.py):
    # an engine with kernels for it overrides these; None means "no kernel here", and
    # the caller runs the torch definition, which gives the same integers.

    def exact_sum_limbs(self, x: torch.Tensor) -> tuple[list[int], list[int], int] | None:
        """Limbs of the exact sums of float64 ``x`` and ``x * x`` (``montecarlo``'s exact
        accumulation) on ``x``'s device, or None."""
        return None

    def count_in_ball(self, key: tuple[int, int], offset: int, dims: int, s0: int, s1: int,
                      device: torch.device) -> torch.Tensor | None:
        """``montecarlo.InBall``'s count of samples [s0, s1) of the stream at (key, offset)
        as a 0-d int64 tensor on ``device`` (not synchronised), or None."""
        return None

    def permute_indices(self, idx: torch.Tensor, n: int, keys: tuple[int, ...]) -> torch.Tensor | None:
        """``Permutation``'s lookups: ``pi(idx)`` for int64 indices in [0, n) under the 8
        round ``keys`` (``_math.feistel``), on ``idx``'s device, or None (no kernel here:
        the caller uses the portable engine's)."""
        return None

    def permute_indices_v2(self, idx: torch.Tensor, n: int, pkey: tuple[int, int],
                           tables: Any = None) -> torch.Tensor | None:
        """Stream version 2's Feistel lookups (``n > 2^16``): ``pi(idx)`` for int64 indices
        in [0, n) under the permutation key ``pkey``, or None (no kernel here); ``tables``:
        what :meth:`permutation_tables` made for this permutation, or None."""
        return None

    def permutation_tables(self, n: int, pkey: tuple[int, int]) -> Any:
        """Whatever speeds up many :meth:`permute_indices_v2` calls of one permutation (the C
        engine: its round functions as tables), or None."""
        return None

    #: The stream versions whose definitions of the composite draws' kernels this engine's
    #: :meth:`standard_gamma`, :meth:`poisson`, :meth:`binomial` and :meth:`multinomial`
    #: compute (``version=``).
    composite_versions: frozenset[int] = frozenset({1})

    def has_standard_gamma(self) -> bool:
        """Whether :meth:`standard_gamma` has a kernel."""
        return False

    def standard_gamma(self, out: torch.Tensor, key: tuple[int, int], z_offset: int, e_offset: int,
                       alpha: torch.Tensor, version: int = 1, alpha_scale: float = 1.0, mult: float = 1.0,
                       rate: torch.Tensor | None = None, numer: torch.Tensor | None = None,
                       log_out: torch.Tensor | None = None) -> None:
        """``keystream.standard_gamma``'s definition (NOTE [ Gamma with a fixed number of
        candidates ]) of ``alpha * alpha_scale``, times ``mult``, divided by ``rate`` (None:
        not divided), then ``numer / sqrt(...)`` (None: not), every step in float64 (a
        correctly rounded sqrt), into contiguous float32 or float64 ``out``
        (rounded once), with the float64 normal and exponential draws at ``z_offset`` and
        ``e_offset``; ``alpha``, ``rate`` and ``numer`` contiguous float32 or float64 (``out``'s numel, or
        one value for all).  With ``log_out`` (contiguous float64, where
        :meth:`has_standard_gamma_log`; ``out`` float64, ``mult`` 1, no ``rate`` or ``numer``), the
        values' logs too, computed without the boost's exp (NOTE [ Gamma in log space ]).
        Called only where :meth:`has_standard_gamma`."""
        raise NotImplementedError(f"engine {self.name!r} has no standard_gamma kernel")

    def has_standard_gamma_log(self) -> bool:
        """Whether :meth:`standard_gamma` takes ``log_out``."""
        return False

    def gamma_rows(self, x: torch.Tensor, lx: torch.Tensor | None, params: torch.Tensor,
                   beta: bool) -> torch.Tensor | None:
        """Beta's or Dirichlet's float64 values from the standard Gammas ``x`` [rows, k] of
        ``params`` (contiguous float64; ``params`` float32 or float64) and their logs ``lx``
        (None: no parameter below 1), as the ``rows`` of ``beta`` and ``dirichlet`` in
        _composite.py compute them: [rows] for Beta (k = 2), [rows, k] for Dirichlet (``lx``'s
        or ``x``'s memory).  None when there is no kernel here (the caller computes the
        definition with torch ops)."""
        return None

    def has_counts(self) -> bool:
        """Whether :meth:`poisson` and :meth:`binomial` have kernels."""
        return False

    def poisson(self, out: torch.Tensor, key: tuple[int, int], offset: int, rate: torch.Tensor,
                version: int = 1) -> None:
        """``keystream.poisson``'s definition (NOTE [ Counts with a fixed number of candidates ])
        into contiguous float32 or float64 ``out`` (rounded once) from contiguous float32 or
        float64 ``rate`` (finite, >= 0; ``out``'s numel, or one value for all) and the blocks
        at (key, offset).  Called only where :meth:`has_counts`."""
        raise NotImplementedError(f"engine {self.name!r} has no poisson kernel")

    def binomial(self, out: torch.Tensor, key: tuple[int, int], offset: int, count: torch.Tensor,
                 prob: torch.Tensor, version: int = 1) -> None:
        """``keystream.binomial``'s definition into ``out`` from ``count`` (whole, >= 0) and
        ``prob`` (in [0, 1]), as :meth:`poisson`.  Called only where :meth:`has_counts`."""
        raise NotImplementedError(f"engine {self.name!r} has no binomial kernel")

    def dropout(self, out: torch.Tensor, x: torch.Tensor, key: tuple[int, int], e0: int, inner: int, threshold: int,
                scale: float) -> bool:
        """``keystream.nn``'s keyed dropout (NOTE [ Keyed masks ]) of contiguous float32 or float64
        ``x`` into ``out`` (the same shape and dtype): ``x * (w < threshold ? scale : 0)`` with
        ``w`` the 32-bit word of mask element ``e0 + i // inner`` at offset 0 of ``key``.
        Returns False when there is no kernel here (the caller computes the definition with
        torch ops)."""
        return False

    def bernoulli_p(self, out: torch.Tensor, key: tuple[int, int], offset: int, p: torch.Tensor) -> bool:
        """``keystream.bernoulli``'s definition for tensor probabilities into contiguous ``out``
        (bool, uint8, float32 or float64): element ``e`` is 1 iff the 32-bit word of the uint32
        bits draw at ``offset`` is below ``p[e] * 2^32`` (float64); ``p`` contiguous float32 or
        float64 in [0, 1], ``out``'s numel or one value.  Returns False when there is no kernel
        here (the caller computes the definition with torch ops)."""
        return False

    def sample_tokens(self, logits: torch.Tensor, keys: torch.Tensor, temperature: torch.Tensor,
                      top_k: torch.Tensor | None, top_p: torch.Tensor | None,
                      min_p: torch.Tensor | None) -> torch.Tensor | None:
        """``keystream.sampling.sample``'s definition (NOTE [ Keyed sampling ]) for checked
        float32 ``logits`` [B, V], int64 ``keys`` [B, 2] and per-row parameters (float64
        temperature, top_p, min_p; int64 top_k; None when off): int64 tokens [B], or None
        (no kernel here: the caller computes the definition with torch ops)."""
        return None

    def has_multinomial(self, n: int, replacement: bool) -> bool:
        """Whether :meth:`multinomial` has a kernel for ``n`` samples per row."""
        return False

    def multinomial(self, out: torch.Tensor, key: tuple[int, int], offset: int, weights: torch.Tensor, n: int,
                    replacement: bool, k: int, version: int = 1) -> int:
        """``keystream.multinomial``'s definition (docs/spec.md section 8) into int64 ``out``
        [rows, n] from ``weights`` [rows, cats] (contiguous float32 or float64) and the draw
        at (key, offset), checking the weights as it reads them: returns 0, or 1 (a
        negative, NaN or inf weight), 2 (a row with too few weights > 0), and then ``out`` is
        incomplete.  Called only where :meth:`has_multinomial`; elsewhere the caller
        computes the definition with torch ops."""
        raise NotImplementedError(f"engine {self.name!r} has no multinomial kernel")

    def __repr__(self) -> str:
        return f"<keystream engine {self.name!r}>"
