"""Dropout that is the same for any device, micro-batching, sharding or recompute.

:class:`Dropout`, :class:`Dropout1d`, :class:`Dropout2d`, :class:`Dropout3d`,
:class:`AlphaDropout` and :class:`FeatureAlphaDropout` take torch's arguments and compute
torch's formulas, with a mask that is a pure function of the generator's key, the module's
name, the training step, its call within the step and each element's global batch index and
feature position (NOTE [ Keyed masks ] in ``_schedule.py``; docs/nn.md).  A plain training
loop needs nothing more (the step counts optimizer steps); :func:`batch` names the step and
the first sample's global index for micro-batches and data-parallel ranks, and
:func:`name_modules` names modules by their paths.  The backward pass recomputes the mask
instead of saving it, and every form is a ``torch.library`` operator, so
``torch.compile(fullgraph=True)`` traces it.
"""
from . import functional
from ._modules import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from ._schedule import Site, batch, get_step, name_modules, set_step

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
    "Site",
    "batch",
    "functional",
    "get_step",
    "name_modules",
    "set_step",
]
