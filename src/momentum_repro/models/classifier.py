"""The study notes' worked example network: a small fully connected binary classifier.

Layer sizes [2, 5, 2, 1]: ReLU hidden units, one sigmoid output unit, cross-entropy. He
initialization as the exercise writes it: W_l = randn(n_l, n_{l-1}) sqrt(2 / n_{l-1}) layer by
layer from ``np.random.RandomState(seed)``, biases 0, so seed 3 gives the exercise's weights.
The forward pass returns the output's pre-activation (logit): cross-entropy from logits is
the same function as from sigmoid outputs without the log(0) of a saturated unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FeedForwardClassifier(nn.Module):
    """ReLU hidden layers and one sigmoid output unit; ``forward`` gives the logits (n,).
    ``dtype``: the parameters' from the start, so float64 weights are the draws exactly."""

    def __init__(
        self, layer_sizes: Sequence[int], seed: int, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        sizes = [int(n) for n in layer_sizes]
        if len(sizes) < 2 or any(n < 1 for n in sizes) or sizes[-1] != 1:
            raise ValueError(
                "FeedForwardClassifier: layer_sizes must be >= 2 positive sizes ending in 1 "
                f"(one sigmoid output), got {list(layer_sizes)}"
            )
        self.layer_sizes = sizes
        self.layers = nn.ModuleList(nn.Linear(m, n, dtype=dtype) for m, n in pairwise(sizes))
        he_init_(self, seed)

    def forward(self, points: Tensor) -> Tensor:
        h = points
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h).squeeze(-1)

    @torch.no_grad()
    def probability(self, points: Tensor) -> Tensor:
        """P(label 1 | point): the sigmoid output."""
        return torch.sigmoid(self(points))


@torch.no_grad()
def he_init_(model: FeedForwardClassifier, seed: int) -> FeedForwardClassifier:
    """He et al. (2015) initialization in the exercise's draw order (one RandomState, layer by
    layer, weights only): W = randn(fan_out, fan_in) sqrt(2 / fan_in), b = 0."""
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        fan_out, fan_in = layer.weight.shape
        weight = rng.randn(fan_out, fan_in) * math.sqrt(2.0 / fan_in)
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.zero_()
    return model


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy -[y log p + (1 - y) log(1 - p)], p = sigmoid(logit), over the cases."""
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


@torch.no_grad()
def accuracy(model: FeedForwardClassifier, points: Tensor, labels: Tensor) -> float:
    """Fraction of cases classified right, predicting label 1 where p > 0.5 (logit > 0)."""
    predicted = (model(points) > 0).to(labels.dtype)
    return float((predicted == labels).double().mean())
