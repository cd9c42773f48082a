"""Generators across torch.distributed ranks: shared, checked, or one per rank.

What users reach for instead of Lightning's ``seed_everything`` or Ray's
``enable_reproducibility``, without touching any global RNG.
"""
from ._shared import check_shared, rank_generator, shared_generator

__all__ = ["check_shared", "rank_generator", "shared_generator"]
