"""A tiny CPU training loop that checkpoints mid-epoch and resumes exactly.

    python examples/elastic_training.py

Run A trains 2 epochs straight through.  Run B trains until a step in the middle of
epoch 0, saves a checkpoint (model, optimizer, sampler position, generator state),
and a fresh process-like restart continues from it.  Both end with bitwise identical
weights: the data order, the per-sample augmentation and the dropout masks are pure
functions of (seed, epoch, sample index, step), whatever num_workers is.

With torch.distributed, the same checkpoint resumes at another world size: every rank
builds ``ShuffleSampler(ds, batch_size=GLOBAL_BATCH)`` (world size and rank come from
torch.distributed) and loads the same sampler state.
"""
from __future__ import annotations

import io

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import keystream as ks
from keystream.data import PerSampleDataset, ShuffleSampler

SEED = 1234
GLOBAL_BATCH = 8


class Points(Dataset):
    """y = sum(x) + noise, 64 fixed samples (made with keystream, so fixed everywhere)."""

    def __init__(self) -> None:
        g = ks.Generator(SEED).fold_in("dataset")
        self.x = g.randn(64, 4)
        self.y = self.x.sum(1, keepdim=True) + 0.1 * g.randn(64, 1)

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def jitter(sample, g: ks.Generator):
    x, y = sample
    return x + 0.01 * g.randn(4), y  # per-sample augmentation from the sample's own generator


def make(num_workers: int):
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    init = ks.Generator(SEED).fold_in("init")
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(init.fold_in(name).normal(0.0, 0.3, tuple(p.shape)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    ds = PerSampleDataset(Points(), SEED, jitter)
    sampler = ShuffleSampler(ds, batch_size=GLOBAL_BATCH, seed=SEED)
    loader = DataLoader(ds, batch_size=GLOBAL_BATCH, sampler=sampler, num_workers=num_workers)
    return model, opt, ds, sampler, loader


def train(epochs: int, num_workers: int = 0, stop_at: tuple[int, int] | None = None, checkpoint: bytes | None = None):
    """Train; optionally stop at (epoch, step) and return a checkpoint, or resume from one."""
    model, opt, ds, sampler, loader = make(num_workers)
    dropout_g = ks.Generator(SEED).fold_in("dropout")
    start_epoch, start_step = 0, 0
    if checkpoint is not None:
        state = torch.load(io.BytesIO(checkpoint), weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sampler.load_state_dict(state["sampler"])
        start_epoch, start_step = state["sampler"]["epoch"], state["sampler"]["position"] // GLOBAL_BATCH
    for epoch in range(start_epoch, epochs):
        if epoch != start_epoch or checkpoint is None:
            sampler.set_epoch(epoch)
        ds.set_epoch(epoch)
        for step, (x, y) in enumerate(loader, start=start_step if epoch == start_epoch else 0):
            if stop_at == (epoch, step):
                buf = io.BytesIO()
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                            "sampler": sampler.state_dict(
                                steps_done=step - (start_step if epoch == start_epoch else 0))},
                           buf)
                return model, buf.getvalue()
            # dropout mask: a pure function of (epoch, step) via fold_in, no hidden RNG state
            mask = dropout_g.fold_in(epoch).fold_in(step).bernoulli(0.9, (x.shape[0], 1))
            loss = (((model(x) - y) ** 2) * mask).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model, None


def main(num_workers: int = 0) -> bool:
    full, _ = train(2, num_workers)
    _, ckpt = train(2, num_workers, stop_at=(0, 3))
    resumed, _ = train(2, num_workers=1 - min(num_workers, 1), checkpoint=ckpt)  # another num_workers too
    same = all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), resumed.state_dict().values()))
    print("resumed run equals the uninterrupted run bit for bit:", same)
    return same


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
