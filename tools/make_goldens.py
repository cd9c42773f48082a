"""Regenerate the goldens: a few exact values and the SHA-256 of every public draw, for
each stream version (tests/goldens.json: version 1; tests/goldens_v2.json: version 2).

    python tools/make_goldens.py            # print version 2's goldens as JSON
    python tools/make_goldens.py --write    # overwrite both files

A golden is the promise that a released stream never changes: only write new goldens
for a *new* draw, never to make a changed draw pass (a changed definition is a new stream
version).  tests/test_goldens.py checks that this script reproduces the committed files.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import torch

import keystream as ks
from keystream._tools._conformance import PUBLIC_DRAWS

SEED = 20261127
TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"
#: The goldens of each stream version.
PATHS = {1: TESTS / "goldens.json", 2: TESTS / "goldens_v2.json"}


def _bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous().cpu()
    if t.is_complex():  # the parts, real then imaginary
        t = torch.view_as_real(t)
    ints = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.view(ints).numpy().astype(f"<i{t.element_size()}").tobytes()  # little-endian


def golden(name: str, engine: str = "reference", version: int = ks.STREAM_VERSION) -> dict[str, object]:
    g = ks.Generator(SEED, stream_version=version).fold_in(name)
    with ks.use_engine(engine):
        t = PUBLIC_DRAWS[name](g)
    raw = _bytes(t)
    size = t.element_size()
    first = [raw[i * size : (i + 1) * size][::-1].hex() for i in range(4)]  # big-endian hex of the bits
    return {"n": t.numel(), "dtype": str(t.dtype), "first_bits": first, "sha256": hashlib.sha256(raw).hexdigest()}


def make(version: int = ks.STREAM_VERSION) -> dict[str, object]:
    return {"stream_version": version, "seed": SEED,
            "draws": {n: golden(n, version=version) for n in sorted(PUBLIC_DRAWS)}}


def text(version: int) -> str:
    return json.dumps(make(version), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    if "--write" in sys.argv:
        for v, path in PATHS.items():
            path.write_text(text(v))
    else:
        sys.stdout.write(text(ks.STREAM_VERSION))
