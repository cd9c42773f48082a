"""Bad input raises a clear exception naming the argument and leaves the state unchanged."""
from __future__ import annotations

import math

import pytest
import torch

import keystream as ks

BAD = [
    ("negative size", lambda g: g.rand(3, -1), ValueError, "size"),
    ("float size", lambda g: g.rand(2.5), TypeError, "size"),
    ("bool size", lambda g: g.randn(True), TypeError, "size"),
    ("randint low >= high", lambda g: g.randint(5, 5, (3,)), ValueError, "low < high"),
    ("randint float high", lambda g: g.randint(0, 2.5, (3,)), TypeError, "high"),
    ("randint range too big for dtype", lambda g: g.randint(0, 300, (3,), dtype=torch.int8), ValueError, "int8"),
    ("randint float dtype", lambda g: g.randint(0, 3, (3,), dtype=torch.float32), TypeError, "dtype"),
    ("randint missing size", lambda g: g.randint(10), TypeError, "size"),
    ("uniform low >= high", lambda g: g.uniform(2.0, 1.0, (3,)), ValueError, "low < high"),
    ("uniform overflowing span", lambda g: g.uniform(-3e38, 3e38, (3,), dtype=torch.float32), ValueError, "overflows"),
    ("uniform nan", lambda g: g.uniform(math.nan, 1.0, (3,)), ValueError, "low < high"),
    ("uniform no size", lambda g: g.uniform(0.0, 1.0), TypeError, "size"),
    ("std < 0", lambda g: g.normal(0.0, -1.0, (3,)), ValueError, "std"),
    ("std nan", lambda g: g.normal(0.0, math.nan, (3,)), ValueError, "std"),
    ("std tensor < 0", lambda g: g.normal(torch.zeros(3), torch.tensor([1.0, -1.0, 1.0])), ValueError, "std"),
    ("mean string", lambda g: g.normal("a", 1.0, (3,)), TypeError, "mean"),
    ("p > 1", lambda g: g.bernoulli(1.5, (3,)), ValueError, "p must be"),
    ("p < 0", lambda g: g.bernoulli(-0.1, (3,)), ValueError, "p must be"),
    ("p nan", lambda g: g.bernoulli(math.nan, (3,)), ValueError, "p must be"),
    ("p tensor outside", lambda g: g.bernoulli(torch.tensor([0.5, 2.0])), ValueError, "p must be"),
    ("lambd <= 0", lambda g: g.exponential(3, lambd=0.0), ValueError, "lambd"),
    ("lambd < 0", lambda g: g.exponential(3, lambd=-2.0), ValueError, "lambd"),
    ("lambd nan", lambda g: g.exponential(3, lambd=math.nan), ValueError, "lambd"),
    ("rand int dtype", lambda g: g.rand(3, dtype=torch.int64), TypeError, "dtype"),
    ("randn int dtype", lambda g: g.randn(3, dtype=torch.int32), TypeError, "dtype"),
    ("bits float dtype", lambda g: g.bits(3, dtype=torch.float32), TypeError, "dtype"),
    ("randperm negative", lambda g: g.randperm(-1), ValueError, "n must be"),
    ("randperm float", lambda g: g.randperm(3.0), TypeError, "n must be"),
    ("randperm too big for dtype", lambda g: g.randperm(70000, dtype=torch.int16), ValueError, "int16"),
    ("region out of bounds", lambda g: g.rand(4, 5, region=(slice(0, 5),)), IndexError, "region[0]"),
    ("region negative", lambda g: g.rand(4, region=(slice(-1, 2),)), IndexError, "region[0]"),
    ("region step", lambda g: g.rand(8, region=(slice(0, 8, 2),)), ValueError, "step"),
    ("region too many dims", lambda g: g.rand(8, region=(slice(0, 1), slice(0, 1))), IndexError, "region"),
    ("region not a slice", lambda g: g.rand(8, region=(3,)), TypeError, "region[0]"),
    ("out wrong shape", lambda g: g.rand(3, out=torch.empty(4)), ValueError, "out"),
    ("out wrong dtype", lambda g: g.rand(3, dtype=torch.float64, out=torch.empty(3)), TypeError, "out"),
    ("out not a tensor", lambda g: g.rand(3, out=[0, 0, 0]), TypeError, "out"),
    ("generator wrong type", lambda g: ks.rand(3, generator=torch.Generator()), TypeError, "generator"),
    ("bad device", lambda g: g.rand(3, device="nonsense"), ValueError, "device"),
    ("offset negative", lambda g: setattr(g, "offset", -1), ValueError, "offset"),
    ("offset too big", lambda g: setattr(g, "offset", 2**64), ValueError, "offset"),
    ("advance negative", lambda g: g.advance(-1), ValueError, "blocks"),
    ("advance float", lambda g: g.advance(1.0), TypeError, "blocks"),
    ("spawn negative", lambda g: g.spawn(-1), ValueError, "n must be"),
    ("fold_in float", lambda g: g.fold_in(1.5), TypeError, "data"),
    ("fold_in negative", lambda g: g.fold_in(-1), ValueError, "data"),
    ("fold_in too big", lambda g: g.fold_in(2**64), ValueError, "data"),
    ("seed float", lambda g: g.manual_seed(1.0), TypeError, "seed"),
    ("seed bool", lambda g: g.manual_seed(True), TypeError, "seed"),
    ("seed str", lambda g: g.manual_seed("1"), TypeError, "seed"),
    ("seed None", lambda g: g.manual_seed(None), TypeError, "seed"),
    ("seed too big", lambda g: g.manual_seed(2**64), ValueError, "seed"),
    ("seed too small", lambda g: g.manual_seed(-(2**63) - 1), ValueError, "seed"),
    ("state wrong length", lambda g: g.set_state(torch.zeros(31, dtype=torch.uint8)), ValueError, "32 bytes"),
    ("state wrong dtype", lambda g: g.set_state(torch.zeros(32, dtype=torch.int64)), TypeError, "uint8"),
    ("state wrong tag", lambda g: g.set_state(torch.zeros(32, dtype=torch.uint8)), ValueError, "not a keystream"),
    ("state wrong version", lambda g: g.set_state(_tampered(g, 5, 2)), ValueError, "stream version"),
    ("state wrong algorithm", lambda g: g.set_state(_tampered(g, 4, 9)), ValueError, "algorithm"),
    ("state_dict wrong version", lambda g: g.load_state_dict({**g.state_dict(), "stream_version": 2}), ValueError,
     "stream_version"),
    ("state_dict wrong algorithm", lambda g: g.load_state_dict({**g.state_dict(), "algorithm": "mt19937"}),
     ValueError, "algorithm"),
    ("state_dict missing field", lambda g: g.load_state_dict({"algorithm": "philox4x32-10"}), ValueError, "lacks"),
    ("state_dict bad key", lambda g: g.load_state_dict({**g.state_dict(), "key": [1]}), ValueError, "key"),
    ("state_dict not a dict", lambda g: g.load_state_dict([1, 2]), TypeError, "state_dict"),
]


def _tampered(g: ks.Generator, index: int, value: int) -> torch.Tensor:
    s = g.get_state().clone()
    s[index] = value
    return s


@pytest.mark.parametrize("name,call,exc,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_and_keeps_state(name, call, exc, fragment):
    g = ks.Generator(2024)
    g.rand(5)
    g.spawn(1)
    before = g.state_dict()
    with pytest.raises(exc, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        call(g)
    assert g.state_dict() == before
