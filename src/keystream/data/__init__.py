"""Reproducible training data: shuffling, sampling and per-sample randomness.

Everything random in an epoch is a pure function of ``(seed, epoch, sample index)``:
not of ``num_workers``, the world size, the batch size per rank or where a run was
resumed.  See docs/data.md.
"""
from ._augment import augment_words, color_jitter, crop_boxes, cutmix_boxes, flip, mixup_lambda
from ._sampler import ShuffleSampler, epoch_generator
from ._samples import PerSampleDataset, sample_generator, seeded_globals

__all__ = [
    "PerSampleDataset",
    "ShuffleSampler",
    "augment_words",
    "color_jitter",
    "crop_boxes",
    "cutmix_boxes",
    "epoch_generator",
    "flip",
    "mixup_lambda",
    "sample_generator",
    "seeded_globals",
]
