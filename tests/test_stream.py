"""`keystream stream`: raw words for external test suites."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

import keystream as ks


def stream(*args: str) -> bytes:
    return subprocess.run([sys.executable, "-m", "keystream", "stream", *args], capture_output=True, check=True,
                          timeout=120).stdout


def test_base_stream_is_the_bits_draw():
    raw = stream("base", "--seed", "7", "--bytes", "4000")
    assert len(raw) == 4000
    words = np.frombuffer(raw, dtype="<u4")
    assert np.array_equal(words, ks.Generator(7).bits(1000).view(torch.int32).numpy().view(np.uint32))


def test_children_interleaved_word_by_word():
    raw = np.frombuffer(stream("fold_in", "--seed", "3", "--children", "4", "--bytes", "64"), dtype="<u4")
    root = ks.Generator(3)
    for i in range(4):
        assert np.array_equal(raw[i::4], root.fold_in(i).bits(4).view(torch.int32).numpy().view(np.uint32))
    raw = np.frombuffer(stream("seeds", "--seed", "10", "--children", "3", "--bytes", "48"), dtype="<u4")
    assert np.array_equal(raw[1::3], ks.Generator(11).bits(4).view(torch.int32).numpy().view(np.uint32))
    raw = np.frombuffer(stream("spawn", "--seed", "5", "--children", "2", "--bytes", "32"), dtype="<u4")
    assert np.array_equal(raw[1::2], ks.Generator(5).spawn(2)[1].bits(4).view(torch.int32).numpy().view(np.uint32))


def test_uniform24_packs_the_float_bits():
    raw = np.frombuffer(stream("uniform24", "--seed", "2", "--bytes", "30"), dtype=np.uint8).reshape(-1, 3)
    values = raw[:, 0].astype(np.int64) | (raw[:, 1].astype(np.int64) << 8) | (raw[:, 2].astype(np.int64) << 16)
    assert np.array_equal(values, (ks.Generator(2).rand(10).double() * 2**24).long().numpy())


def test_closed_pipe_ends_quietly():
    p = subprocess.Popen([sys.executable, "-m", "keystream", "stream"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(1 << 16)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0 and "Traceback" not in err
