"""One rank of the keyed dropout data-parallel test (started by tests/test_nn.py).

    python tests/dropout_worker.py RANK WORLD PORT OUT.json

Each rank takes its shard of a global batch of 12 samples, tells keystream.nn where the
shard starts, and runs forward and backward; rank 0 writes the gathered outputs and input
gradients as float hex.
"""
from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist

from _gloo import leave
from _nn_model import GLOBAL_BATCH, inputs, model_and_step


def main() -> None:
    rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    x = inputs()
    bounds = [GLOBAL_BATCH * r // world for r in range(world + 1)]
    mine = x[bounds[rank]:bounds[rank + 1]].clone().requires_grad_()
    y = model_and_step(mine, start=bounds[rank])
    parts_y = [torch.empty((bounds[r + 1] - bounds[r], *y.shape[1:])) for r in range(world)]
    parts_g = [torch.empty((bounds[r + 1] - bounds[r], *x.shape[1:])) for r in range(world)]
    dist.all_gather(parts_y, y.detach().contiguous())
    dist.all_gather(parts_g, mine.grad.contiguous())
    if rank == 0:
        with open(out, "w") as fh:
            json.dump({"y": [v.hex() for v in torch.cat(parts_y).flatten().double().tolist()],
                       "grad": [v.hex() for v in torch.cat(parts_g).flatten().double().tolist()]}, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
    leave()
