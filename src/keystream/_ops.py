"""keystream's draws as torch.library operators, so that torch.compile traces them.

NOTE [ torch.compile ]
A draw must move its generator on every call, and a compiled graph must not bake the
generator's offset in (Dynamo would guard on a Python int and recompile at every call).
Where torch has opaque objects (``torch._library.opaque_object``), a Generator is a
*reference* opaque object: a graph takes it as an input, never looks inside, and the
operator ``keystream::draw`` reads and advances its state when the graph runs, in program
order (an operator with an opaque argument is ordered by effect tokens, so it is neither
reordered, merged nor dropped).  The numbers are the eager ones because the operator's
kernel *is* the eager draw.  Where torch has no opaque objects, a draw under
torch.compile is a graph break (``torch.compiler.disable``) with the same numbers.
"""

from typing import Any

import torch

__all__ = ["OPAQUE", "register_opaque"]

try:
    from torch._library.opaque_object import register_opaque_type
    from torch._opaque_base import OpaqueBaseMeta
    OPAQUE = True
except ImportError:  # torch without opaque objects: draws are graph breaks under compile
    OPAQUE = False
    OpaqueBaseMeta = type  # type: ignore[misc,assignment]

#: The metaclass of the classes custom operators take as opaque objects (``type`` without).
OpaqueMeta: Any = OpaqueBaseMeta
_registered: set[type] = set()


def register_opaque(cls: type) -> None:
    """Register ``cls`` as a reference opaque type (once)."""
    if OPAQUE and cls not in _registered:
        register_opaque_type(cls, typ="reference")
        _registered.add(cls)


# ------------------------------------------------------------------ the draw operator
# A call is sent to the operator as its generator, the int leaves of its arguments (sizes,
# SymInts under dynamic shapes), its tensors, and one string: the draw's name, the
# arguments' tree (torch.utils._pytree) and their other leaves (numbers, dtypes, devices,
# slices), self-describing so that a compiled graph means the same in any process.
_CALLS: dict[str, Any] = {}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return ["float", value.hex()]
    if isinstance(value, torch.dtype):
        return ["dtype", str(value).removeprefix("torch.")]
    if isinstance(value, torch.device):
        return ["device", str(value)]
    if isinstance(value, torch.memory_format):
        return ["memory_format", str(value).removeprefix("torch.")]
    if isinstance(value, slice) and all(v is None or type(v) is int for v in (value.start, value.stop, value.step)):
        return ["slice", value.start, value.stop, value.step]
    raise TypeError(f"cannot trace an argument of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    tag, *rest = value
    if tag == "float":
        return float.fromhex(rest[0])
    if tag in ("dtype", "memory_format"):
        return getattr(torch, rest[0])
    if tag == "device":
        return torch.device(rest[0])
    return slice(*rest)


def _call_string(name: str, args: Any, kwargs: Any) -> str:
    """The string a traced call sends to the operator (run by Dynamo as a constant)."""
    import json

    def consts(node: Any) -> Any:
        tag, *rest = node
        if tag == "C":
            return ["C", _encode(rest[0])]
        if tag == "L":
            return ["L", [consts(v) for v in rest[0]]]
        if tag == "D":
            return ["D", [[k, consts(v)] for k, v in rest[0]]]
        return node

    return json.dumps([name, consts(args), consts(kwargs)])


# Dynamo runs it at trace time and keeps its result as a constant (what
# torch._dynamo.assume_constant_result marks, without importing dynamo here)
_call_string._dynamo_marked_constant = True  # type: ignore[attr-defined]


def _unpack(call: str, ints: list[Any], floats: list[Any],
            tensors: list[torch.Tensor]) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    import json

    parsed = _CALLS.get(call)
    if parsed is None:
        parsed = _CALLS[call] = json.loads(call)
    name, args, kwargs = parsed
    it_ints, it_floats, it_tensors = iter(ints), iter(floats), iter(tensors)

    def build(node: Any) -> Any:
        tag, *rest = node
        if tag == "T":
            return next(it_tensors)
        if tag == "I":
            return next(it_ints)
        if tag == "F":
            return next(it_floats)
        if tag == "L":
            return [build(v) for v in rest[0]]
        if tag == "D":
            return {k: build(v) for k, v in rest[0]}
        return _decode(rest[0])

    return name, tuple(build(args)), build(kwargs)


def _draw_function(name: str) -> Any:
    import keystream

    return getattr(keystream, name)


def traced_draw(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    """A public draw met by torch.compile: the ``keystream::draw`` operator (NOTE [ torch.compile ])."""
    from ._generator import default_generator

    kwargs = dict(kwargs)
    g = kwargs.pop("generator", None)
    if g is None:
        g = default_generator
    out = kwargs.pop("out", None)
    if out is not None and name not in ("multinomial", "dirichlet"):
        # into `out`: the same draw at out's dtype and device, then a copy (what eager does
        # for an out= that is not contiguous; the numbers do not depend on the layout)
        kwargs.setdefault("dtype", out.dtype)
        kwargs.setdefault("device", out.device)
    ints: list[Any] = []
    floats: list[Any] = []
    tensors: list[torch.Tensor] = []

    def walk(value: Any) -> Any:
        # the arguments' tree with its tensors and ints taken out (traceable plain Python)
        if isinstance(value, torch.Tensor):
            tensors.append(value)
            return ["T"]
        if isinstance(value, (int, torch.SymInt)) and not isinstance(value, bool):
            ints.append(value)
            return ["I"]
        if isinstance(value, (tuple, list, torch.Size)):
            return ["L", [walk(v) for v in value]]
        if isinstance(value, dict):
            return ["D", [[k, walk(v)] for k, v in value.items()]]
        if isinstance(value, (float, torch.SymFloat)):  # (Dynamo may make a float argument symbolic)
            floats.append(value)
            return ["F"]
        return ["C", value]

    call = _call_string(name, walk(list(args)), walk(kwargs))
    result = torch.ops.keystream.draw(g, call, ints, floats, tensors)
    if out is not None:
        out.copy_(result)
        return out
    return result


def _fake_draw(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], g: Any) -> torch.Tensor:
    """An empty tensor of the draw's result shape, dtype and device (shapes may be symbolic)."""
    import inspect

    from . import _draws

    fn = _draw_function(name)
    bound = inspect.signature(fn).bind(*args, **kwargs).arguments
    tensors = [v for v in bound.values() if isinstance(v, torch.Tensor)]
    dtype = bound.get("dtype")
    device = bound.get("device")
    if name == "multinomial":
        x = bound["input"]
        return torch.empty((*x.shape[:-1], bound["num_samples"]), dtype=torch.int64, device=x.device)
    if name == "dirichlet":
        return torch.empty_like(bound["alpha"], memory_format=torch.contiguous_format)
    if name == "randperm":
        shape: tuple[Any, ...] = (bound["n"],)
    elif name == "randint":
        shape = tuple(_sizes_of(_draws._randint_args(bound.get("args", ()), bound.get("kwargs", {}))[2]))
    elif "sizes" in bound or (bound.get("size") is not None):
        shape = tuple(_sizes_of(_draws._sizes(bound.get("sizes", ()), bound.get("size"))))
    else:
        shape = tuple(torch.broadcast_shapes(*(t.shape for t in tensors)))
    region = bound.get("region")
    if region is not None:
        items = (region,) if isinstance(region, slice) else tuple(region)
        shape = tuple((n if s.stop is None else s.stop) - (0 if s.start is None else s.start)
                      if d < len(items) and isinstance(s := items[d], slice) else n for d, n in enumerate(shape))
    if dtype is None:
        defaults = {"bits": torch.uint32, "randint": torch.int64, "randperm": torch.int64}
        dtype = defaults.get(name) or _draws._float_dtype_of(*tensors) or torch.get_default_dtype()
    if device is None:
        device = getattr(g, "real_obj", g).device  # (a fake kernel may get a stand-in)
    return torch.empty(shape, dtype=dtype, device=device)


def _sizes_of(size: Any) -> list[Any]:
    if isinstance(size, (tuple, list, torch.Size)):
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            return list(size[0])
        return list(size)
    return [size]


def _register_draw() -> None:
    from ._generator import Generator

    register_opaque_type(Generator, typ="reference", members={"device": MemberType.USE_REAL})
    _registered.add(Generator)

    @torch.library.custom_op("keystream::draw", mutates_args=())
    def draw(g: Generator, call: str, ints: list[int], floats: list[float],
             tensors: list[torch.Tensor]) -> torch.Tensor:
        name, args, kwargs = _unpack(call, ints, floats, tensors)
        return _draw_function(name)(*args, generator=g, **kwargs)  # type: ignore[no-any-return]

    @draw.register_fake
    def _(g: Generator, call: str, ints: list[int], floats: list[float],
          tensors: list[torch.Tensor]) -> torch.Tensor:
        name, args, kwargs = _unpack(call, ints, floats, tensors)
        return _fake_draw(name, args, kwargs, g)


if OPAQUE:
    from torch._library.opaque_object import MemberType
