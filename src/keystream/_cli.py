"""The ``keystream`` command line."""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keystream", description="Reproducible random numbers for PyTorch.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("selftest", help="run the known answers and check every engine on every device")
    mc = sub.add_parser("mc", help="Monte Carlo examples: the same bits for any chunking, process count or device")
    mc.add_argument("example", choices=["pi", "european-call", "asian-call", "integral"])
    mc.add_argument("--samples", type=int, default=10_000_000)
    mc.add_argument("--seed", type=int, default=0)
    mc.add_argument("--device", default=None)
    mc.add_argument("--chunk-size", type=int, default=None, help="default: 2^20 on the CPU, 2^22 on a GPU")
    mc.add_argument("--antithetic", action="store_true")
    mc.add_argument("--plot", metavar="PNG", help="write a convergence plot (needs matplotlib)")
    st = sub.add_parser("stream", help="raw little-endian 32-bit words to stdout (for dieharder, PractRand)")
    st.add_argument("mode", nargs="?", default="base", choices=["base", "fold_in", "spawn", "seeds", "uniform24"])
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--children", type=int, default=16, help="streams interleaved word by word (fold_in, spawn, seeds)")
    st.add_argument("--bytes", type=int, default=None, dest="nbytes", help="stop after this many bytes")
    args = parser.parse_args(argv)
    if args.command == "stream":
        from ._stream import run as stream

        return stream(args.mode, args.seed, args.children, args.nbytes)
    if args.command == "selftest":
        from ._selftest import run

        return 1 if run() else 0
    if args.command == "mc":
        return _mc(args)
    parser.print_help(sys.stderr)
    return 2


def _mc(args: argparse.Namespace) -> int:
    from .montecarlo import EXAMPLES

    ex = EXAMPLES[args.example]
    est = ex.run(args.samples, args.seed, args.device, chunk_size=args.chunk_size, antithetic=args.antithetic)
    print(f"{ex.what}: {est}")
    print(f"mean (exact bits): {est.mean.hex()}")
    if ex.truth is not None:
        err = est.mean - ex.truth
        print(f"true value {ex.truth:.10g}; error {err:+.3g} = {err / est.stderr if est.stderr else 0:+.2f} standard errors")
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("--plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 1
        ns = [max(1000, args.samples // 2**k) for k in range(10, -1, -1)]
        runs = [ex.run(n, args.seed, args.device, chunk_size=args.chunk_size) for n in ns]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.errorbar(ns, [r.mean for r in runs], yerr=[r.stderr * 1.96 for r in runs], fmt="o-", capsize=3)
        if ex.truth is not None:
            ax.axhline(ex.truth, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("samples")
        ax.set_ylabel("estimate (95% CI)")
        ax.set_title(ex.what)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0
