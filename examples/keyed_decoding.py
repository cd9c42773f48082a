"""Keyed sampling in a decoding loop: a request's completion is the same alone and in any batch.

    python examples/keyed_decoding.py

A tiny language model is made here (random weights, no download). Each request has its own
seed; at step t its row of the batch is sampled with the key of (seed, sample 0, step t), so
the tokens of a request do not depend on the other requests, their number, its position in
the batch or the engine.
"""
from __future__ import annotations

import torch

import keystream as ks
from keystream import sampling


class TinyLM(torch.nn.Module):
    """An embedding, one GRU layer and a projection: next-token logits for each prefix."""

    def __init__(self, vocab: int = 200, width: int = 32) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, width)
        self.rnn = torch.nn.GRU(width, width, batch_first=True)
        self.head = torch.nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out[:, -1])


def decode(model: TinyLM, prompts: list[list[int]], seeds: list[int], steps: int = 12) -> list[list[int]]:
    """Sample ``steps`` tokens for every request of the batch (prompts of one length)."""
    tokens = torch.tensor(prompts)
    for step in range(steps):
        with torch.no_grad():
            logits = model(tokens)
        keys = sampling.request_keys(seeds, step)
        nxt = sampling.sample(logits, keys, temperature=0.9, top_p=0.95, top_k=50)
        tokens = torch.cat([tokens, nxt.unsqueeze(1)], 1)
    return tokens[:, len(prompts[0]):].tolist()


def main() -> None:
    with ks.torch_random(ks.Generator(0)):  # the model's weights, reproducibly
        model = TinyLM().eval()
    prompt, seed = [5, 17, 42], 1234
    alone = decode(model, [prompt], [seed])[0]
    others = [[1, 2, 3], [9, 9, 9], [100, 7, 3], [4, 4, 8]]
    for position in range(len(others) + 1):
        batch = others[:position] + [prompt] + others[position:]
        seeds = list(range(position)) + [seed] + list(range(position, len(others)))
        for engine in [e for e in ("cpu", "portable") if e in ks.available_engines()]:
            with ks.use_engine(engine):
                got = decode(model, batch, seeds)[position]
            assert got == alone, (position, engine)
    print("completion:", alone, "- the same alone, at every position of a batch of 5, on every engine")


if __name__ == "__main__":
    main()
