"""Unmodified torch code drawing keystream's numbers: ``torch_random`` and ``patch_torch``.

Inside ``with keystream.torch_random(g):`` every random function of torch (the factories
``torch.rand`` ... ``torch.binomial``, the in-place Tensor draws ``uniform_`` ...
``bernoulli_``, ``torch.nn.init``'s random initialisers, dropout and its family, attention
dropout, ``rrelu``) is answered by the keystream draw of the same arguments, so code and
libraries that call torch become reproducible without an edit: the same bits on every
device and engine.  What is built on those functions (torch.distributions,
``RandomSampler``'s permutation, ``gumbel_softmax``, ``MultiheadAttention``) follows.  A
random function that keystream cannot serve raises inside the mode; torch's own generator
is never used.

NOTE [ two layers ]
1. A :class:`torch.overrides.TorchFunctionMode` sees every torch call made in the block and
   answers the random ones (and ``torch.nn.init``'s initialisers, by ``keystream.init``).
2. torch runs a function of its own Python layer that the mode sees (``F.dropout``,
   ``F.multi_head_attention_forward``, an ``nn.init`` function a library wrapped) with the
   mode switched off, so the draws inside it would reach torch's generator.  So while a
   mode is open on any thread, the random primitives themselves (``torch.rand``,
   ``Tensor.uniform_``, ``torch._VF.dropout``, ``F.scaled_dot_product_attention``, ...) are
   replaced by wrappers that answer for the threads with an open mode and call torch's
   function for every other thread; the last mode to close puts torch's functions back.
   (torch.nn.functional's dropouts and a few others become copies of torch's code meanwhile,
   for torch.compile: NOTE [ Dynamo and the wrappers ].)
Inside a handler, keystream's own torch calls go to torch (the thread is marked busy).

NOTE [ torch.Generator arguments ]
A call that passes torch's default generator (``random_split`` does) is a call that passes
none: it draws from the mode's generator and leaves torch's alone.  A call that passes
another ``torch.Generator`` draws from a keystream stream derived from that
generator, which carries the stream's position as its seed: the call reads its seed ``s``,
draws from ``Generator(s).fold_in("torch.Generator")``, and reseeds it with ``next(s)``
(the first 63 bits of ``Generator(s).fold_in("torch.Generator next")``'s stream).  So two
generators with different seeds stay independent, a generator reseeded with
``manual_seed(s)`` starts over, and the numbers depend on neither torch's generator
algorithm nor its device.
"""
from __future__ import annotations

import contextlib
import functools
import math
import random
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .._core._math.torch_forms import dropout_noise
from .._torch import _composite, _counts, _draws, _inplace
from .._torch._generator import Generator, default_generator, manual_seed, resolve_generator, transaction
from ._dropout import dropout as _dropout

__all__ = ["patch_torch", "torch_random", "unpatch_torch"]

Tensor = torch.Tensor
Handler = Callable[[tuple[Any, ...], dict[str, Any], Generator], Any]

# torch's own functions, captured before any wrapper replaces them
_TORCH_SDPA = F.scaled_dot_product_attention
_TORCH_RRELU = torch.rrelu


def _from_torch_generator(g: torch.Generator) -> Generator:
    """NOTE [ torch.Generator arguments ]: the keystream generator of ``g``'s position, and
    ``g`` moved to the next one."""
    seed = g.initial_seed()
    follow = Generator(seed).fold_in("torch.Generator next")
    g.manual_seed(int(_draws.bits(1, generator=follow, dtype=torch.uint64).view(torch.int64).item()) & (2**63 - 1))
    return Generator(seed).fold_in("torch.Generator")


# ------------------------------------------------------------------ the handlers
def _bound(names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments by name (positional ones named as torch names them)."""
    return {**dict(zip(names, args)), **kwargs}


def _factory(draw: Callable[..., Tensor]) -> Handler:
    """A factory: torch's default device (``with torch.device(...)``) where neither a device,
    ``out`` nor a tensor argument (``torch.normal(mean, std)``: theirs) decides it."""
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
        tensors = any(isinstance(a, Tensor) for a in (*args, *kwargs.values()))
        if (kwargs.get("device") is None and kwargs.get("out") is None and not tensors
                and not torch.compiler.is_dynamo_compiling()):  # (Dynamo cannot trace it: the generator's)
            kwargs["device"] = torch.get_default_device()
        return draw(*args, generator=g, **kwargs)
    return handle


def _plain(draw: Callable[..., Tensor]) -> Handler:
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
        return draw(*args, generator=g, **kwargs)
    return handle


def _uniform_(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    a = _bound(("self", "from", "to"), args, kwargs)
    return _inplace.uniform_(a["self"], a.get("from", 0.0), a.get("to", 1.0), generator=g)


def _random_(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    if "from" in kwargs:
        kwargs["from_"] = kwargs.pop("from")
    return _inplace.random_(*args, generator=g, **kwargs)


# NOTE [ torch's derivatives under the mode ]
# torch defines derivatives for some samplers: normal, bernoulli and poisson have zero
# derivatives with respect to their tensor parameters (the result requires grad, its
# gradient is zero), _standard_gamma has the reparameterised one (grad *
# _standard_gamma_grad(alpha, sample): Gamma, Chi2, StudentT and their kin's rsample).  The
# mode's answers carry the same, backward and forward mode, through _Sampled; a call whose
# parameters need no gradient pays nothing for it.

class _Sampled(torch.autograd.Function):
    """A sample drawn from detached parameters, with torch's derivative for its sampler:
    ``derivative(params, sample)`` the sample's derivative with respect to each parameter
    (None: zero, as torch's normal / bernoulli / poisson)."""

    @staticmethod
    def forward(ctx: Any, draw: Callable[..., Tensor], derivative: Any, *params: Any) -> Tensor:
        sample = draw(*params)
        ctx.derivative = derivative
        ctx.tensors = [isinstance(p, Tensor) for p in params]
        ctx.save_for_backward(*[p for p in params if isinstance(p, Tensor)], sample)
        ctx.save_for_forward(*[p for p in params if isinstance(p, Tensor)], sample)
        return sample

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:
        *tensors, sample = ctx.saved_tensors
        slopes = _slopes(ctx.derivative, tensors, sample)
        out: list[Any] = [None, None]
        it = iter(zip(tensors, slopes))
        for is_tensor in ctx.tensors:
            if not is_tensor:
                out.append(None)
                continue
            t, slope = next(it)
            out.append(torch.zeros_like(t) if slope is None else _unbroadcast(grad * slope, t.shape))
        return tuple(out)

    @staticmethod
    def jvp(ctx: Any, _draw: Any, _derivative: Any, *tangents: Any) -> Tensor:
        *tensors, sample = ctx.saved_tensors
        slopes = _slopes(ctx.derivative, tensors, sample)
        result = torch.zeros_like(sample)
        it = iter(zip(tensors, slopes))
        for is_tensor, tangent in zip(ctx.tensors, tangents):
            if not is_tensor:
                continue
            _, slope = next(it)
            if slope is not None and tangent is not None:
                result = result + tangent * slope
        return result


def _slopes(derivative: Any, tensors: list[Tensor], sample: Tensor) -> list[Tensor | None]:
    return [None] * len(tensors) if derivative is None else derivative(tensors, sample)


def _unbroadcast(grad: Tensor, shape: torch.Size) -> Tensor:
    """``grad`` summed down to a parameter's ``shape`` (the parameter was broadcast)."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for d, n in enumerate(shape):
        if n == 1 and grad.shape[d] != 1:
            grad = grad.sum(d, keepdim=True)
    return grad


def _differentiable(draw: Callable[..., Tensor], derivative: Any, params: tuple[Any, ...]) -> Tensor:
    """``draw(*params)``, with torch's derivative where a tensor parameter needs one."""
    grad = torch.is_grad_enabled() and any(isinstance(p, Tensor) and p.requires_grad for p in params)
    if not grad and torch.autograd.forward_ad._current_level >= 0:  # (a dual tensor: forward mode)
        grad = any(isinstance(p, Tensor) and torch.autograd.forward_ad.unpack_dual(p).tangent is not None
                   for p in params)
    if not grad:
        return draw(*params)
    return _Sampled.apply(draw, derivative, *params)  # type: ignore[no-any-return]


_normal_factory = _factory(_draws.normal)


def _normal(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``torch.normal``: zero derivatives with respect to tensor ``mean`` / ``std``, as torch's."""
    if kwargs.get("out") is not None or not any(isinstance(a, Tensor) for a in (*args, *kwargs.values())):
        return _normal_factory(args, kwargs, g)
    a = _bound(("mean", "std"), args, kwargs)
    rest = {k: v for k, v in kwargs.items() if k not in ("mean", "std")}

    def draw(mean: Any, std: Any) -> Tensor:  # (tensor parameters decide the device: no factory default)
        return _draws.normal(mean, std, *args[2:], generator=g, **rest)

    return _differentiable(draw, None, (a.get("mean", 0.0), a.get("std", 1.0)))


def _bernoulli(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``torch.bernoulli(input)`` (input holds the probabilities; its dtype; torch's zero
    derivative) and ``bernoulli(input, p)`` (input's shape and dtype)."""
    a = _bound(("input", "p"), args, kwargs)
    x, out = a["input"], a.get("out")
    if a.get("p") is None:
        if out is not None:
            return _draws.bernoulli(x.detach(), generator=g, out=out)
        return _differentiable(lambda p: _draws.bernoulli(p.detach(), generator=g, dtype=x.dtype), None, (x,))
    return _draws.bernoulli(a["p"], tuple(x.shape), generator=g, dtype=x.dtype, device=x.device, out=out)


def _poisson(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``torch.poisson(rates)``: torch's zero derivative."""
    return _differentiable(lambda r: _counts.poisson(r.detach(), generator=g, **kwargs), None, (args[0],))


def _binomial(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``torch.binomial(count, prob)``: floating-point parameters only, as torch's."""
    a = _bound(("count", "prob"), args, kwargs)
    for name in ("count", "prob"):
        v = a.get(name)
        if isinstance(v, Tensor) and not v.dtype.is_floating_point:
            raise ValueError(f"binomial only supports floating-point dtypes for {name}, got: {v.dtype}")
    return _counts.binomial(*args, generator=g, **kwargs)


def _standard_gamma(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``torch._standard_gamma(alpha)`` with torch's values at the edges (every result at
    least the dtype's smallest normal number, which is also what alpha <= 0 or NaN gives;
    alpha = inf gives inf) and torch's reparameterised derivative."""
    alpha = args[0] if args else kwargs["input"]

    def draw(a: Tensor) -> Tensor:
        a = a.detach()
        tiny = torch.finfo(a.dtype).tiny if a.dtype.is_floating_point else torch.finfo(torch.float32).tiny
        valid = (a > 0) & (a < math.inf)
        if a.numel() == 0 or bool(valid.all()):
            return _composite.standard_gamma(a, generator=g).clamp_(min=tiny)
        x = _composite.standard_gamma(torch.where(valid, a, torch.ones_like(a)), generator=g).clamp_(min=tiny)
        return torch.where(valid, x, torch.where(a == math.inf, math.inf, tiny).to(x.dtype))

    def derivative(tensors: list[Tensor], sample: Tensor) -> list[Tensor | None]:
        return [torch._standard_gamma_grad(tensors[0].detach(), sample)]

    return _differentiable(draw, derivative, (alpha,))


def _sample_dirichlet(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``torch._sample_dirichlet(alpha)``: keystream's dirichlet within [the dtype's smallest
    normal number, the largest number below 1] (torch's floor, and its ceiling where a
    component takes all but a rounding of the mass), so that log_prob stays finite (a Beta's
    log1p(-x) at x = 1 is -inf)."""
    x = _composite.dirichlet(*args, generator=g, **kwargs)
    info = torch.finfo(x.dtype)
    return x.clamp_(min=info.tiny, max=1.0 - info.eps / 2)


def _native_dropout(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> tuple[Tensor, Tensor]:
    """``torch.native_dropout(input, p, train)``: (output, keep mask), the mask
    ``bernoulli(1 - p)`` of the input's shape as dropout's; torch's results for ``train``
    False, ``p`` 0 and ``p`` 1."""
    b = _bound(("input", "p", "train"), args, kwargs)
    x, p, train = b["input"], float(b["p"]), b.get("train", True)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if train is False or p == 0.0:
        return x.clone(), torch.ones_like(x, dtype=torch.bool)
    if p == 1.0:
        return x * torch.zeros((), dtype=x.dtype, device=x.device), torch.zeros_like(x, dtype=torch.bool)
    keep = _draws.bernoulli(1.0 - p, tuple(x.shape), generator=g, dtype=x.dtype, device=x.device)
    return x * dropout_noise(keep, p), keep.bool()


def _dropout_handler(feature: bool, alpha: bool, inplace: bool) -> Handler:
    """ATen's ``dropout(input, p, train)`` and its feature / alpha / in-place forms."""
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
        a = _bound(("input", "p", "train"), args, kwargs)
        return _dropout(a["input"], float(a["p"]), bool(a["train"]), inplace, g, feature, alpha)
    return handle


def _sdpa(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
    """``scaled_dot_product_attention``: torch's own without dropout; with it, torch's math
    form (softmax(q k^T scale + bias), dropout, @ v) and a keystream mask."""
    a = _bound(("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa"), args,
               kwargs)
    p = float(a.get("dropout_p", 0.0))
    if p == 0.0:
        return _TORCH_SDPA(**a)
    q, k, v = a["query"], a["key"], a["value"]
    mask, scale = a.get("attn_mask"), a.get("scale")
    if a.get("enable_gqa", False) and q.size(-3) != k.size(-3):
        k = k.repeat_interleave(q.size(-3) // k.size(-3), -3)
        v = v.repeat_interleave(q.size(-3) // v.size(-3), -3)
    bias = torch.zeros(q.size(-2), k.size(-2), dtype=q.dtype, device=q.device)
    if a.get("is_causal", False):
        keep = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool, device=q.device).tril()
        bias = bias.masked_fill(~keep, float("-inf"))
    if mask is not None:
        bias = bias.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else bias + mask
    s = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    weights = torch.softmax(q @ k.transpose(-2, -1) * s + bias, dim=-1)
    return _dropout(weights, p, True, False, g, False, False) @ v


def _rrelu(inplace: bool) -> Handler:
    """``torch.rrelu(input, lower, upper, training)``: in training, negative inputs times a
    keystream ``uniform(lower, upper)`` slope of the input's shape."""
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
        a = _bound(("input", "lower", "upper", "training"), args, kwargs)
        x = a["input"]
        lower, upper = float(a.get("lower", 1.0 / 8)), float(a.get("upper", 1.0 / 3))
        if not a.get("training", False):
            return _TORCH_RRELU(x, lower, upper, False) if not inplace else x.copy_(_TORCH_RRELU(x, lower, upper))
        slope = _draws.uniform(lower, upper, tuple(x.shape), generator=g, dtype=x.dtype, device=x.device)
        noise = torch.where(x >= 0, torch.ones_like(slope), slope)
        return x.mul_(noise) if inplace else x * noise
    return handle


def _init_handler(fn: Callable[..., Tensor]) -> Handler:
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Tensor:
        return fn(*args, generator=g, **kwargs)
    return handle


def _fractional(dims: int, original: Callable[..., Any]) -> Handler:
    """F.fractional_max_pool{2,3}d[_with_indices]: without ``_random_samples``, torch's own
    samples drawn by keystream: ``rand(n_batch, channels, dims)`` in the input's dtype and
    device, exactly the call torch's function makes (its batch and channel dimensions), then
    torch's function with them; one call (a failure in torch's function gives the blocks back)."""
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Any:
        args, kwargs = tuple(args), dict(kwargs)
        if kwargs.get("_random_samples") is not None or (len(args) >= 6 and args[5] is not None):
            return original(*args, **kwargs)
        x = args[0] if args else kwargs.get("input")
        if not isinstance(x, Tensor):
            return original(*args, **kwargs)  # (torch's error)
        args = args[:5]
        with transaction(g):
            n_batch = 1 if x.dim() == dims + 1 else x.size(0)
            kwargs["_random_samples"] = _draws.rand(n_batch, x.size(-(dims + 1)), dims, generator=g, dtype=x.dtype,
                                                    device=x.device)
            return original(*args, **kwargs)
    return handle


def _rnn(name: str, original: Callable[..., Any]) -> Handler:
    """torch.lstm / gru / rnn_tanh / rnn_relu, ``(input, hx, params, has_biases, layers,
    dropout, train, bidirectional, batch_first)`` or the packed form ``(data, batch_sizes, hx,
    params, has_biases, layers, dropout, train, bidirectional)``.  With dropout in training,
    one layer at a time (torch's function with one layer and no dropout), the dropout of
    each layer's output but the last's drawn as dropout's (``bernoulli(1 - p)`` of the
    output's shape, in the order of the layers); else torch's function as it is."""
    def handle(args: tuple[Any, ...], kwargs: dict[str, Any], g: Generator) -> Any:
        if kwargs:
            raise NotImplementedError(f"keystream.torch_random: torch.{name} with keyword arguments")
        packed = not isinstance(args[3], bool)
        i = 6 if packed else 5  # the index of dropout; layers before it, train after
        layers, p, train = int(args[i - 1]), float(args[i]), bool(args[i + 1])
        if not (p > 0 and train and layers > 1):
            return original(*args)
        x, hx, params = (args[0], args[2], args[3]) if packed else (args[0], args[1], args[2])
        bidirectional = bool(args[i + 2])
        dirs = 2 if bidirectional else 1
        per_layer = len(params) // layers
        states = list(hx) if name == "lstm" else [hx]
        outs: list[list[Tensor]] = [[] for _ in states]
        for layer in range(layers):
            h = [s[layer * dirs:(layer + 1) * dirs] for s in states]
            layer_params = params[layer * per_layer:(layer + 1) * per_layer]
            h_arg = tuple(h) if name == "lstm" else h[0]
            if packed:
                result = original(x, args[1], h_arg, layer_params, args[4], 1, 0.0, train, bidirectional)
            else:
                result = original(x, h_arg, layer_params, args[3], 1, 0.0, train, bidirectional, args[8])
            x = result[0]
            for o, r in zip(outs, result[1:]):
                o.append(r)
            if layer < layers - 1:
                x = _dropout(x, p, True, False, g, False, False)
        return (x, *(torch.cat(o, 0) for o in outs))
    return handle


def _primitives() -> list[tuple[Any, str, Handler]]:
    """(owner, name, handler) of every random primitive: the mode answers these functions,
    and NOTE [ two layers ] wraps them while a mode is open."""
    T, VF = torch.Tensor, torch._VF
    dropouts = [(name, feature, alpha) for name, feature, alpha in (
        ("dropout", False, False), ("feature_dropout", True, False), ("alpha_dropout", False, True),
        ("feature_alpha_dropout", True, True))]
    out: list[tuple[Any, str, Handler]] = [
        (torch, "rand", _factory(_draws.rand)), (torch, "randn", _factory(_draws.randn)),
        (torch, "randint", _factory(_draws.randint)), (torch, "randperm", _factory(_draws.randperm)),
        (torch, "normal", _normal), (torch, "bernoulli", _bernoulli),
        (torch, "multinomial", _plain(_composite.multinomial)), (torch, "poisson", _poisson),
        (torch, "binomial", _binomial), (torch, "_standard_gamma", _standard_gamma),
        (torch, "_sample_dirichlet", _sample_dirichlet),
        (torch, "rand_like", _plain(_inplace.rand_like)), (torch, "randn_like", _plain(_inplace.randn_like)),
        (torch, "randint_like", _plain(_inplace.randint_like)),
        (T, "uniform_", _uniform_), (T, "normal_", _plain(_inplace.normal_)), (T, "random_", _random_),
        (T, "exponential_", _plain(_inplace.exponential_)), (T, "geometric_", _plain(_inplace.geometric_)),
        (T, "log_normal_", _plain(_inplace.log_normal_)), (T, "cauchy_", _plain(_inplace.cauchy_)),
        (T, "bernoulli_", _plain(_inplace.bernoulli_)), (T, "bernoulli", _bernoulli),
        (T, "multinomial", _plain(_composite.multinomial)),
        (F, "scaled_dot_product_attention", _sdpa),
        (torch, "rrelu", _rrelu(False)), (torch, "rrelu_", _rrelu(True)),
    ]
    for owner in (torch, VF):
        for name, feature, alpha in dropouts:
            out.append((owner, name, _dropout_handler(feature, alpha, False)))
            out.append((owner, name + "_", _dropout_handler(feature, alpha, True)))
        for name in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
            out.append((owner, name, _rnn(name, getattr(torch, name))))
    from .. import init

    for name in init._init.__all__:
        if name.endswith("_"):  # the random initialisers: keystream.init's (not all of torch's check for modes)
            out.append((torch.nn.init, name, _init_handler(getattr(init, name))))
    out.append((torch, "native_dropout", _native_dropout))
    for name in ("fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
                 "fractional_max_pool3d_with_indices"):
        out.append((F, name, _fractional(3 if "3d" in name else 2, getattr(F, name))))
    return out


_lock = threading.RLock()
_table: dict[Any, Handler] = {}  # torch's function -> handler
_wrapped: list[tuple[Any, str, Any, bool]] = []  # (owner, name, torch's, own attribute) while installed
_open = 0  # modes open on all threads
_local = threading.local()  # .modes: the thread's open modes; .busy: inside a handler


def _handlers() -> dict[Any, Handler]:
    """torch function -> handler (built once, from torch's functions, not the wrappers)."""
    with _lock:
        if not _table:
            for owner, name, handler in _primitives():
                _table[vars(owner).get(name, getattr(owner, name))] = handler
        return _table


# NOTE [ inductor's own patterns ]
# The first time inductor compiles for a device it builds its pattern library by tracing small
# functions of its own with make_fx (torch/_inductor/pattern_matcher.py: fwd_only,
# joint_fwd_bwd), among them ``torch.randperm(n)[:k]`` index patterns.  Run under the mode,
# that trace would record keystream's draw operator with the generator as a graph constant,
# which inductor cannot lower, and the user's compile would fail.  Those traces draw no numbers
# for anyone (they are patterns to search for), so the mode lets them reach torch's functions:
# only while torch's compiling flag is set outside Dynamo's own tracing, and only for calls made
# under those two functions of inductor's pattern matcher.
_PATTERN_TRACERS = frozenset({"fwd_only", "joint_fwd_bwd"})


def _inductor_pattern_trace() -> bool:
    """Whether this call comes from inductor tracing its pattern library (NOTE [ inductor's
    own patterns ]).  Under Dynamo's tracing it is False before it looks at anything Dynamo
    would guard on (``is_dynamo_compiling`` is True only there)."""
    if not torch.compiler.is_compiling() or torch.compiler.is_dynamo_compiling():
        return False
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(64):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name in _PATTERN_TRACERS and code.co_filename.endswith("pattern_matcher.py"):
            return True
        frame = frame.f_back
    return False


def _wrapper(original: Any, handler: Handler) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "busy", False) or _inductor_pattern_trace():
            return original(*args, **kwargs)
        modes = getattr(_local, "modes", None)
        # the thread's own mode, else patch_torch's (NOTE [ every thread under patch_torch ])
        mode = modes[-1] if modes else (_patched[0] if _patched else None)
        if mode is None or not mode.active:
            return original(*args, **kwargs)
        return mode.serve(handler, args, kwargs)
    return wrapper


# NOTE [ Dynamo and the wrappers ]
# Dynamo keeps a table of torch's functions that it puts in a graph as calls instead of tracing
# them (torch._dynamo.trace_rules.get_torch_obj_rule_map), made by looking the functions up by
# name when torch._dynamo is first imported.  Imported while the wrappers are installed (the first
# torch.compile under the mode), the table would hold the wrappers: Dynamo would put a call of the
# wrapper in the graph, AOTAutograd would trace it with the generator of that moment as a graph
# constant, and the compiled function would keep drawing from that generator whatever the mode
# says later (inductor even evaluates such a draw once, at compile time).  So while the wrappers
# are installed the table names torch's own functions, never a wrapper: Dynamo traces a wrapper as
# any Python function, and the draw becomes keystream's operator with the generator a graph input
# (NOTE [ torch.compile ] in _torch/_ops.py).  The table is mended when the wrappers are installed
# (where torch._dynamo is loaded) and when torch.compile is called under them (it loads Dynamo).
def _mend_dynamo_rules() -> None:
    rules = sys.modules.get("torch._dynamo.trace_rules")
    if rules is None:
        return
    table = rules.get_torch_obj_rule_map()
    for owner, name, original, _ in _wrapped:
        rule = table.pop(getattr(owner, name), None)
        if rule is not None:
            table.setdefault(original, rule)


def _compile_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def compile(*args: Any, **kwargs: Any) -> Any:  # (NOTE [ Dynamo and the wrappers ])
        import torch._dynamo.trace_rules  # noqa: F401 - the table, made now if it was not

        with _lock:
            _mend_dynamo_rules()
        return original(*args, **kwargs)
    return compile


#: torch.nn.functional's Python functions that draw through the primitives and that Dynamo
#: puts in a graph as calls (its table of torch functions): while the wrappers are installed
#: they are copies, the same code in new function objects, which Dynamo traces into, down to
#: the wrapped primitives (NOTE [ Dynamo and the wrappers ]).
_TRACED_THROUGH = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
                   "rrelu", "gumbel_softmax", "multi_head_attention_forward")


def _copy(fn: Any) -> Any:
    """``fn``'s code in a new function object (its globals are its module's: it calls the
    module's current functions, the wrapped ones while they are installed)."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__doc__, copy.__qualname__, copy.__module__ = fn.__doc__, fn.__qualname__, fn.__module__
    copy.__wrapped__ = fn  # type: ignore[attr-defined]
    return copy


def _install() -> None:
    global _open
    with _lock:
        _open += 1
        if _open > 1:
            return
        handlers = _handlers()
        for owner, name, _ in _primitives():
            own = name in vars(owner)
            original = vars(owner)[name] if own else getattr(owner, name)
            _wrapped.append((owner, name, original, own))
            setattr(owner, name, _wrapper(original, handlers[original]))
        for name in _TRACED_THROUGH:
            original = vars(F).get(name)
            if isinstance(original, types.FunctionType):
                _wrapped.append((F, name, original, True))
                setattr(F, name, _copy(original))
        _mend_dynamo_rules()
        _wrapped.append((torch, "compile", torch.compile, True))
        torch.compile = _compile_wrapper(torch.compile)  # type: ignore[assignment]


def _uninstall() -> None:
    global _open
    with _lock:
        _open -= 1
        if _open > 0:
            return
        for owner, name, original, own in reversed(_wrapped):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        _wrapped.clear()


class _Mode(TorchFunctionMode):
    """The mode (NOTE [ two layers ]); ``generator`` answers the calls that pass none (None:
    keystream's default generator at call time)."""

    def __init__(self, generator: Generator | None) -> None:
        super().__init__()
        self.generator = generator
        self.active = True  # False: closed from another thread (passes every call through)

    def __enter__(self) -> _Mode:
        _handlers()
        _install()
        modes = _local.__dict__.setdefault("modes", [])
        modes.append(self)
        try:
            return super().__enter__()  # type: ignore[no-any-return]
        except BaseException:
            modes.pop()
            _uninstall()
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            _local.modes.pop()
            _uninstall()

    def serve(self, handler: Handler, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``handler`` for one call, with the call's generator; keystream's torch calls go
        to torch meanwhile."""
        kwargs = dict(kwargs)
        g = kwargs.pop("generator", None)
        if g is torch.random.default_generator:  # torch's default passed explicitly (random_split): the default
            g = None
        if g is None:
            g = self.generator if self.generator is not None else default_generator
        elif isinstance(g, torch.Generator):
            g = _from_torch_generator(g)
        elif not isinstance(g, Generator):
            raise TypeError(f"generator must be a keystream.Generator or a torch.Generator, got {type(g).__name__}")
        busy = getattr(_local, "busy", False)
        _local.busy = True
        try:
            return handler(args, kwargs, g)
        finally:
            _local.busy = busy

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        handler = _table.get(func)
        if handler is not None and self.active and not getattr(_local, "busy", False) and not _inductor_pattern_trace():
            return self.serve(handler, args, kwargs or {})
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def torch_random(generator: Generator | None = None) -> Iterator[Generator]:
    """Inside the block, torch's random functions draw keystream's numbers.

    Args:
        generator: the keystream generator that answers calls passing no generator
            (default: ``keystream.default_generator``, read at each call).  A call that
            passes a keystream Generator uses it; one that passes a torch.Generator uses
            the stream derived from it (NOTE [ torch.Generator arguments ]).

    Yields:
        The generator the block draws from.

    Raises:
        NotImplementedError: inside the block, a random function keystream does not serve.

    Example:
        >>> import torch, keystream
        >>> with keystream.torch_random(keystream.Generator(7)):
        ...     a = torch.rand(3)
        >>> torch.equal(a, keystream.rand(3, generator=keystream.Generator(7)))
        True

    Reproducibility:
        A call inside the block returns exactly the keystream call of the same arguments
        (the same bits on every device and engine): ``torch.randn(2, 3)`` is
        ``keystream.randn(2, 3, generator=g)``, ``t.uniform_(a, b)`` is
        ``keystream.uniform_(t, a, b, generator=g)``, ``nn.init.xavier_uniform_(w)`` is
        ``keystream.init.xavier_uniform_(w, generator=g)``, dropout's mask is
        ``keystream.bernoulli(1 - p, x.shape, dtype=x.dtype)``.  What torch computes from
        the draws (a QR factor, a softmax, a Cholesky factor) is torch's.  The mode is per
        thread, as torch's function modes are: enter it in each thread that draws.
    """
    if generator is not None and not isinstance(generator, Generator):
        resolve_generator(generator)  # (raises, naming the remedy for a torch.Generator)
    with _Mode(generator):
        yield generator if generator is not None else default_generator


# patch_torch's state while in effect: [mode, patching thread, torch's functions replaced, the
# DataLoader iterator's __init__, seed_globals]
_patched: list[Any] = []

# NOTE [ every thread under patch_torch ]
# NOTE [ patch_torch without a function mode ]
# patch_torch is process-wide and long-lived (a whole training run), so it does without the
# torch function mode of NOTE [ two layers ]: a function mode sees every torch call, and
# costs a Python call each (a small model's training step took 2.9x its time under a mode
# that only passes the calls on, measured).  Its work is done by the second layer alone:
# the random primitives' wrappers, which answer every thread with the patch's mode (not
# pushed on any thread's stack: it only carries the generator) where the thread has no
# torch_random of its own.  So every thread draws keystream's numbers, from the one default
# generator (whose draws are atomic: each takes its own blocks), and unpatch_torch works
# from any thread alike.  What only a function mode would see are references to torch's
# functions taken before the patch: patch_torch points every module-level name bound to one
# of them (``from torch import randn``) at its wrapper, and unpatch_torch puts them back; a
# reference held elsewhere (a local, a default argument, an attribute) keeps torch's
# function.  torch_random keeps both layers: it is per thread and usually short.

# NOTE [ torch's RNG state under patch_torch ]
# Code that saves and restores torch's RNG state (checkpoints, fork_rng, isolate_rng,
# torch.utils.checkpoint, seed-then-restore) must save and restore keystream's numbers
# under the patch.  torch.get_rng_state returns torch's own state followed by keystream's
# default generator's 32-byte state (Generator.get_state); torch.set_rng_state of such a
# tensor restores both (checked before either changes), of torch's own state torch's only.
# torch.seed() reseeds keystream with the seed it returns; manual_seed seeds both.


def _is_combined(state: Any) -> bool:
    from .._torch._generator import _MAGIC, STATE_BYTES
    return (isinstance(state, Tensor) and state.dtype == torch.uint8 and state.dim() == 1
            and state.numel() > STATE_BYTES
            and bytes(state[-STATE_BYTES:-STATE_BYTES + 4].tolist()) == _MAGIC)


def _state_functions(torch_get: Callable[[], Tensor], torch_set: Callable[[Tensor], None],
                     torch_seed: Callable[[], int], torch_manual_seed: Callable[[int], Any], seed_globals: bool
                     ) -> dict[str, Callable[..., Any]]:
    """torch's seeding and state functions under the patch (NOTE [ torch's RNG state under
    patch_torch ])."""
    from .._torch._generator import STATE_BYTES

    @functools.wraps(torch_get)
    def get_rng_state() -> Tensor:
        return torch.cat([torch_get(), default_generator.get_state()])

    @functools.wraps(torch_set)
    def set_rng_state(new_state: Tensor) -> None:
        if not _is_combined(new_state):
            torch_set(new_state)
            return
        ours = new_state[-STATE_BYTES:]
        Generator(0).set_state(ours)  # (checked first: a bad state changes neither)
        torch_set(new_state[:-STATE_BYTES].clone())
        default_generator.set_state(ours)

    @functools.wraps(torch_seed)
    def seed() -> int:
        value = torch_seed()
        manual_seed(value)
        if seed_globals:
            _seed_globals()
        return value

    @functools.wraps(torch_manual_seed)
    def seeding(s: int) -> Any:
        result = torch_manual_seed(s)
        manual_seed(int(s))
        if seed_globals:
            _seed_globals()
        return result

    return {"get_rng_state": get_rng_state, "set_rng_state": set_rng_state, "seed": seed, "manual_seed": seeding}


class _PatchedWorker:
    """A DataLoader's ``worker_init_fn`` under :func:`patch_torch`: a worker started by
    ``spawn`` (a fresh interpreter) enters the patch before the loader's own function runs;
    keystream's default generator there follows torch's seed for the worker
    (NOTE [ DataLoader workers ] in _generator.py).  Picklable: a spawned worker imports it."""

    def __init__(self, fn: Callable[[int], Any] | None, seed_globals: bool = False) -> None:
        self.fn = fn
        self.seed_globals = seed_globals

    def __call__(self, worker_id: int) -> None:
        if not _patched:  # a forked worker inherits the patch
            _patch(None, False, self.seed_globals)
        if self.seed_globals:
            _seed_globals()
        if self.fn is not None:
            self.fn(worker_id)


def _seed_globals() -> None:
    """Seed Python's ``random`` and numpy's global generator from keystream's default
    generator's state (not advancing it): ``patch_torch(seed_globals=True)``."""
    words = default_generator.fold_in("globals").bits(2, dtype=torch.int64).tolist()
    np.random.seed(words[0] & 0xFFFFFFFF)
    random.seed(words[1] & (2**64 - 1))


def _worker_iter_init(original: Callable[..., None]) -> Callable[..., None]:
    """``_MultiProcessingDataLoaderIter.__init__`` giving its workers :class:`_PatchedWorker`."""
    @functools.wraps(original)
    def init(self: Any, loader: Any) -> None:
        fn = loader.worker_init_fn
        loader.worker_init_fn = _PatchedWorker(fn, bool(_patched and _patched[4]))
        try:
            original(self, loader)
        finally:
            loader.worker_init_fn = fn
    return init


def patch_torch(seed: int | None = None, *, seed_globals: bool = False) -> None:
    """Make the program's torch randomness keystream's: :func:`torch_random` with
    keystream's default generator, for every thread until :func:`unpatch_torch`, with
    torch's seeding and RNG-state functions keystream's too.

    ``torch.manual_seed(s)`` (so Lightning's ``seed_everything`` and transformers'
    ``set_seed``) and ``torch.seed()`` seed keystream's default generator too;
    ``torch.get_rng_state()`` includes its state and ``torch.set_rng_state`` restores it, so
    checkpoints, ``torch.random.fork_rng``, Lightning's ``isolate_rng`` and
    ``torch.utils.checkpoint`` save and restore keystream's numbers.  torch's own generator
    is never drawn from.

    Args:
        seed: the seed of keystream's default generator.  Default: the seed torch was last
            given (``torch.initial_seed()``), so seeding torch before or after patching
            gives the same numbers.
        seed_globals: also seed Python's ``random`` and numpy's global generator from
            keystream's default generator whenever the patch seeds it (here,
            ``torch.manual_seed``, ``torch.seed``) and in each DataLoader worker, as
            Lightning's ``seed_everything`` does: code that draws from them (timm's Mixup,
            RandAugment) then follows the seed.  Their numbers are theirs (not keystream's
            stream): reproducible for a seed, but they depend on the order of their calls,
            and on ``num_workers`` in workers.

    Reproducibility:
        As :func:`torch_random`, in every thread: threads that draw at the same time take
        their numbers from the one default generator in the order their calls reach it
        (each call's blocks are its own).  DataLoader workers (``fork`` and ``spawn``) run
        under the patch too, each with keystream's default generator seeded from torch's
        seed for the worker (so the numbers depend on ``num_workers``, as torch's do; use
        :class:`keystream.data.PerSampleDataset` for numbers that do not).
    """
    _patch(seed, True, seed_globals)


def _patch(seed: int | None, adopt: bool, seed_globals: bool) -> None:
    """:func:`patch_torch`; ``adopt``: seed keystream with torch's seed when ``seed`` is None
    (a DataLoader worker does not: its generator follows the worker's seed)."""
    unpatch_torch()
    if seed is not None or adopt:
        manual_seed(torch.initial_seed() if seed is None else seed)
    if seed_globals:
        _seed_globals()
    mode = _Mode(None)  # (never pushed: NOTE [ patch_torch without a function mode ])
    _handlers()
    _install()
    rebound = _rebind(True)
    originals = {name: getattr(torch.random, name) for name in ("get_rng_state", "set_rng_state", "seed",
                                                                "manual_seed")}
    for name, fn in _state_functions(originals["get_rng_state"], originals["set_rng_state"], originals["seed"],
                                     originals["manual_seed"], seed_globals).items():
        setattr(torch, name, fn)
        setattr(torch.random, name, fn)
    workers = torch.utils.data.dataloader._MultiProcessingDataLoaderIter
    worker_init = workers.__init__
    workers.__init__ = _worker_iter_init(worker_init)  # type: ignore[method-assign]
    _patched[:] = [mode, rebound, originals, worker_init, seed_globals]


def _rebind(patch: bool, rebound: list[tuple[dict[str, Any], str, Any, Any]] | None = None
            ) -> list[tuple[dict[str, Any], str, Any, Any]]:
    """NOTE [ patch_torch without a function mode ]: with ``patch``, point every module-level
    name bound to one of torch's random primitives (``from torch import randn`` before the
    patch) at its wrapper, and return what was rebound; else put ``rebound`` back (where a
    name still holds the wrapper)."""
    if not patch:
        for namespace, name, original, wrapper in rebound or ():
            if namespace.get(name) is wrapper:
                namespace[name] = original
        return []
    wrappers = {id(original): (original, getattr(owner, name)) for owner, name, original, _ in _wrapped}
    owners = {id(vars(owner)) for owner, _, _, _ in _wrapped}
    done: list[tuple[dict[str, Any], str, Any, Any]] = []
    for module_name, module in list(sys.modules.items()):
        globals_ = getattr(module, "__dict__", None)
        if not isinstance(globals_, dict) or id(globals_) in owners or module_name.split(".")[0] == "keystream":
            continue
        for name, value in list(globals_.items()):
            found = wrappers.get(id(value))
            if found is not None and found[0] is value:
                globals_[name] = found[1]
                done.append((globals_, name, value, found[1]))
    return done


def unpatch_torch() -> None:
    """Undo :func:`patch_torch` (nothing if it is not in effect), from any thread."""
    with _lock:
        if not _patched:
            return
        mode, rebound, originals, worker_init, _ = _patched
        _patched.clear()
    for name, fn in originals.items():
        setattr(torch, name, fn)
        setattr(torch.random, name, fn)
    torch.utils.data.dataloader._MultiProcessingDataLoaderIter.__init__ = worker_init  # type: ignore[method-assign]
    mode.active = False
    _rebind(False, rebound)
    _uninstall()
