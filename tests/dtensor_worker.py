"""One rank of the sharded-initialisation tests (started by tests/test_init_sharded.py).

    python tests/dtensor_worker.py RANK WORLD PORT OUT.json

For each sharding (Shard(0), Shard(1), Replicate, a 2-D mesh, FSDP2's fully_shard when
torch allows it on the CPU), every rank initialises only its shards with
keystream.init.init_module; the gathered full tensors must equal the single-process init.
"""
from __future__ import annotations

import json
import sys
import warnings

import torch
import torch.distributed as dist
from torch import nn

from _gloo import leave
from keystream import init

SEED = 99


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(12, 8)
        self.attn = nn.MultiheadAttention(8, 2)
        self.up = nn.Linear(8, 20)
        self.down = nn.Linear(20, 8)
        self.norm = nn.LayerNorm(8)


def reference() -> dict[str, torch.Tensor]:
    return init.init_module(Block(), SEED).state_dict()


def shard_model(model: nn.Module, mesh, placements_for) -> nn.Module:
    from torch.distributed.tensor import distribute_tensor

    for mod in model.modules():
        for name, p in list(mod.named_parameters(recurse=False)):
            dt = distribute_tensor(p.detach(), mesh, placements_for(p))
            setattr(mod, name, nn.Parameter(dt))
    return model


def compare(model: nn.Module, ref: dict[str, torch.Tensor]) -> list[str]:
    bad = []
    for name, p in model.named_parameters():
        full = p.full_tensor() if hasattr(p, "full_tensor") else p
        if not torch.equal(full.detach(), ref[name]):
            bad.append(name)
    return bad


def main() -> None:
    warnings.filterwarnings("ignore")
    rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard

    ref = reference()
    mesh = init_device_mesh("cpu", (world,))
    results: dict[str, object] = {}
    configs = {
        "Shard(0)": (mesh, lambda p: [Shard(0)]),
        "Shard(1)": (mesh, lambda p: [Shard(1) if p.dim() > 1 else Shard(0)]),
        "Replicate": (mesh, lambda p: [Replicate()]),
    }
    if world == 4:
        mesh2 = init_device_mesh("cpu", (2, 2))
        configs["2-D mesh (Shard(0), Shard(1))"] = (mesh2, lambda p: [Shard(0), Shard(1) if p.dim() > 1 else Shard(0)])
        configs["2-D mesh (Replicate, Shard(0))"] = (mesh2, lambda p: [Replicate(), Shard(0)])
    for label, (m, placements) in configs.items():
        model = shard_model(Block(), m, placements)
        init.init_module(model, SEED)
        results[label] = compare(model, ref)
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError as err:  # an older torch: recorded, the test decides
        results["FSDP2 fully_shard"] = f"not available: {err}"
    else:
        try:
            model = Block()
            fully_shard(model, mesh=mesh)
            init.init_module(model, SEED)
            results["FSDP2 fully_shard"] = compare(model, ref)
        except Exception as err:  # noqa: BLE001 - a failure, reported to the test
            results["FSDP2 fully_shard"] = f"failed: {type(err).__name__}: {err}"
    # orthogonal_ on a sharded matrix: each rank keeps its slice of the same matrix
    from torch.distributed.tensor import distribute_tensor

    w = distribute_tensor(torch.empty(12, 10), mesh, [Shard(1)])
    init.orthogonal_(w, generator=__import__("keystream").Generator(5))
    full_ref = init.orthogonal_(torch.empty(12, 10), generator=__import__("keystream").Generator(5))
    results["orthogonal_ Shard(1)"] = [] if torch.equal(w.full_tensor(), full_ref) else ["orthogonal"]
    if rank == 0:
        with open(out, "w") as fh:
            json.dump(results, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
    leave()
