"""Data benchmark: ShuffleSampler against torch's DistributedSampler, in one run.

    python benchmarks/data.py [--json data.json]

* sampler throughput (indices/s, one process) for a dataset of 10^9 samples;
* time to the first index of a new epoch for 10^7 samples (DistributedSampler
  materialises a randperm of the whole dataset);
* peak memory growth while iterating, for 10^6 and 10^9 samples (O(1) in n).
"""
from __future__ import annotations

import argparse
import statistics
import time

from torch.utils.data import DistributedSampler

import keystream as ks
from _timing import Report
from keystream.data import ShuffleSampler


def rss_peak_reset() -> None:
    open("/proc/self/clear_refs", "w").write("5")


def rss(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def throughput(n: int, count: int, world: int = 1, version: int = ks.STREAM_VERSION) -> float:
    s = ShuffleSampler(n, batch_size=256 * world, seed=1, num_replicas=world, rank=0, stream_version=version)
    t0 = time.perf_counter()
    k = 0
    for _ in s:
        k += 1
        if k == count:
            break
    return count / (time.perf_counter() - t0)


def first_index(make, reps: int = 5) -> float:
    times = []
    for epoch in range(reps):
        s = make()
        s.set_epoch(epoch + 1)
        t0 = time.perf_counter()
        next(iter(s))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def memory(n: int, count: int = 2_000_000) -> int:
    rss_peak_reset()
    before = rss("VmRSS:")
    s = ShuffleSampler(n, batch_size=256, seed=1)
    k = 0
    for _ in s:
        k += 1
        if k == count:
            break
    return rss("VmHWM:") - before


class _Sized:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="also write the numbers as JSON")
    args = ap.parse_args()
    report = Report("data")
    for n, world in ((10**9, 1), (10**9, 4), (2**28 + 1, 1)):  # 2^28 + 1: version 1's longest cycle walks
        runs: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(3):  # the two stream versions interleaved
            for version in (1, 2):
                runs[version].append(throughput(n, 5_000_000, world, version))
        for version, r in runs.items():
            report.line(f"ShuffleSampler, n = {n}, world size {world} (rank 0), stream version {version}: "
                        f"{statistics.median(r) / 1e6:.1f} M indices/s (3 runs: {min(r) / 1e6:.1f}-{max(r) / 1e6:.1f})",
                        n=n, world=world, stream_version=version, indices_per_s=r)
    n = 10**7
    ks_t = first_index(lambda: ShuffleSampler(n, batch_size=256, seed=1))
    torch_t = first_index(lambda: DistributedSampler(_Sized(n), num_replicas=1, rank=0, seed=1))
    report.line(f"first index of a new epoch, n = 10^7: keystream {ks_t * 1e3:.2f} ms, DistributedSampler "
                f"{torch_t * 1e3:.0f} ms ({torch_t / ks_t:.0f}x sooner)", keystream_s=ks_t, torch_s=torch_t)
    for m in (10**6, 10**9):
        b = memory(m)
        report.line(f"peak memory growth iterating 2M indices, n = {m:.0e}: {b / 2**20:.1f} MiB", n=m, bytes=b)
    report.save(args.json)


if __name__ == "__main__":
    main()
