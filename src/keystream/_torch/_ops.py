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

from collections.abc import Callable
from typing import Any

import torch

from ._generator import Generator, default_generator
from ._opaque import register_opaque

__all__ = ["DRAWS", "register_draw_operator", "traced_draw"]

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


#: The public draws by name (``keystream.<name>``), which ``_draws._eager`` records here: the
#: operator's kernel calls them.
DRAWS: dict[str, Callable[..., torch.Tensor]] = {}


def traced_draw(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    """A public draw met by torch.compile: the ``keystream::draw`` operator (NOTE [ torch.compile ])."""
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


def register_draw_operator(fake: Callable[[str, tuple[Any, ...], dict[str, Any], Any], torch.Tensor]) -> None:
    """Define ``keystream::draw`` (once torch has opaque objects): its kernel is the eager draw
    of :data:`DRAWS`, its fake kernel ``fake(name, args, kwargs, generator)``, an empty tensor of
    the result's shape, dtype and device."""
    register_opaque(Generator, real_device=True)

    @torch.library.custom_op("keystream::draw", mutates_args=())
    def draw(g: Generator, call: str, ints: list[int], floats: list[float],
             tensors: list[torch.Tensor]) -> torch.Tensor:
        name, args, kwargs = _unpack(call, ints, floats, tensors)
        return DRAWS[name](*args, generator=g, **kwargs)

    @draw.register_fake
    def _(g: Generator, call: str, ints: list[int], floats: list[float],
          tensors: list[torch.Tensor]) -> torch.Tensor:
        name, args, kwargs = _unpack(call, ints, floats, tensors)
        return fake(name, args, kwargs, g)
