"""One rank of the distributed guarantee tests (started by tests/test_distributed.py).

    python tests/dist_worker.py RANK WORLD PORT OUT.json [STATE.json]

Initialises gloo on 127.0.0.1, streams one epoch through a DataLoader with a worker
process, gathers (sample index, hash of the augmented sample) from all ranks in rank
order per step, and (rank 0) writes them with the distributed-helper results to OUT.
"""
from __future__ import annotations

import hashlib
import json
import sys
import warnings

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset

from _gloo import leave
from keystream.data import PerSampleDataset, ShuffleSampler
from keystream.distributed import check_shared, rank_generator, shared_generator

GLOBAL_BATCH = 6
SEED = 5


class Toy(Dataset):
    def __len__(self):
        return 41

    def __getitem__(self, i):
        return i, torch.arange(6, dtype=torch.float32) + i


def augment(sample, g):
    i, x = sample
    x = x + g.randn(6) * 0.1
    return i, x + torch.rand(6)  # torch's global RNG, seeded per sample by seed_globals


def main() -> None:
    warnings.filterwarnings("ignore")
    rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    state = json.load(open(sys.argv[5])) if len(sys.argv) > 5 else None
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    ds = PerSampleDataset(Toy(), SEED, augment, seed_globals=True)
    sampler = ShuffleSampler(ds, batch_size=GLOBAL_BATCH, seed=SEED)
    sampler.set_epoch(1)
    ds.set_epoch(1)
    if state is not None:
        sampler.load_state_dict(state)
    loader = DataLoader(ds, batch_size=GLOBAL_BATCH // world, sampler=sampler, num_workers=1)
    steps = []
    for idx, x in loader:
        steps.append([[int(i), hashlib.sha256(row.numpy().tobytes()).hexdigest()[:16]] for i, row in zip(idx, x)])
    gathered = [None] * world
    dist.all_gather_object(gathered, steps)
    stream = [item for s in range(len(steps)) for r in range(world) for item in gathered[r][s]]

    g = shared_generator()  # seed drawn on rank 0, broadcast
    check_shared(g)
    keys = [None] * world
    dist.all_gather_object(keys, [list(g.key), list(rank_generator(g).key)])
    mismatch = ""
    if world > 1:
        if rank == 1:
            g.rand(3)
        try:
            check_shared(g)
        except RuntimeError as err:
            mismatch = str(err)
    half_state = sampler.state_dict(steps_done=3)
    if rank == 0:
        with open(out, "w") as fh:
            json.dump({"stream": stream, "keys": keys, "mismatch": mismatch, "half_state": half_state}, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
    leave()
