"""torch's opaque objects: the classes custom operators take without looking inside.

A class made with :data:`OpaqueMeta` and registered with :func:`register_opaque` is a
*reference* opaque type (NOTE [ torch.compile ] in ``_ops.py``): a compiled graph takes an
instance as an input and passes it to the operators as it is.  Where torch has no opaque
objects, :data:`OPAQUE` is False and the metaclass is ``type``.
"""

from typing import Any

__all__ = ["OPAQUE", "OpaqueMeta", "register_opaque"]

try:
    from torch._library.opaque_object import MemberType, register_opaque_type
    from torch._opaque_base import OpaqueBaseMeta
    OPAQUE = True
except ImportError:  # torch without opaque objects: draws are graph breaks under compile
    OPAQUE = False
    OpaqueBaseMeta = type  # type: ignore[misc,assignment]

#: The metaclass of the classes custom operators take as opaque objects (``type`` without).
OpaqueMeta: Any = OpaqueBaseMeta
_registered: set[type] = set()


def register_opaque(cls: type, real_device: bool = False) -> None:
    """Register ``cls`` as a reference opaque type (once); ``real_device``: a graph may read its
    ``device`` (the Generator's)."""
    if OPAQUE and cls not in _registered:
        if real_device:
            register_opaque_type(cls, typ="reference", members={"device": MemberType.USE_REAL})
        else:
            register_opaque_type(cls, typ="reference")
        _registered.add(cls)
