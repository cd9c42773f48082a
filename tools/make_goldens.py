"""Regenerate tests/goldens.json: a few exact values and the SHA-256 of every public draw.

    python tools/make_goldens.py            # print the goldens as JSON
    python tools/make_goldens.py --write    # overwrite tests/goldens.json

A golden is the promise that stream version 1 never changes: only write new
goldens for a *new* draw, never to make a changed draw pass.
tests/test_goldens.py checks that this script reproduces the committed file.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import torch

import keystream as ks
from keystream._conformance import PUBLIC_DRAWS

SEED = 20261127
PATH = pathlib.Path(__file__).resolve().parent.parent / "tests" / "goldens.json"


def _bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous().cpu()
    ints = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.view(ints).numpy().astype(f"<i{t.element_size()}").tobytes()  # little-endian


def golden(name: str, engine: str = "reference") -> dict[str, object]:
    g = ks.Generator(SEED).fold_in(name)
    with ks.use_engine(engine):
        t = PUBLIC_DRAWS[name](g)
    raw = _bytes(t)
    size = t.element_size()
    first = [raw[i * size : (i + 1) * size][::-1].hex() for i in range(4)]  # big-endian hex of the bits
    return {"n": t.numel(), "dtype": str(t.dtype), "first_bits": first, "sha256": hashlib.sha256(raw).hexdigest()}


def make() -> dict[str, object]:
    return {"stream_version": ks.STREAM_VERSION, "seed": SEED, "draws": {n: golden(n) for n in sorted(PUBLIC_DRAWS)}}


if __name__ == "__main__":
    text = json.dumps(make(), indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        PATH.write_text(text)
    else:
        sys.stdout.write(text)
