"""The one table of draw kinds: everything that lists kinds or dtype codes derives from it.

A *draw kind* is what a :class:`~keystream._core._spec.DrawSpec` names (``"bits"``,
``"uniform"``, ...).  The engines' kernels switch on a finer *kernel kind*: ``bits``
is two kernel kinds (32- and 64-bit words), every other draw kind is one.  Each row
below is a kernel kind: its code (the C engine's ``K_*`` enum, generated into
``_csrc/ks_constants.h`` by ``tools/gen_constants_h.py``, and the Triton kernels'
``KIND`` constexpr), the draw kind it serves, the dtypes it allows, how many elements
one 128-bit block gives (or how many blocks one element uses), how
``DrawSpec.params`` is packed, and which parameters are the standard ones (for which
kernels skip the arithmetic: the same bits).

Float kernels take the 16-bit floats through float32; float dtypes have codes too
(:data:`DTYPE_CODES`, the C engine's ``D_*`` enum and the kernels' ``DTYPE``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "BITS_DTYPES",
    "DTYPE_CODES",
    "DTYPE_NAMES",
    "FLOAT_DTYPES",
    "INT_DTYPES",
    "KERNEL_KINDS",
    "KINDS",
    "PERM_KEY_BLOCKS",
    "KernelKind",
    "V2_KINDS",
    "elements_per_block",
    "kernel_kind",
    "layout",
    "versioned",
]

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
BITS_DTYPES = (torch.uint32, torch.int32, torch.uint64, torch.int64)
_WORDS32 = (torch.uint32, torch.int32)
_WORDS64 = (torch.uint64, torch.int64)

#: The codes of the float dtypes in the kernels (C ``D_*``, Triton ``DTYPE``).
DTYPE_CODES = {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}
#: Their names in the kernels: ``D_F32``, ``D_F64``, ``D_F16``, ``D_BF16``.
DTYPE_NAMES = {torch.float32: "D_F32", torch.float64: "D_F64", torch.float16: "D_F16", torch.bfloat16: "D_BF16"}

#: randperm reads its 8 Feistel round keys from two blocks, whatever n is (stream version 1).
PERM_KEY_BLOCKS = 2
#: Stream version 2's randperm reads its permutation key from one block, whatever n is.
PERM_V2_KEY_BLOCKS = 1
_HALF = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class KernelKind:
    """One row of the table: a kind the engines' kernels compute.

    Attributes:
        name: the kernel kind (``K_<NAME>`` in the C and Triton kernels: :attr:`constant`).
        code: its code in the kernels.
        kind: the draw kind (``DrawSpec.kind``) it serves.
        dtypes: the output dtypes it allows.
        per_block: elements one block gives; 0 for a draw that consumes a fixed number
            of blocks (randperm).
        blocks: blocks one element uses (then ``per_block`` is 1): draws with a fixed
            number of candidates or of words per element (docs/spec.md section 4).
        params: how ``DrawSpec.params`` is packed.
        unit: the standard ``params`` (for which a kernel may skip the arithmetic), as
            ``docs/spec.md`` section 5 defines them; "" if the kind has none.
        wide_f64: float64 outputs are made from 64-bit words: half as many elements per
            block, or twice as many blocks per element.
    """

    name: str
    code: int
    kind: str
    dtypes: tuple[torch.dtype, ...]
    per_block: int
    params: str
    unit: str = ""
    wide_f64: bool = False
    blocks: int = 1

    @property
    def constant(self) -> str:
        """Its name in the kernels (``K_UNIFORM``, ...)."""
        return f"K_{self.name.upper()}"

    def layout(self, dtype: torch.dtype) -> tuple[int, int]:
        """``(k, b)``: elements ``k g .. k g + k - 1`` come from blocks ``b g .. b g + b - 1``
        of the draw (one of ``k``, ``b`` is 1).  A draw of n elements consumes
        ``ceil(n / k) * b`` blocks."""
        k, b = self.per_block, self.blocks
        if self.wide_f64 and dtype == torch.float64:
            return (k, 2 * b) if b > 1 else (k // 2, b)
        return k, b

    def elements_per_block(self, dtype: torch.dtype) -> int:
        return self.layout(dtype)[0]


#: Every kernel kind, in code order.
KERNEL_KINDS: tuple[KernelKind, ...] = (
    KernelKind("bits32", 0, "bits", _WORDS32, 4, "()"),
    KernelKind("bits64", 1, "bits", _WORDS64, 2, "()"),
    KernelKind("uniform", 2, "uniform", FLOAT_DTYPES, 4,
               "(low, span, high, below): x = low + span*u, and x >= high -> below",
               "(0, 1, 1, below(1)): x = u", wide_f64=True),
    KernelKind("normal", 3, "normal", FLOAT_DTYPES, 4, "(mean, std): x = mean + std*z, z from Box-Muller",
               "(0, 1): x = z", wide_f64=True),
    KernelKind("exponential", 4, "exponential", FLOAT_DTYPES, 4, "(lambd,): x = (-ln u) / lambd", "(1,): x = -ln u",
               wide_f64=True),
    KernelKind("randint", 5, "randint", INT_DTYPES, 2, "(low, span): x = low + floor(word64 * span / 2^64)"),
    KernelKind("bernoulli", 6, "bernoulli", FLOAT_DTYPES + INT_DTYPES + (torch.bool,), 4,
               "(threshold,): x = 1 if word32 < threshold else 0"),
    KernelKind("randperm", 7, "randperm", (torch.int16, torch.int32, torch.int64), 0,
               "(n,): x = pi(i), a keyed Feistel permutation of [0, n)"),
    KernelKind("trunc_normal", 8, "trunc_normal", FLOAT_DTYPES, 1,
               "(mean, std, a, b): the first of 16 candidates mean + std*z in [a, b], else the last "
               "clamped to [a, b]", wide_f64=True, blocks=4),
    KernelKind("cauchy", 9, "cauchy", FLOAT_DTYPES, 4, "(median, sigma): x = median + sigma * (sin t / cos t)",
               wide_f64=True),
    KernelKind("laplace", 10, "laplace", FLOAT_DTYPES, 2, "(loc, scale): x = loc + scale * ((-ln u_a) - (-ln u_b))",
               wide_f64=True),
    KernelKind("gumbel", 11, "gumbel", FLOAT_DTYPES, 2,
               "(loc, scale) as float64: x = loc - scale * ln(-ln u) in float64, then rounded to the dtype"),
    KernelKind("log_normal", 12, "log_normal", FLOAT_DTYPES, 4,
               "(mean, std): x = exp(mean + std*z), z and the sum as for normal, exp in float64", wide_f64=True),
    KernelKind("geometric", 13, "geometric", FLOAT_DTYPES, 4,
               "(lam,): x = 1 + floor((-ln u) / lam), lam = -ln(1 - p) in the compute dtype", wide_f64=True),
    # Stream version 2's new definitions (docs/spec.md section 10): each a draw kind of its own,
    # so that every engine computes both versions and no row ever changes.
    KernelKind("uniform_v2", 14, "uniform_v2", _HALF, 4,
               "(low, span, high, below) as float32: x = round(low + span*u24) to the dtype, >= high -> below"),
    KernelKind("randperm_v2", 15, "randperm_v2", (torch.int16, torch.int32, torch.int64), 0,
               "(n,): x = pi(i): a sort of 64-bit keys (n <= 2^16) or a Philox-keyed Feistel permutation"),
    KernelKind("trunc_normal_v2", 16, "trunc_normal_v2", FLOAT_DTYPES, 1,
               "(mean, std, a, b, alpha, beta, sign, method, lam) as float64: rejection from the method's "
               "proposal over 32 candidates, in float64", blocks=32),
)
assert [k.code for k in KERNEL_KINDS] == list(range(len(KERNEL_KINDS)))

#: The draw kinds (``DrawSpec.kind``), in code order.
KINDS: tuple[str, ...] = tuple(dict.fromkeys(k.kind for k in KERNEL_KINDS))

#: The draw kinds whose definition changed in stream version 2, at the dtypes where it changed:
#: ``kind -> (version 2's draw kind, its dtypes)``.  Every other draw is the same in both versions.
V2_KINDS: dict[str, tuple[str, tuple[torch.dtype, ...]]] = {
    "uniform": ("uniform_v2", _HALF),
    "randperm": ("randperm_v2", (torch.int16, torch.int32, torch.int64)),
    "trunc_normal": ("trunc_normal_v2", FLOAT_DTYPES),
}


def versioned(kind: str, dtype: torch.dtype, version: int) -> str:
    """The draw kind that computes ``kind`` at ``dtype`` in stream ``version``."""
    if version >= 2:
        new = V2_KINDS.get(kind)
        if new is not None and dtype in new[1]:
            return new[0]
    return kind

_BY_KIND: dict[tuple[str, torch.dtype], KernelKind] = {(k.kind, d): k for k in KERNEL_KINDS for d in k.dtypes}


def kernel_kind(kind: str, dtype: torch.dtype) -> KernelKind:
    """The row that computes draw kind ``kind`` at ``dtype``.

    Raises:
        ValueError: no kernel kind serves that pair.
    """
    try:
        return _BY_KIND[(kind, dtype)]
    except KeyError:
        raise ValueError(f"no kernel kind computes {kind!r} at {dtype}") from None


def layout(kind: str, dtype: torch.dtype) -> tuple[int, int]:
    """``(k, b)`` of ``kind`` at ``dtype``: ``k`` elements per group of ``b`` blocks
    (:meth:`KernelKind.layout`, spec section 4).

    Raises:
        ValueError: the kind has no element layout (randperm).
    """
    row = kernel_kind(kind, dtype)
    if not row.per_block:
        raise ValueError(f"no element layout for kind {kind!r}")
    return row.layout(dtype)


def elements_per_block(kind: str, dtype: torch.dtype) -> int:
    """Elements one 128-bit block yields for ``kind`` at ``dtype`` (spec section 4); 1 for
    a kind whose elements use several blocks."""
    return layout(kind, dtype)[0]
