"""keystream.init: torch's distributions and bounds, names as keys, devices, dtypes, meta."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import keystream as ks
from keystream import init
from keystream._tools._conformance import same_bits

SHAPE = (256, 384)


def _moments(fn, *args, **kwargs):
    t = torch.empty(SHAPE)
    fn(t, *args, **kwargs)
    return float(t.mean()), float(t.std()), float(t.min()), float(t.max())


@pytest.mark.parametrize("name,args", [
    ("uniform_", (-0.5, 2.0)),
    ("normal_", (0.3, 2.0)),
    ("trunc_normal_", (0.0, 1.0, -2.0, 2.0)),
    ("trunc_normal_", (0.5, 0.2, 0.0, 1.0)),
    ("xavier_uniform_", (1.5,)),
    ("xavier_normal_", (1.5,)),
    ("kaiming_uniform_", (math.sqrt(5),)),
    ("kaiming_normal_", (0.0, "fan_out", "relu")),
    ("orthogonal_", (2.0,)),
])
def test_same_distribution_as_torch(name, args):
    mine = _moments(getattr(init, name), *args, generator=ks.Generator(1))
    theirs = _moments(getattr(torch.nn.init, name), *args, generator=torch.Generator().manual_seed(1))
    n = SHAPE[0] * SHAPE[1]
    assert abs(mine[0] - theirs[0]) < 6 * theirs[1] / math.sqrt(n) + 1e-6
    assert abs(mine[1] - theirs[1]) < 0.03 * theirs[1]
    if name in ("uniform_", "xavier_uniform_", "kaiming_uniform_"):
        bound = max(abs(theirs[2]), abs(theirs[3]))
        assert mine[2] >= -bound * 1.0001 and mine[3] <= bound * 1.0001
    if name == "trunc_normal_":
        assert args[2] <= mine[2] and mine[3] <= args[3]


def test_orthogonal_is_orthogonal_and_sign_convention():
    for shape in ((20, 50), (50, 20), (8, 3, 3)):
        q = init.orthogonal_(torch.empty(shape), generator=ks.Generator(4)).reshape(shape[0], -1)
        small = q @ q.t() if q.shape[0] <= q.shape[1] else q.t() @ q
        assert torch.allclose(small, torch.eye(small.shape[0]), atol=1e-5)


def test_sparse_zeros_per_column():
    t = init.sparse_(torch.empty(40, 7), 0.3, generator=ks.Generator(2))
    assert ((t == 0).sum(0) == math.ceil(0.3 * 40)).all()


def test_dtype_path_does_not_matter():
    a = init.normal_(torch.empty(100, dtype=torch.bfloat16), generator=ks.Generator(3))
    b = init.normal_(torch.empty(100), generator=ks.Generator(3)).to(torch.bfloat16)
    assert same_bits(a, b)


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(5, 4))
        self.bias = nn.Parameter(torch.empty(5))
        self.scale = nn.Parameter(torch.empty(5))


def build(order: int) -> nn.Module:
    torch.manual_seed(order)  # RNG use before must not matter
    torch.rand(order * 10)
    layers = {
        "proj": lambda: nn.Linear(8, 16),
        "norm": lambda: nn.LayerNorm(16),
        "conv": lambda: nn.Conv2d(3, 4, 3),
        "tconv": lambda: nn.ConvTranspose1d(3, 5, 2),
        "emb": lambda: nn.Embedding(10, 4, padding_idx=0),
        "attn": lambda: nn.MultiheadAttention(16, 4, add_bias_kv=True),
        "rnn": lambda: nn.LSTM(4, 8, num_layers=2),
        "gru": lambda: nn.GRU(4, 3),
        "bn": lambda: nn.BatchNorm1d(4),
        "bil": lambda: nn.Bilinear(3, 4, 5),
        "custom": Custom,
    }
    names = list(layers)
    if order % 2:
        names.reverse()
    made = {n: layers[n]() for n in names}
    return nn.ModuleDict({n: made[n] for n in sorted(made)})


def test_init_module_independent_of_creation_order_and_rng():
    a = init.init_module(build(1), 11).state_dict()
    b = init.init_module(build(2), 11).state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert same_bits(a[k], b[k]), k
    c = init.init_module(build(1), 12).state_dict()
    assert not torch.equal(a["proj.weight"], c["proj.weight"])


def test_init_module_matches_reset_parameters_distributions():
    m = init.init_module(build(1), 3)
    bound = 1 / math.sqrt(8)
    assert m["proj"].weight.abs().max() <= bound and m["proj"].bias.abs().max() <= bound
    assert (m["norm"].weight == 1).all() and (m["norm"].bias == 0).all()
    assert (m["emb"].weight[0] == 0).all()
    assert (m["attn"].in_proj_bias == 0).all() and (m["attn"].out_proj.bias == 0).all()
    assert m["rnn"].weight_hh_l1.abs().max() <= 1 / math.sqrt(8)
    assert (m["custom"].scale == 1).all() and m["custom"].bias.abs().max() <= 1 / math.sqrt(4)


def test_materialize_from_meta_equals_cpu_init(device):
    ref = init.init_module(build(1), 7).state_dict()
    with torch.device("meta"):
        meta = build(1)
    init.materialize(meta, 7, device=device)
    for k, v in meta.state_dict().items():
        assert v.device.type == device.type
        assert same_bits(v.cpu(), ref[k]), k


def test_custom_hook():
    class Hooked(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(3))

        def keystream_init_(self, generator_for):
            with torch.no_grad():
                self.w.copy_(generator_for("w").rand(3))

    m = init.init_module(nn.Sequential(Hooked()), 1)
    assert torch.equal(m[0].w.detach(), ks.Generator(1).fold_in("0.w").rand(3))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: init.trunc_normal_(torch.empty(3), a=1.0, b=0.0), ValueError, "a < b"),
    (lambda: init.sparse_(torch.empty(3), 0.5), ValueError, "2-dimensional"),
    (lambda: init.sparse_(torch.empty(3, 3), 1.5), ValueError, "sparsity"),
    (lambda: init.orthogonal_(torch.empty(3)), ValueError, "2 or more"),
    (lambda: init.kaiming_uniform_(torch.empty(3, 3), mode="fan"), ValueError, "mode"),
    (lambda: init.uniform_([1, 2]), TypeError, "tensor"),
    (lambda: init.normal_(torch.empty(3), generator=torch.Generator()), TypeError, "generator"),
])
def test_init_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_sharded_example_runs():
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "sharded_init.py"
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "bit for bit: True" in r.stdout, r.stdout + r.stderr[-2000:]
