"""A dataset for DataLoader-worker tests, in a module of its own so that spawned workers
can import it."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

import keystream as ks


class DefaultGeneratorDraws(Dataset):
    """Item i: a draw from keystream's default generator (no generator passed)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        return ks.rand(2, dtype=torch.float64)


def seed_keystream(worker_id: int) -> None:
    """A worker_init_fn that seeds keystream itself."""
    ks.manual_seed(1000 + worker_id)


def add_torch_rand(x: float, generator: ks.Generator) -> float:
    """An unmodified transform: it calls torch's random functions, not keystream's."""
    return x + torch.rand(()).item() + float(torch.randint(0, 100, ()).item())


class TorchRandDraws(Dataset):
    """Item i: torch.rand(2), unmodified torch code (no keystream in the dataset)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.rand(2, dtype=torch.float64)


class GlobalDraws(Dataset):
    """Each sample: a draw of Python's random and one of numpy's global generator."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        import random

        import numpy as np

        return torch.tensor([random.random(), float(np.random.rand())], dtype=torch.float64)
