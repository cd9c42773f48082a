"""The ``keystream`` command line."""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keystream", description="Reproducible random numbers for PyTorch.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("selftest", help="run the known answers and check every engine on every device")
    args = parser.parse_args(argv)
    if args.command == "selftest":
        from ._selftest import run

        return 1 if run() else 0
    parser.print_help(sys.stderr)
    return 2
