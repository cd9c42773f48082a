"""One rank of the Monte Carlo process-count test (started by tests/test_montecarlo.py).

    python tests/mc_worker.py RANK WORLD PORT OUT.json
"""
from __future__ import annotations

import json
import sys

import torch.distributed as dist

from _gloo import leave
from keystream.montecarlo import EXAMPLES, estimate


def main() -> None:
    rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    res = {}
    for name in ("pi", "european-call"):
        e = estimate(EXAMPLES[name].fn, 300_001, seed=11, chunk_size=40_000)
        res[name] = [e.mean.hex(), e.stderr.hex(), e.n]
    if rank == 0:
        with open(out, "w") as fh:
            json.dump(res, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
    leave()
