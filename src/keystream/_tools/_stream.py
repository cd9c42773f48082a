"""``keystream stream``: raw little-endian 32-bit words for external test suites.

Modes (each an infinite stream; ``--bytes N`` stops after N bytes):

* ``base``: the bits stream of ``Generator(seed)``;
* ``fold_in``: ``--children K`` generators ``Generator(seed).fold_in(i)``, interleaved word by word;
* ``spawn``: ``Generator(seed).spawn(K)``, interleaved word by word;
* ``seeds``: ``Generator(seed + i)`` for i < K (consecutive seeds: the weakest keys a user
  picks), interleaved word by word;
* ``uniform24``: the 24 bits under each float32 uniform of ``Generator(seed).rand``
  (``u * 2^24``), packed 3 bytes each, little-endian.

A reader that stops (a closed pipe, ``| head -c 10``) ends the stream quietly with exit
status 0; an output that cannot be written (standard output closed, a full disk) is one
line on stderr and exit status 1.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np
import torch

from .._torch._generator import Generator

__all__ = ["chunks", "run"]

MODES = ("base", "fold_in", "spawn", "seeds", "uniform24")
CHUNK_WORDS = 1 << 22  # 16 MiB per write


def _gens(mode: str, seed: int, k: int) -> list[Generator]:
    if mode == "base" or mode == "uniform24":
        return [Generator(seed)]
    if mode == "fold_in":
        root = Generator(seed)
        return [root.fold_in(i) for i in range(k)]
    if mode == "spawn":
        return Generator(seed).spawn(k)
    if mode == "seeds":
        return [Generator((seed + i) % (1 << 64)) for i in range(k)]
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def chunks(mode: str, seed: int, children: int = 16) -> Iterator[memoryview]:
    """The stream as successive chunks (views of reused buffers: consume before the next)."""
    gens = _gens(mode, seed, children)
    k = len(gens)
    per = max(4, CHUNK_WORDS // k)
    per -= per % 4
    rows = torch.empty(k, per, dtype=torch.int32)
    inter = torch.empty(per, k, dtype=torch.int32)
    if mode == "uniform24":
        u = torch.empty(CHUNK_WORDS)
        packed = np.empty((CHUNK_WORDS, 3), dtype=np.uint8)
    while True:
        if mode == "uniform24":
            gens[0].rand(CHUNK_WORDS, out=u)  # float32, multiples of 2^-24
            v = (u * 2.0**24).to(torch.int32).numpy().view(np.uint8).reshape(-1, 4)
            packed[:] = v[:, :3]  # little-endian: the low 3 bytes hold the 24 bits
            yield packed.data.cast("B")
            continue
        for i, g in enumerate(gens):
            g.bits(per, dtype=torch.int32, out=rows[i])
        if k == 1:
            yield rows.numpy().data.cast("B")
        else:
            torch.stack(list(rows), 1, out=inter)  # word-interleaved: child 0, 1, ..., K-1, child 0, ...
            yield inter.numpy().data.cast("B")


def run(mode: str, seed: int, children: int = 16, nbytes: int | None = None) -> int:
    """Write the stream to stdout; return the exit status.

    A reader that stops (a closed pipe) ends the stream quietly with status 0; an
    output that cannot be written (stdout closed, a full disk) is one line on stderr
    and status 1.
    """
    if sys.stdout is None:  # the process was started with its standard output closed
        print("keystream: cannot write the stream: standard output is closed", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    written = 0
    try:
        for chunk in chunks(mode, seed, children):
            if nbytes is not None and written + chunk.nbytes >= nbytes:
                out.write(chunk[: nbytes - written])
                out.flush()
                return 0
            out.write(chunk)
            written += chunk.nbytes
    except (BrokenPipeError, ConnectionResetError):
        _exit_now(0)
    except OSError as err:
        print(f"keystream: cannot write the stream to standard output: {err.strerror or err}", file=sys.stderr)
        _exit_now(1)
    return 0


def _exit_now(status: int) -> None:
    """End the process without flushing stdout again (its unwritten bytes would only
    raise a second error at exit)."""
    sys.stderr.flush()
    os._exit(status)
