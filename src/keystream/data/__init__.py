"""Reproducible training data: shuffling, sampling and per-sample randomness.

Everything random in an epoch is a pure function of ``(seed, epoch, sample index)``:
not of ``num_workers``, the world size, the batch size per rank or where a run was
resumed.  See docs/data.md.
"""
from ._augment import augment_words, color_jitter, crop_boxes, cutmix_boxes, flip, mixup_lambda
from ._loader import DataLoader
from ._sampler import ShuffleSampler, epoch_generator
from ._samples import PerSampleDataset, sample_generator, seeded_globals
from ._torch_samplers import RandomSampler, SubsetRandomSampler, WeightedRandomSampler, random_split

__all__ = [
    "DataLoader",
    "PerSampleDataset",
    "RandomSampler",
    "ShuffleSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "augment_words",
    "color_jitter",
    "crop_boxes",
    "cutmix_boxes",
    "epoch_generator",
    "flip",
    "mixup_lambda",
    "random_split",
    "sample_generator",
    "seeded_globals",
]
