"""init_module and materialize: every parameter a pure function of (seed, its qualified name)."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._core._keys import canonical_seed
from .._torch._generator import Generator
from . import _init

__all__ = ["init_module", "materialize", "parameter_generator"]


def parameter_generator(seed: int | Generator, name: str) -> Generator:
    """``Generator(seed).fold_in(name)`` for a parameter's fully qualified name (a
    Generator ``seed``: ``seed.fold_in(name)``, its key and stream version; it is not
    advanced)."""
    return seed.fold_in(name) if isinstance(seed, Generator) else Generator(seed).fold_in(name)


def _bias_bound(weight: torch.Tensor) -> float:
    fan_in, _ = _init._calculate_fan_in_and_fan_out(weight)
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


_CONV = (nn.modules.conv._ConvNd,)
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm) + (
    (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()
)


def _init_known(module: nn.Module, prefix: str, seed: int | Generator) -> bool:
    """Initialise ``module``'s own parameters as its ``reset_parameters`` would; False if unknown."""

    def g(name: str) -> Generator:
        return parameter_generator(seed, f"{prefix}{name}")

    if isinstance(module, (nn.Linear, *_CONV)):
        _init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=g("weight"))
        if module.bias is not None:
            b = _bias_bound(module.weight)
            _init.uniform_(module.bias, -b, b, generator=g("bias"))
        return True
    if isinstance(module, nn.Bilinear):
        b = 1.0 / math.sqrt(module.weight.size(1))
        _init.uniform_(module.weight, -b, b, generator=g("weight"))
        if module.bias is not None:
            _init.uniform_(module.bias, -b, b, generator=g("bias"))
        return True
    if isinstance(module, nn.Embedding):
        _init.normal_(module.weight, generator=g("weight"))
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].fill_(0)
        return True
    if isinstance(module, _NORMS):
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)  # None: affine=False
        with torch.no_grad():
            if weight is not None:
                weight.fill_(1.0)
            if bias is not None:
                bias.fill_(0.0)
        if isinstance(module, nn.modules.batchnorm._NormBase):
            module.reset_running_stats()
        return True
    if isinstance(module, nn.MultiheadAttention):
        if module.in_proj_weight is not None:
            _init.xavier_uniform_(module.in_proj_weight, generator=g("in_proj_weight"))
        else:
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                _init.xavier_uniform_(getattr(module, n), generator=g(n))
        with torch.no_grad():
            if module.in_proj_bias is not None:
                module.in_proj_bias.fill_(0.0)
        for n in ("bias_k", "bias_v"):
            if getattr(module, n) is not None:
                _init.xavier_normal_(getattr(module, n), generator=g(n))
        return True
    if isinstance(module, nn.RNNBase):
        b = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0.0
        for name, p in module.named_parameters(recurse=False):
            _init.uniform_(p, -b, b, generator=g(name))
        return True
    return False


def _init_custom(module: nn.Module, prefix: str, seed: int | Generator) -> None:
    """The documented rule for modules keystream does not know.

    * a method ``keystream_init_(generator_for)`` wins: it receives a function from a
      parameter's local name to its Generator;
    * otherwise, per direct parameter: 2-D and larger -> ``kaiming_uniform_(a=sqrt(5))``
      (nn.Linear's rule); 1-D named ``bias`` -> U(+-1/sqrt(fan_in)) of the sibling
      ``weight`` when there is one, else zeros; other 1-D -> ones if named ``weight``,
      ``scale`` or ``gamma``, else zeros; 0-D -> left as is.
    """
    hook = getattr(module, "keystream_init_", None)
    if callable(hook):
        hook(lambda name: parameter_generator(seed, f"{prefix}{name}"))
        return
    params = dict(module.named_parameters(recurse=False))
    for name, p in params.items():
        g = parameter_generator(seed, f"{prefix}{name}")
        if p.dim() >= 2:
            _init.kaiming_uniform_(p, a=math.sqrt(5), generator=g)
        elif p.dim() == 1:
            weight = params.get("weight")
            if name == "bias" and weight is not None and weight.dim() >= 2:
                b = _bias_bound(weight)
                _init.uniform_(p, -b, b, generator=g)
            else:
                with torch.no_grad():
                    p.fill_(1.0 if name in ("weight", "scale", "gamma") else 0.0)


def init_module(module: nn.Module, seed: int | Generator) -> nn.Module:
    """Initialise every parameter of ``module`` from ``Generator(seed).fold_in(qualified name)``
    (``seed`` may be a :class:`keystream.Generator`: then ``seed.fold_in(qualified name)``).

    Known module types (Linear, Conv*, ConvTranspose*, Bilinear, Embedding, the norms,
    MultiheadAttention, RNN/LSTM/GRU) get the distributions of their own
    ``reset_parameters``; other modules follow the rule of ``_init_custom`` (documented
    in docs/init.md).  Values depend only on ``seed`` and the names: not on creation
    order, device, dtype path, sharding (DTensor shards get their slices) or any RNG
    used before.  Returns ``module``.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(seed, Generator):
        seed = canonical_seed(seed)
    for mod_name, mod in module.named_modules():
        prefix = f"{mod_name}." if mod_name else ""
        if not any(True for _ in mod.parameters(recurse=False)):
            if isinstance(mod, nn.modules.batchnorm._NormBase):
                mod.reset_running_stats()
            continue
        if not _init_known(mod, prefix, seed):
            _init_custom(mod, prefix, seed)
    # MultiheadAttention zeroes its out_proj bias after the Linear init (as torch does)
    for mod in module.modules():
        if isinstance(mod, nn.MultiheadAttention) and mod.out_proj.bias is not None:
            with torch.no_grad():
                mod.out_proj.bias.fill_(0.0)
    return module


def materialize(module: nn.Module, seed: int | Generator, device: torch.device | str | Any = "cpu") -> nn.Module:
    """Give a meta-device ``module`` real storage on ``device`` and initialise it.

    Equal to ``init_module`` of the same architecture on the CPU, bit for bit, on any
    device.  Buffers of known modules (BatchNorm running statistics) are reset; other
    buffers are left uninitialised by ``to_empty`` and must be set by the caller.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(seed, Generator):
        canonical_seed(seed)
    module.to_empty(device=device)
    return init_module(module, seed)
