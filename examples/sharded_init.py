"""A small transformer built on the meta device and materialised sharded on 2 CPU processes.

    python examples/sharded_init.py

Each rank holds only its FSDP2 shards (fully_shard, gloo on 127.0.0.1) and initialises
only them, with keystream.init.init_module; gathering the shards gives exactly the
model initialised on one CPU.  torch's own DTensor random ops would give shards that
differ from the single-device init (pytorch issue 168058).
"""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from keystream import init

SEED = 2024


def build() -> nn.Module:
    return nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0), num_layers=2)


def rank_main(rank: int, world: int, port: int) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    with torch.device("meta"):
        model = build()
    fully_shard(model, mesh=init_device_mesh("cpu", (world,)))
    init.materialize(model, SEED, device="cpu")  # each rank fills only its own shards
    reference = init.init_module(build(), SEED).state_dict()
    same = all(torch.equal(p.full_tensor(), reference[name]) for name, p in model.named_parameters())
    if rank == 0:
        print(f"sharded over {world} processes == single-CPU init, bit for bit: {same}", flush=True)
    dist.destroy_process_group()
    # Leave without the interpreter's C++ teardown: with torch 2.13's gloo it aborts now
    # and then ("terminate called without an active exception") after all work is done.
    os._exit(0 if same else 1)


def main(world: int = 2) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(rank_main, args=(world, port), nprocs=world)


if __name__ == "__main__":
    main()
