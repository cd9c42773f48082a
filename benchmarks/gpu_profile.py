"""The draws under Nsight Compute (``ncu``), for ``gpu_session.sh``: why a draw runs at the
speed it does (issue slots busy, achieved occupancy, registers, memory throughput).

    ncu --clock-control none --kernel-name regex:draw_contiguous --section SpeedOfLight \\
        --section ComputeWorkloadAnalysis --section Occupancy python3 benchmarks/gpu_profile.py

Draws randn float32, rand float32 and randn float64 at N = 2^28 on the GPU engine, each
twice (the first launch of each compiles; profile both, read the second).  ncu reads
hardware counters only on machines that allow it (not in every virtual machine or
sandbox); elsewhere it says so and the measurement goes on without a profile.
"""
from __future__ import annotations

import torch

import keystream as ks


def main() -> None:
    n = 1 << 28
    g = ks.Generator(3, device="cuda")
    for _ in range(2):
        g.randn(n)
        g.rand(n)
        g.randn(n, dtype=torch.float64)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
