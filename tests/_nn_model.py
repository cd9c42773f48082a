"""A small model with every keyed dropout module, shared by tests/test_nn.py and its workers."""
from __future__ import annotations

import torch

import keystream
import keystream.nn as knn

GLOBAL_BATCH = 12
STEP = 5


class Net(torch.nn.Module):
    def __init__(self, generator: keystream.Generator | None = None) -> None:
        super().__init__()
        g = generator
        # elementwise (a matmul's bits may depend on the batch size; dropout's must not)
        self.proj = torch.nn.Parameter(torch.randn(6, 4))
        self.drop = knn.Dropout(0.3, generator=g)
        self.drop1 = knn.Dropout1d(0.25, generator=g)
        self.drop2 = knn.Dropout2d(0.4, generator=g)
        self.drop3 = knn.Dropout3d(0.5, generator=g)
        self.alpha = knn.AlphaDropout(0.2, generator=g)
        self.falpha = knn.FeatureAlphaDropout(0.3, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop((x.unsqueeze(-1) * self.proj).reshape(-1, 24))  # (N, 24)
        h = self.drop1(h.reshape(-1, 6, 4))  # (N, C=6, L=4)
        h = self.drop2(h.reshape(-1, 6, 2, 2))
        h = self.drop3(h.reshape(-1, 3, 2, 2, 2))
        h = self.alpha(h.reshape(-1, 24))
        return self.falpha(h.reshape(-1, 4, 6))


def inputs() -> torch.Tensor:
    return keystream.randn(GLOBAL_BATCH, 6, generator=keystream.Generator(3))


def model_and_step(x: torch.Tensor, start: int) -> torch.Tensor:
    """The model (weights from a fixed seed, modules named by path) on ``x``, the samples
    ``start ..`` of the global batch, at step STEP; runs backward on the sum of squares."""
    torch.manual_seed(0)
    net = knn.name_modules(Net(keystream.Generator(11)))
    with knn.batch(start, step=STEP):
        y = net(x)
        (y * y).sum().backward()
    return y
