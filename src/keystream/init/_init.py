"""torch.nn.init's random initialisers, with the same names, signatures and distributions.

Each fills a tensor (or a DTensor shard) in place as a region of one virtual draw of
the tensor's global shape, from ``generator`` (default: keystream's default
generator), and advances the generator as a full draw of that shape would.
"""
from __future__ import annotations

import math

import torch
from torch.nn.init import _calculate_fan_in_and_fan_out, calculate_gain

from .._core._math.torch_forms import sqrt_f64
from .._torch._generator import Generator, one_call, resolve_generator
from . import _fill

__all__ = [
    "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "sparse_", "orthogonal_", "calculate_gain",
]

Tensor = torch.Tensor


@one_call
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with U(a, b) (like :func:`torch.nn.init.uniform_`; ``b`` is never returned).

    Reproducibility:
        The values are ``keystream.uniform(a, b, tensor.shape)`` from ``generator``, in the
        tensor's dtype (float32 for non-float tensors), on the tensor's device.
    """
    _fill.check_tensor(tensor)
    return _fill.fill_(tensor, _fill.uniform_draw, generator, a=_fill.real(a, "a"), b=_fill.real(b, "b"))


@one_call
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2) (like :func:`torch.nn.init.normal_`).

    Reproducibility:
        ``keystream.normal(mean, std, tensor.shape)`` from ``generator``.
    """
    _fill.check_tensor(tensor)
    return _fill.fill_(tensor, _fill.normal_draw, generator, mean=_fill.real(mean, "mean"),
                       std=_fill.real(std, "std"))


@one_call
def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b] (absolute bounds, as in torch).

    Each element takes the first of 16 candidate normals that lies in [a, b]; if none
    does, the last candidate is clamped to [a, b].  That is the exact truncated normal
    except with probability ``(1 - P)^16`` per element, ``P = Phi(b') - Phi(a')``: 1e-21
    for the default [-2, 2] std.  No rejection loop.

    Reproducibility:
        Element ``e`` of the (global) tensor takes its candidates from its own 4 blocks
        (docs/spec.md section 4: the normals of elements ``16e .. 16e + 15`` of a float32
        normal draw at the same offset); the fill consumes 4 blocks per element.

    Raises:
        ValueError: ``a >= b`` or ``std < 0``.
    """
    _fill.check_tensor(tensor)
    mean, std, a, b = (_fill.real(v, name) for v, name in ((mean, "mean"), (std, "std"), (a, "a"), (b, "b")))
    if not a < b:
        raise ValueError(f"trunc_normal_ needs a < b, got a={a}, b={b}")
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return _fill.fill_(tensor, _fill.trunc_normal_draw, generator, mean=mean, std=std, a=a, b=b)


@one_call
def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))`` (as torch)."""
    _fill.check_tensor(tensor)
    gain = _fill.finite(gain, "gain")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(2.0 / float(fan_in + fan_out)) * math.sqrt(3.0)
    return uniform_(tensor, -bound, bound, generator)


@one_call
def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))`` (as torch)."""
    _fill.check_tensor(tensor)
    gain = _fill.finite(gain, "gain")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if 0 in tensor.shape:
        return 0.0
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    # torch types `nonlinearity` as a Literal of its names; ours is torch's public str
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)  # type: ignore[arg-type]


@one_call
def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He uniform: U(-b, b), ``b = gain * sqrt(3 / fan)`` (as torch)."""
    _fill.check_tensor(tensor)
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std == 0.0:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


@one_call
def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He normal: N(0, std^2), ``std = gain / sqrt(fan)`` (as torch)."""
    _fill.check_tensor(tensor)
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std == 0.0:
        return tensor
    return normal_(tensor, 0.0, std, generator)


@one_call
def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator | None = None) -> Tensor:
    """2-D tensor: N(0, std^2), then ``ceil(sparsity * rows)`` zeros per column (as torch).

    Column ``j``'s zero rows are the first ones of ``Permutation(rows, g.fold_in("sparse").fold_in(j))``
    (derived keys: the generator advances only by the normal draw).
    """
    _fill.check_tensor(tensor)
    if tensor.ndimension() != 2:
        raise ValueError("sparse_ needs a 2-dimensional tensor")
    sparsity = _fill.real(sparsity, "sparsity")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    g = resolve_generator(generator)
    rows, cols = tensor.shape
    zeros = int(math.ceil(sparsity * rows))
    parent = g.clone()
    normal_(tensor, 0.0, std, g)
    from .._torch._permutation import Permutation

    local, _, region = _fill.local_region(tensor)
    with torch.no_grad():
        for j in range(region[1].start, region[1].stop):
            if zeros == 0:
                break
            perm = Permutation(rows, parent.fold_in("sparse").fold_in(j))
            idx = perm.range(0, zeros)
            idx = idx[(idx >= region[0].start) & (idx < region[0].stop)] - region[0].start
            local[idx.to(local.device), j - region[1].start] = 0
    return tensor


def _pairwise_sum(x: Tensor, dim: int) -> Tensor:
    """Sum along ``dim`` in a fixed pairwise order (elementwise adds only): the same bits on
    every CPU and GPU, unlike library reductions whose order follows the SIMD width."""
    x = x.movedim(dim, -1)
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            x = torch.cat([x, torch.zeros_like(x[..., :1])], -1)
        x = x[..., 0::2] + x[..., 1::2]
    return x[..., 0] if x.shape[-1] == 1 else x.sum(-1)


@one_call
def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix, like :func:`torch.nn.init.orthogonal_`.

    torch takes the QR factorisation of a normal matrix, whose bits depend on the
    LAPACK / cuSOLVER build.  keystream draws the same kind of normal matrix (float64),
    orthonormalises it on the CPU with classical Gram-Schmidt applied twice, using only
    elementwise IEEE operations, fixed-order pairwise sums and a correctly rounded
    square root, and casts the result: the values are the same on every device and
    machine.  Columns with positive diagonal ``R`` (the sign convention torch applies).
    Cost O(rows * cols^2) on the CPU.
    """
    _fill.check_tensor(tensor)
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    g = resolve_generator(generator)
    gain = _fill.real(gain, "gain")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    a = g.normal(0.0, 1.0, (rows, cols), dtype=torch.float64, device="cpu")
    if rows < cols:
        a = a.t()
    m, n = a.shape  # m >= n: orthonormalise the n columns
    q = torch.zeros(m, n, dtype=torch.float64)
    for j in range(n):
        v = a[:, j].clone()
        for _ in range(2):  # "twice is enough" (Kahan / Parlett)
            if j:
                dots = _pairwise_sum(q[:, :j] * v[:, None], 0)
                v = v - _pairwise_sum(q[:, :j] * dots[None, :], 1)
        norm = sqrt_f64(_pairwise_sum(v * v, 0).reshape(1))[0]
        q[:, j] = v / norm
    if rows < cols:
        q = q.t()
    q = q * gain
    local, _, region = _fill.local_region(tensor)
    with torch.no_grad():
        full = q.reshape(tensor.shape)
        local.copy_(full[region].to(device=local.device, dtype=local.dtype))
    return tensor
