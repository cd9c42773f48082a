"""Which devices a draw can run on: checked once per device, before anything moves.

torch's own errors for a device it was not built for come late (at the first
allocation) and say little ("Tried to instantiate dummy base class ...", "Could not
run 'aten::empty.memory_format' ... 'MPS' backend").  Every public draw, the Monte
Carlo estimator and the command line ask :func:`usable_device` first, so such a
device is a clear ``ValueError`` naming the argument, raised before the generator
takes any block.
"""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["parse_device", "usable_device"]

#: Devices already seen to work (a device does not go away while a process runs).
_USABLE: set[torch.device] = set()


def parse_device(device: Any, name: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device`.

    Raises:
        ValueError: ``device`` is not a device torch can name.
    """
    if isinstance(device, torch.device):
        return device
    if isinstance(device, bool) or not isinstance(device, (str, int)):
        raise ValueError(f"{name} must be a torch device (a torch.device, str or int), got {device!r}")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"{name} is not a valid torch device: {device!r}") from err


def usable_device(device: Any, name: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` on which this torch can allocate tensors.

    Raises:
        ValueError: ``device`` is not a device name, or this torch or this machine has no
            such device (for example ``"cuda"`` on a CPU-only build of torch).
    """
    dev = parse_device(device, name)
    if dev.type == "cpu" or dev in _USABLE:
        return dev
    if dev.type == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            raise ValueError(f"{name} is {dev}, but this torch has no CUDA (a CPU-only build: "
                             f"torch {torch.__version__})")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name} is {dev}, but no CUDA device is available on this machine")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{name} is {dev}, but this machine has {count} CUDA device(s)")
    elif dev.type == "meta":
        raise ValueError(f"{name} is meta: keystream draws need a device with memory")
    else:
        try:  # one tiny allocation tells whether this torch can use the device
            torch.empty(0, device=dev)
        except Exception as err:  # noqa: BLE001 - torch raises many types for a missing backend
            raise ValueError(f"{name} is {dev}, which this torch or this machine cannot use "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:120]})") from err
    _USABLE.add(dev)
    return dev
