"""Minibatches from in-memory tensors: no DataLoader workers, a seeded shuffle per epoch."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
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
        self.start = 0  # the first epoch's first batch (a resumed run skips what it trained on)

    def __len__(self) -> int:
        return self.data.shape[0] // self.batch_size

    def skip(self, batches: int) -> None:
        """Continue after ``batches`` batches, as a run resumed at that update does: the
        epochs before are drawn (their permutations) and dropped, so the sequence from here
        on is the one an uninterrupted run sees."""
        epochs, self.start = divmod(batches, len(self))
        for _ in range(epochs):
            torch.randperm(self.data.shape[0], generator=self.generator)

    def __iter__(self) -> Iterator[Tensor]:
        order = torch.randperm(self.data.shape[0], generator=self.generator)
        start, self.start = self.start, 0
        for i in range(start, len(self)):
            yield self.data[order[i * self.batch_size : (i + 1) * self.batch_size]]


def evenly_spaced(data: Tensor, n: int) -> Tensor:
    """``n`` cases spread evenly over ``data``: a fixed subset that sees every part of a set
    stored in order (MNIST sorted by digit, FACES by person), unlike the first ``n``."""
    if n >= data.shape[0]:
        return data
    return data[torch.linspace(0, data.shape[0] - 1, n).round().long()]


class ReshuffledBatches:
    """Endless minibatches of (points, labels), reshuffled every epoch, the last batch of an
    epoch smaller (300 cases in 64s: 4 of 64, then 44), as the worked example draws them.

    Epoch e (from 0) is ordered by ``np.random.RandomState(first_seed + e).permutation(n)``:
    the exercise's ``np.random.seed(seed); np.random.permutation(m)`` with seed 11, 12, ...
    when ``first_seed`` is 11. One iterator runs through all epochs, so the order never
    depends on how often Lightning restarts its loop.
    """

    def __init__(self, points: Tensor, labels: Tensor, batch_size: int, first_seed: int) -> None:
        n = points.shape[0]
        if not 1 <= batch_size <= n:
            raise ValueError(
                f"batch_size must be in [1, {n}] (the number of cases), got {batch_size}"
            )
        self.points, self.labels = points, labels
        self.batch_size = batch_size
        self.first_seed = first_seed
        self.skipped = 0  # batches a resumed run trained on already

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.points.shape[0] // self.batch_size)

    def skip(self, batches: int) -> None:
        """Continue after ``batches`` batches, as a run resumed at that update does."""
        self.skipped = batches

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = self.points.shape[0]
        first_epoch, first_batch = divmod(self.skipped, self.batches_per_epoch)
        self.skipped = 0
        for epoch in itertools.count(first_epoch):
            order = torch.from_numpy(np.random.RandomState(self.first_seed + epoch).permutation(n))
            starts = range(0, n, self.batch_size)
            for start in starts[first_batch if epoch == first_epoch else 0 :]:
                take = order[start : start + self.batch_size]
                yield self.points[take], self.labels[take]
