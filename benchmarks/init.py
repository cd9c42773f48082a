"""Initialisation benchmark: keystream.init.init_module against torch's reset_parameters.

    python benchmarks/init.py [--layers 8] [--width 1024] [--json init.json]

A ~100 M parameter stack of transformer encoder layers on this CPU: time of torch's own
initialisation path (every module's reset_parameters, torch's CPU generator) and of
keystream's init_module, medians of 3, plus a bitwise check in the same run
(init_module twice and materialize from the meta device must agree).
"""
from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from _timing import Report, median_time
from keystream import init


def model(layers: int, width: int) -> nn.Module:
    return nn.Sequential(*[nn.TransformerEncoderLayer(width, 16, 4 * width, dropout=0.0) for _ in range(layers)])


def torch_reset(m: nn.Module) -> None:
    for mod in m.modules():
        if hasattr(mod, "_reset_parameters"):
            mod._reset_parameters()
        elif hasattr(mod, "reset_parameters"):
            mod.reset_parameters()


def timed(fn, reps: int = 3) -> float:
    return median_time(fn, reps)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--json", default=None, help="also write the numbers as JSON")
    args = ap.parse_args()
    report = Report("init")
    m = model(args.layers, args.width)
    n = sum(p.numel() for p in m.parameters())
    # interleaved: torch, keystream, torch, ... (a shared machine drifts)
    t_torch_all, t_ks_all = [], []
    for _ in range(3):
        t_torch_all.append(timed(lambda: torch_reset(m), 1))
        t_ks_all.append(timed(lambda: init.init_module(m, 1234), 1))
    t_torch, t_ks = statistics.median(t_torch_all), statistics.median(t_ks_all)
    a = {k: v.clone() for k, v in init.init_module(m, 1234).state_dict().items()}
    with torch.device("meta"):
        meta = model(args.layers, args.width)
    b = init.materialize(meta, 1234, "cpu").state_dict()
    same = all(torch.equal(a[k], b[k]) for k in a)
    report.line(f"{n / 1e6:.1f} M parameters, torch {torch.__version__}, {torch.get_num_threads()} threads",
                parameters=n)
    report.line(f"torch reset_parameters: {t_torch:.3f} s ({n / t_torch / 1e9:.2f} G params/s; "
                f"3 runs {min(t_torch_all):.3f}-{max(t_torch_all):.3f})", seconds=t_torch_all)
    report.line(f"keystream init_module:  {t_ks:.3f} s ({n / t_ks / 1e9:.2f} G params/s; "
                f"3 runs {min(t_ks_all):.3f}-{max(t_ks_all):.3f}), {t_torch / t_ks:.2f}x torch", seconds=t_ks_all)
    report.line(f"bitwise: init_module == materialize(meta): {same}", bitwise=same)
    report.save(args.json)


if __name__ == "__main__":
    main()
