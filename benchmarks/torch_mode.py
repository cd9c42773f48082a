"""The cost of keystream.torch_random for unmodified torch code, against the same code without it.

    python benchmarks/torch_mode.py [--reps 5] [--json docs/benchmarks/torch_mode.json]

1. Building a ~100 M parameter model (8 transformer encoder layers of width 1024, torch's
   own constructors and initialisers) with and without the mode.
2. One training step with dropout (a 4-layer encoder of width 512, dropout 0.1, batch 16 x
   64 tokens: forward, backward, SGD step) with and without the mode.
3. Launch-bound steps, where per-call overhead shows, without and under ``patch_torch``
   (patched between blocks of 100 steps): a 4-layer MLP (width 64, batch 8) with and without
   dropout 0.1, and a small convolutional net (3 convolutions with batch norm, batch 8 of 3 x
   32 x 32) with dropout 0.1.
All in one process, timed in turns (interleaved), medians with min - max.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import keystream as ks
from _timing import Report, interleaved_stats


def build(layers: int = 8, width: int = 1024) -> nn.Module:
    return nn.Sequential(*[nn.TransformerEncoderLayer(width, 16, 4 * width, dropout=0.1, batch_first=True)
                           for _ in range(layers)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    report = Report("torch_random")
    g = ks.Generator(0)

    def in_mode(fn):  # type: ignore[no-untyped-def]
        def run():  # type: ignore[no-untyped-def]
            with ks.torch_random(g):
                return fn()
        return run

    params = sum(p.numel() for p in build().parameters())
    t = interleaved_stats({"torch": build, "torch_random": in_mode(build)}, args.reps)
    ratio = t["torch_random"]["median"] / t["torch"]["median"]
    report.line(f"build {params / 1e6:.1f} M parameters: torch {t['torch']['median']:.3f} s "
                f"({t['torch']['min']:.3f} - {t['torch']['max']:.3f}), under torch_random "
                f"{t['torch_random']['median']:.3f} s ({t['torch_random']['min']:.3f} - "
                f"{t['torch_random']['max']:.3f}): "
                f"{ratio:.2f}x the time", what="build", params=params, seconds=t, ratio=ratio)

    torch.manual_seed(0)
    model = build(4, 512)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(16, 64, 512)

    def step():  # type: ignore[no-untyped-def]
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()
        return loss

    t = interleaved_stats({"torch": step, "torch_random": in_mode(step)}, 3 * args.reps)
    ratio = t["torch_random"]["median"] / t["torch"]["median"]
    report.line(f"training step with dropout (4 x 512, batch 16 x 64): torch {t['torch']['median'] * 1e3:.1f} ms "
                f"({t['torch']['min'] * 1e3:.1f} - {t['torch']['max'] * 1e3:.1f}), under torch_random "
                f"{t['torch_random']['median'] * 1e3:.1f} ms ({t['torch_random']['min'] * 1e3:.1f} - "
                f"{t['torch_random']['max'] * 1e3:.1f}): {ratio:.2f}x the time", what="step", seconds=t, ratio=ratio)
    for name, net, shape in _small_models():
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        xs = torch.randn(*shape)

        def small_step(net=net, opt=opt, xs=xs):  # type: ignore[no-untyped-def]
            opt.zero_grad()
            loss = net(xs).square().mean()
            loss.backward()
            opt.step()
            return loss

        t = _patched_blocks(small_step, 100, 7 * args.reps)
        ratio = t["patch_torch"]["median"] / t["torch"]["median"]
        report.line(f"{name}: torch {t['torch']['median'] * 1e6:.0f} us ({t['torch']['min'] * 1e6:.0f} - "
                    f"{t['torch']['max'] * 1e6:.0f}), under patch_torch {t['patch_torch']['median'] * 1e6:.0f} us "
                    f"({t['patch_torch']['min'] * 1e6:.0f} - {t['patch_torch']['max'] * 1e6:.0f}): "
                    f"{ratio:.2f}x the time", what="small step", model=name, seconds=t, ratio=ratio)
    report.save(args.json)


def _patched_blocks(step: Callable[[], object], steps: int, reps: int) -> dict[str, dict[str, float]]:
    """Seconds a step takes without and under patch_torch (process-wide: patched between the
    timings, not inside them), each the mean of a block of ``steps``, blocks in turns."""
    times: dict[str, list[float]] = {"torch": [], "patch_torch": []}
    for _ in range(reps):
        for name in times:
            if name == "patch_torch":
                ks.patch_torch(0)
            try:
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                times[name].append((time.perf_counter() - start) / steps)
            finally:
                ks.unpatch_torch()
    return {name: {"median": statistics.median(v), "min": min(v), "max": max(v)} for name, v in times.items()}


def _small_models() -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    def mlp(p: float) -> nn.Module:
        layers: list[nn.Module] = []
        for _ in range(4):
            layers += [nn.Linear(64, 64), nn.ReLU()] + ([nn.Dropout(p)] if p else [])
        return nn.Sequential(*layers)

    conv = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(32, 10))
    return [("MLP step (4 x 64, batch 8), no dropout", mlp(0.0), (8, 64)),
            ("MLP step (4 x 64, batch 8), dropout 0.1", mlp(0.1), (8, 64)),
            ("conv step (3 convolutions, batch 8 x 3 x 32 x 32), dropout 0.1", conv, (8, 3, 32, 32))]


if __name__ == "__main__":
    main()
