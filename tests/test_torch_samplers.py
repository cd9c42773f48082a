"""keystream.data's versions of torch's random samplers and random_split."""
from __future__ import annotations

import pytest
import torch

import keystream as ks
from keystream.data import RandomSampler, SubsetRandomSampler, WeightedRandomSampler, random_split


def test_random_sampler_without_replacement_is_randperm_and_repeats_whole_permutations():
    s = RandomSampler(range(7), generator=ks.Generator(1))
    assert list(s) == ks.randperm(7, generator=ks.Generator(1)).tolist() and len(s) == 7
    g = ks.Generator(2)
    more = list(RandomSampler(range(5), num_samples=12, generator=g))
    h = ks.Generator(2)
    want = ks.randperm(5, generator=h).tolist() + ks.randperm(5, generator=h).tolist() + \
        ks.randperm(5, generator=h)[:2].tolist()
    assert more == want and g.offset == h.offset


def test_random_sampler_with_replacement_and_each_iteration_moves_on():
    g = ks.Generator(3)
    s = RandomSampler(range(10), replacement=True, num_samples=70000, generator=g)
    first, second = list(s), list(s)
    assert len(first) == 70000 and first != second and all(0 <= i < 10 for i in first)
    h = ks.Generator(3)
    assert first[:65536] == ks.randint(0, 10, (65536,), generator=h).tolist()


def test_subset_and_weighted_samplers():
    idx = [10, 20, 30, 40]
    got = list(SubsetRandomSampler(idx, generator=ks.Generator(4)))
    assert got == [idx[i] for i in ks.randperm(4, generator=ks.Generator(4)).tolist()]
    w = WeightedRandomSampler([0.0, 1.0, 3.0], 1000, generator=ks.Generator(5))
    picks = torch.tensor(list(w))
    assert len(w) == 1000 and not bool((picks == 0).any()) and 600 < int((picks == 2).sum()) < 900
    assert sorted(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=ks.Generator(5))) == [0, 1, 2]


def test_random_split_lengths_and_fractions():
    parts = random_split(range(10), [3, 7], generator=ks.Generator(6))
    order = ks.randperm(10, generator=ks.Generator(6)).tolist()
    assert list(parts[0]) == order[:3] and list(parts[1]) == order[3:]
    sizes = [len(p) for p in random_split(range(11), [0.5, 0.3, 0.2], generator=ks.Generator(6))]
    assert sizes == [6, 3, 2]  # floor(5.5), floor(3.3), floor(2.2), then the remainder from the first
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])


@pytest.mark.parametrize("make,exc,fragment", [
    (lambda: RandomSampler(range(3), replacement=1), TypeError, "replacement"),
    (lambda: RandomSampler(range(3), num_samples=0), ValueError, "num_samples"),
    (lambda: WeightedRandomSampler([[1.0]], 2), ValueError, "1d"),
    (lambda: WeightedRandomSampler([1.0], -1), ValueError, "num_samples"),
])
def test_bad_arguments_as_torch(make, exc, fragment):
    with pytest.raises(exc, match=fragment):
        make()
