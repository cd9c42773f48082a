"""keystream.sampling: a row's token depends on its logits, key and parameters alone."""
from __future__ import annotations

import math

import pytest
import torch

import keystream as ks
from keystream import sampling
from keystream._engines import use_engine
from keystream.sampling import _sample
from test_stats import chi2, chi2_critical

ENGINES = [e for e in ("portable", "cpu") if e in ks.available_engines()]
PARAMS = [{}, {"temperature": 0.7}, {"top_k": 5}, {"top_p": 0.8}, {"min_p": 0.2, "temperature": 1.3},
          {"temperature": 0.9, "top_k": 20, "top_p": 0.9, "min_p": 0.01}, {"temperature": 0.0}]


def _logits(rows: int, vocab: int, seed: int = 0) -> torch.Tensor:
    x = torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * 2.5
    x[:, ::7] = x[:, ::7].round()  # equal logits: ties broken by token id
    return x


@pytest.mark.parametrize("params", PARAMS, ids=[",".join(p) or "plain" for p in PARAMS])
def test_a_row_alone_equals_the_row_in_any_batch_on_every_engine(params):
    logits, keys = _logits(64, 301), sampling.request_keys(range(64), 3)
    alone = {}
    for engine in ENGINES:
        with use_engine(engine):
            alone[engine] = torch.stack([sampling.sample(logits[r:r + 1], keys[r:r + 1], **params)[0]
                                         for r in range(64)])
            for size in range(1, 65):  # batches of 1 to 64 rows, each row at many positions
                rows = (torch.arange(size) + 5 * size) % 64
                where = (3 * size) % (size + 1)  # a padding row anywhere in the batch, and two after it
                batch = torch.cat([logits[rows[:where]], torch.full((1, 301), -1.0), logits[rows[where:]],
                                   torch.zeros(2, 301)])
                bkeys = torch.cat([keys[rows[:where]], torch.zeros(1, 2, dtype=torch.int64), keys[rows[where:]],
                                   torch.ones(2, 2, dtype=torch.int64)])
                got = sampling.sample(batch, bkeys, **params)
                got = torch.cat([got[:where], got[where + 1:-2]])
                assert torch.equal(got, alone[engine][rows]), (engine, size)
            perm = torch.randperm(64, generator=torch.Generator().manual_seed(1))
            assert torch.equal(sampling.sample(logits[perm], keys[perm], **params), alone[engine][perm])
    first = next(iter(alone.values()))
    assert all(torch.equal(v, first) for v in alone.values())


def test_per_row_parameters_equal_one_row_at_a_time():
    logits, keys = _logits(6, 50), sampling.request_keys(7, range(6))
    temp = torch.tensor([0.0, 0.5, 1.0, 2.0, 1.0, 0.8])
    top_k = torch.tensor([0, 3, 10, 0, 1, 50])
    top_p = torch.tensor([1.0, 0.9, 0.5, 0.99, 1.0, 0.3])
    for engine in ENGINES:
        with use_engine(engine):
            got = sampling.sample(logits, keys, temperature=temp, top_k=top_k, top_p=top_p)
            for r in range(6):
                one = sampling.sample(logits[r:r + 1], keys[r:r + 1], temperature=float(temp[r]),
                                      top_k=int(top_k[r]), top_p=float(top_p[r]))
                assert int(got[r]) == int(one[0])
    assert int(got[0]) == int(torch.argmax(logits[0]))  # temperature 0 is greedy


def _frequencies(logits_row, n, **params):
    keys = sampling.request_keys(11, 0, range(n))  # n samples of one request: one key each
    tokens = sampling.sample(logits_row.expand(n, -1).contiguous(), keys, **params)
    return torch.bincount(tokens, minlength=logits_row.numel()).double()


@pytest.mark.parametrize("params", [{"temperature": 0.8}, {"top_k": 4}, {"top_p": 0.7}, {"min_p": 0.15},
                                    {"temperature": 1.5, "top_k": 6, "top_p": 0.9}])
def test_frequencies_are_the_truncated_softmax(params):
    """chi-square over the kept tokens against softmax(logits / t) renormalised over the kept
    set of transformers' definitions (failure probability about 1e-6 per case)."""
    row = torch.tensor([2.0, 1.0, 0.5, 0.0, -0.3, -1.0, -2.0, 1.5, 0.2, -0.7])
    n = 200_000
    counts = _frequencies(row, n, **params)
    p = torch.softmax(row.double() / params.get("temperature", 1.0), 0)
    keep = _reference_kept(row, **params)
    assert counts[~keep].sum() == 0
    expected = n * p[keep] / p[keep].sum()
    assert chi2(counts[keep], expected) < chi2_critical(int(keep.sum()) - 1)


def _reference_kept(row, temperature=1.0, top_k=None, top_p=None, min_p=None):
    """The kept tokens by transformers' logits processors (temperature, top-k, top-p, min-p
    in that order), or by the plain definitions where transformers is not installed."""
    scores = (row / temperature).unsqueeze(0)
    try:
        from transformers import MinPLogitsWarper, TopKLogitsWarper, TopPLogitsWarper
    except ImportError:  # pragma: no cover
        pytest.skip("transformers is not installed")
    ids = torch.zeros(1, 1, dtype=torch.int64)
    if top_k:
        scores = TopKLogitsWarper(top_k)(ids, scores)
    if top_p is not None and top_p < 1:
        scores = TopPLogitsWarper(top_p)(ids, scores)
    if min_p:
        scores = MinPLogitsWarper(min_p)(ids, scores)
    return (scores[0] > -math.inf)


def test_kept_sets_equal_transformers_logits_processors():
    gen = torch.Generator().manual_seed(4)
    for _ in range(200):
        row = torch.randn(40, generator=gen) * 3  # no ties: transformers breaks them arbitrarily
        params = {"temperature": float(torch.rand((), generator=gen)) * 2 + 0.1,
                  "top_k": int(torch.randint(1, 40, (), generator=gen)),
                  "top_p": float(torch.rand((), generator=gen)) * 0.99 + 0.01,
                  "min_p": float(torch.rand((), generator=gen)) * 0.3}
        for drop in ("top_k", "top_p", "min_p", None):
            p = {k: v for k, v in params.items() if k != drop}
            _, _, keep = _sample._kept(row.unsqueeze(0), torch.tensor([p["temperature"]], dtype=torch.float64),
                                       *(torch.tensor([p[k]], dtype=torch.int64 if k == "top_k" else torch.float64)
                                         if k in p else None for k in ("top_k", "top_p", "min_p")))
            assert torch.equal(keep[0], _reference_kept(row, **p)), p


def test_samples_of_one_request_differ_and_a_key_repeats_its_token():
    row = torch.zeros(1, 1000)
    a = sampling.sample(row.expand(8, -1), sampling.request_keys(5, 0, range(8)))
    assert len(set(a.tolist())) > 4  # n > 1 samples of one prompt are not copies
    b = sampling.sample(row, sampling.request_keys(5, 0, 3))
    assert int(b[0]) == int(a[3])
    g = ks.Generator(5).fold_in(3).fold_in(0)
    assert tuple(sampling.request_keys(5, 0, 3)[0].tolist()) == g._key


BAD = [
    ("nan logits", lambda k: sampling.sample(torch.tensor([[0.0, math.nan]]), k), ValueError, "NaN"),
    ("+inf logits", lambda k: sampling.sample(torch.tensor([[0.0, math.inf]]), k), ValueError, "inf"),
    ("all -inf", lambda k: sampling.sample(torch.full((1, 3), -math.inf), k), ValueError, "all -inf"),
    ("top_p 0", lambda k: sampling.sample(torch.zeros(1, 3), k, top_p=0.0), ValueError, "top_p"),
    ("top_p > 1", lambda k: sampling.sample(torch.zeros(1, 3), k, top_p=1.5), ValueError, "top_p"),
    ("top_k < 0", lambda k: sampling.sample(torch.zeros(1, 3), k, top_k=-1), ValueError, "top_k"),
    ("temperature < 0", lambda k: sampling.sample(torch.zeros(1, 3), k, temperature=-0.5), ValueError,
     "temperature"),
    ("min_p > 1", lambda k: sampling.sample(torch.zeros(1, 3), k, min_p=2.0), ValueError, "min_p"),
    ("keys shape", lambda k: sampling.sample(torch.zeros(1, 3), k[:, :1]), ValueError, "keys"),
    ("keys dtype", lambda k: sampling.sample(torch.zeros(1, 3), k.double()), ValueError, "keys"),
    ("keys range", lambda k: sampling.sample(torch.zeros(1, 3), k - 2**40), ValueError, "keys"),
    ("logits 1-d", lambda k: sampling.sample(torch.zeros(3), k), TypeError, "logits"),
    ("per-row length", lambda k: sampling.sample(torch.zeros(1, 3), k, temperature=[1.0, 2.0]), ValueError,
     "temperature"),
]


@pytest.mark.parametrize("name,call,exc,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_raise_clear_errors(name, call, exc, fragment):
    with pytest.raises(exc, match=fragment):
        call(sampling.request_keys(1, 0))


def test_the_decoding_example_runs():
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "keyed_decoding.py"
    runpy.run_path(str(path), run_name="__main__")


def test_int32_keys_empty_batches_and_probabilities():
    keys = sampling.request_keys([1, 2], 0)
    x = _logits(2, 30)
    assert torch.equal(sampling.sample(x, keys.to(torch.int32)), sampling.sample(x, keys))  # bit patterns
    assert sampling.sample(torch.zeros(0, 5), torch.zeros(0, 2, dtype=torch.int64)).shape == (0,)
    probs = torch.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    got = sampling.sample_probs(probs, keys)
    assert int(got[0]) in (1, 2) and int(got[1]) == 0
    with pytest.raises(ValueError, match="one value or 3 values"):
        sampling.request_keys([1, 2, 3], [0, 1])
