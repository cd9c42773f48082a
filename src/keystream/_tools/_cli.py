"""The ``keystream`` command line: ``selftest``, ``mc`` and ``stream``.

Bad arguments are argparse usage errors (one line on stderr, exit status 2, no
traceback); an output that cannot be written (closed, or a full disk) is one line on
stderr and exit status 1; a reader that stops early (``| head -c 10``) ends the
stream quietly with exit status 0.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .._version import __version__

__all__ = ["main"]

_STREAM_MODES = {
    "base": "the bits stream of Generator(seed)",
    "fold_in": "Generator(seed).fold_in(i) for i < children, interleaved word by word",
    "spawn": "Generator(seed).spawn(children), interleaved word by word",
    "seeds": "Generator(seed + i) for i < children (consecutive seeds), interleaved word by word",
    "uniform24": "the 24 bits under each float32 uniform of Generator(seed).rand, 3 bytes each",
}


def _int_arg(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an int in [minimum, maximum] (an ArgumentTypeError otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    return parse


def _device_arg(text: str) -> str:
    """An argparse type: a torch device this torch and this machine can use."""
    from .._torch._devices import usable_device

    try:
        usable_device(text, "--device")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit status 2) that point at ``--help``."""

    def error(self, message: str) -> Any:  # argparse's signature returns NoReturn
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: Seeds as the Generator takes them: [-2^63, 2^64).
_SEED = _int_arg(-(1 << 63), (1 << 64) - 1)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="keystream", description="Reproducible random numbers for PyTorch: the same bits everywhere.")
    parser.add_argument("--version", action="version", version=f"keystream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("selftest", help="run the known answers and check every engine against the reference",
                   description="Check the Philox known-answer vectors, then every available engine "
                               "against the reference engine, bit for bit; exit status 1 on a mismatch.")
    mc = sub.add_parser("mc", help="Monte Carlo examples: the same bits for any chunking, process count or device",
                        description="Run a built-in Monte Carlo example and print the estimate, its exact "
                                    "bits and, where known, its error against the true value.")
    mc.add_argument("example", choices=["pi", "european-call", "asian-call", "integral"],
                    help="pi: pi from the quarter disc; european-call: a European call (Black-Scholes "
                         "known); asian-call: an arithmetic Asian call, 16 dates; integral: Genz's product "
                         "peak on [0,1]^6")
    mc.add_argument("--samples", type=_int_arg(1), default=10_000_000, help="number of samples (default 10^7)")
    mc.add_argument("--seed", type=_SEED, default=0, help="the seed, in [-2^63, 2^64) (default 0)")
    mc.add_argument("--device", type=_device_arg, default=None, help="where to draw, e.g. cpu or cuda (default cpu)")
    mc.add_argument("--chunk-size", type=_int_arg(1), default=None,
                    help="samples per chunk; never changes the result (default: 2^20 on the CPU, 2^22 on a GPU)")
    mc.add_argument("--antithetic", action="store_true", help="average each sample with its antithetic twin")
    mc.add_argument("--plot", metavar="PNG", help="write a convergence plot (needs matplotlib)")
    modes = "; ".join(f"{k}: {v}" for k, v in _STREAM_MODES.items())
    st = sub.add_parser("stream", help="raw little-endian 32-bit words to stdout (for dieharder, PractRand)",
                        description=f"Write an endless stream of raw words to stdout. Modes: {modes}.")
    st.add_argument("mode", nargs="?", default="base", choices=list(_STREAM_MODES),
                    help="which stream (default base)")
    st.add_argument("--seed", type=_SEED, default=0, help="the seed, in [-2^63, 2^64) (default 0)")
    st.add_argument("--children", type=_int_arg(1, 1 << 20), default=16,
                    help="streams interleaved word by word in fold_in, spawn and seeds (default 16)")
    st.add_argument("--bytes", type=_int_arg(0), default=None, dest="nbytes",
                    help="stop after this many bytes (default: never)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "stream":
        from ._stream import run as stream

        return stream(args.mode, args.seed, args.children, args.nbytes)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if sys.stdout is None:  # started with its standard output closed
        print(f"keystream {args.command}: cannot write the results: standard output is closed", file=sys.stderr)
        return 1
    try:
        if args.command == "selftest":
            from ._selftest import run

            status = 1 if run() else 0
        else:
            status = _mc(args)
        if sys.stdout is not None:
            sys.stdout.flush()  # a full disk shows here, not at exit
    except BrokenPipeError:  # the reader stopped: nothing more to say
        _quiet_stdout()
        return 0
    except OSError as err:
        if not _is_stdout_error(err):
            raise
        _quiet_stdout()
        print(f"keystream: cannot write to standard output: {err.strerror or err}", file=sys.stderr)
        return 1
    return status


def _is_stdout_error(err: OSError) -> bool:
    return err.filename is None and err.errno is not None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the flush at exit does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def _mc(args: argparse.Namespace) -> int:
    from ..montecarlo import EXAMPLES

    ex = EXAMPLES[args.example]
    if args.plot and _pyplot() is None:  # (checked before the run, which may be long)
        print("keystream: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
        return 1
    est = ex.run(args.samples, args.seed, args.device, chunk_size=args.chunk_size, antithetic=args.antithetic)
    print(f"{ex.what}: {est}")
    print(f"mean (exact bits): {est.mean.hex()}")
    if ex.truth is not None:
        err = est.mean - ex.truth
        sigmas = err / est.stderr if est.stderr else 0
        print(f"true value {ex.truth:.10g}; error {err:+.3g} = {sigmas:+.2f} standard errors")
    if args.plot:
        return _plot(ex, args)
    return 0


def _pyplot() -> Any:
    """matplotlib's pyplot (the Agg backend), or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _plot(ex: Any, args: argparse.Namespace) -> int:
    plt = _pyplot()
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
