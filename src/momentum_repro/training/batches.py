"""Minibatches from an in-memory tensor: no DataLoader workers, a seeded shuffle per epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


class InMemoryBatches:
    """Iterable over shuffled minibatches of ``data`` (cases first); each pass is one epoch.

    The permutation comes from an explicit ``torch.Generator`` seeded once, so a run's
    batch sequence depends only on the seed. A final incomplete batch is dropped.
    """

    def __init__(self, data: Tensor, batch_size: int, seed: int) -> None:
        if batch_size < 1 or batch_size > data.shape[0]:
            raise ValueError(
                f"batch_size must be in [1, {data.shape[0]}] (the number of cases), got {batch_size}"
            )
        self.data = data
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.data.shape[0] // self.batch_size

    def __iter__(self) -> Iterator[Tensor]:
        order = torch.randperm(self.data.shape[0], generator=self.generator)
        for i in range(len(self)):
            yield self.data[order[i * self.batch_size : (i + 1) * self.batch_size]]


def evenly_spaced(data: Tensor, n: int) -> Tensor:
    """``n`` cases spread evenly over ``data``: a fixed subset that sees every part of a set
    stored in order (MNIST sorted by digit, FACES by person), unlike the first ``n``."""
    if n >= data.shape[0]:
        return data
    return data[torch.linspace(0, data.shape[0] - 1, n).round().long()]
