"""Keyed dropout (forward + backward) against torch's F.dropout, and the memory each keeps.

    python benchmarks/dropout.py [--reps 9] [--threads 2] [--json docs/benchmarks/dropout.json]

2^24 float32 elements, p = 0.1 and 0.5: a forward pass and a backward pass of a fixed
gradient, ``keystream.nn.functional.dropout`` (the mask recomputed in the backward pass
from three saved counters) against ``torch.nn.functional.dropout`` (torch's generator; it
keeps its noise tensor for the backward pass).  The bytes each keeps between the passes
are the tensors autograd saves (``saved_tensors_hooks``).  One process, timed in turns,
medians with min - max.
"""
from __future__ import annotations

import argparse

import torch

import keystream
import keystream.nn as knn
from _timing import Report, interleaved_stats, warm_fresh_pages

N = 1 << 24


def saved_bytes(fn, x: torch.Tensor) -> int:  # type: ignore[no-untyped-def]
    total = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t is not x:  # (the input itself is not the dropout's to keep)
            total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return total[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    report = Report("dropout")
    x = keystream.randn(N, generator=keystream.Generator(1)).requires_grad_()
    gy = keystream.randn(N, generator=keystream.Generator(2))
    site = knn.Site("bench", keystream.Generator(3))
    warm_fresh_pages(N * 4)
    for p in (0.1, 0.5):
        def ks_step(p: float = p) -> None:
            x.grad = None
            knn.functional.dropout(x, p, site=site).backward(gy)

        def torch_step(p: float = p) -> None:
            x.grad = None
            torch.nn.functional.dropout(x, p).backward(gy)

        t = interleaved_stats({"keystream": ks_step, "torch": torch_step}, args.reps)
        mine, peer = t["keystream"], t["torch"]
        ratio = peer["median"] / mine["median"]
        kept_ks = saved_bytes(lambda v, p=p: knn.functional.dropout(v, p, site=site), x)
        kept_torch = saved_bytes(lambda v, p=p: torch.nn.functional.dropout(v, p), x)
        report.line(f"2^24 float32, p = {p}, {args.threads} threads: forward + backward keystream "
                    f"{mine['median'] * 1e3:.1f} ms ({mine['min'] * 1e3:.1f} - {mine['max'] * 1e3:.1f}), torch "
                    f"{peer['median'] * 1e3:.1f} ms ({peer['min'] * 1e3:.1f} - {peer['max'] * 1e3:.1f}): keystream "
                    f"{ratio:.2f}x as fast; kept for backward: keystream {kept_ks} bytes, torch {kept_torch} bytes "
                    f"({(kept_torch - kept_ks) / 2**20:.1f} MiB less)", p=p, seconds=t, ratio=ratio,
                    saved_keystream=kept_ks, saved_torch=kept_torch)
    report.save(args.json)


if __name__ == "__main__":
    main()
