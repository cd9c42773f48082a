"""Keyed sampling against torch's batched sampling and a loop of per-request torch Generators.

    python benchmarks/sampling.py [--reps 7] [--json docs/benchmarks/sampling.json]

Batch 64, vocabularies 32,000 and 128,000, float32 logits, temperature 0.8 and top-p 0.9:
``keystream.sampling.sample`` (every row from its own key, the same token in any batch),
torch's unseeded batched path (softmax, top-p mask by a sort and a cumulative sum,
``torch.multinomial``) and what seeded serving does with torch today (one
``torch.Generator`` per request, each row sampled alone).  One process, timed in turns,
medians with min - max.
"""
from __future__ import annotations

import argparse

import torch

from _timing import Report, interleaved_stats
from keystream import sampling

TEMPERATURE, TOP_P = 0.8, 0.9


def torch_batched(logits: torch.Tensor) -> torch.Tensor:
    probs = torch.softmax(logits / TEMPERATURE, -1)
    sorted_p, order = torch.sort(probs, descending=True)
    drop = torch.cumsum(sorted_p, -1) - sorted_p > TOP_P
    sorted_p[drop] = 0.0
    picks = torch.multinomial(sorted_p, 1)
    return order.gather(1, picks).squeeze(1)


def torch_per_request(logits: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    out = []
    for row, g in zip(logits, generators):
        probs = torch.softmax(row / TEMPERATURE, -1)
        sorted_p, order = torch.sort(probs, descending=True)
        sorted_p[torch.cumsum(sorted_p, -1) - sorted_p > TOP_P] = 0.0
        out.append(order[torch.multinomial(sorted_p, 1, generator=g)])
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    report = Report("sampling")
    batch = 64
    keys = sampling.request_keys(range(batch), 0)
    generators = [torch.Generator().manual_seed(i) for i in range(batch)]
    for vocab in (32_000, 128_000):
        logits = torch.randn(batch, vocab, generator=torch.Generator().manual_seed(vocab)) * 3
        t = interleaved_stats({
            "keystream": lambda x=logits: sampling.sample(x, keys, temperature=TEMPERATURE, top_p=TOP_P),
            "torch batched": lambda x=logits: torch_batched(x),
            "torch per-request generators": lambda x=logits: torch_per_request(x, generators),
        }, args.reps)
        mine = t["keystream"]["median"]
        for peer in ("torch batched", "torch per-request generators"):
            ratio = t[peer]["median"] / mine
            report.line(f"batch {batch}, vocabulary {vocab}: keystream {mine * 1e3:.1f} ms "
                        f"({t['keystream']['min'] * 1e3:.1f} - {t['keystream']['max'] * 1e3:.1f}), {peer} "
                        f"{t[peer]['median'] * 1e3:.1f} ms ({t[peer]['min'] * 1e3:.1f} - {t[peer]['max'] * 1e3:.1f}): "
                        f"keystream {ratio:.2f}x as fast", vocab=vocab, peer=peer, seconds=t, ratio=ratio)
    report.save(args.json)


if __name__ == "__main__":
    main()
