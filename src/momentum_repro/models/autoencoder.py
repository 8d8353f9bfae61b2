"""The deep autoencoders of Hinton & Salakhutdinov (2006) as used in Sutskever et al. (2013).

Table 6 / appendix A.3: logistic hidden units, a linear code layer, a decoder that mirrors
the encoder, and an output layer that is logistic with cross-entropy (CURVES, MNIST) or
linear with squared error (FACES). ``forward`` returns the output layer's pre-activations,
the quantity the matching loss (and Hessian-free's Gauss-Newton matrix) acts on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from momentum_repro.models.init import sparse_init_

OutputKind = Literal["logistic", "linear"]
OUTPUT_LOSS = {"logistic": "cross_entropy", "linear": "squared_error"}


class DeepAutoencoder(nn.Module):
    """Encoder ``encoder_sizes`` (e.g. 784-400-200-100-50-25-6), decoder its mirror image."""

    def __init__(
        self,
        encoder_sizes: Sequence[int],
        output: OutputKind = "logistic",
        init_fan_in: int = 15,
        init_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        sizes = [int(s) for s in encoder_sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(
                f"DeepAutoencoder: encoder_sizes must be >= 2 positive sizes, got {list(encoder_sizes)}"
            )
        if output not in OUTPUT_LOSS:
            raise ValueError(
                f"DeepAutoencoder: output must be one of {sorted(OUTPUT_LOSS)}, got {output!r}"
            )
        self.encoder_sizes = sizes
        self.output = output
        self.loss_name = OUTPUT_LOSS[output]
        all_sizes = sizes + sizes[-2::-1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(all_sizes))
        self.code_layer = len(sizes) - 2  # index of the linear code layer
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        for layer in self.layers:
            sparse_init_(layer, fan_in=init_fan_in, scale=init_scale, generator=generator)

    @property
    def n_inputs(self) -> int:
        return self.encoder_sizes[0]

    def forward(self, x: Tensor) -> Tensor:
        """Output pre-activations (logits for a logistic output)."""
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i != self.code_layer and i != last:
                h = torch.sigmoid(h)
        return h

    def reconstruct(self, x: Tensor) -> Tensor:
        """The reconstruction: the output layer's activations."""
        z = self.forward(x)
        return torch.sigmoid(z) if self.output == "logistic" else z

    def objective(self, z: Tensor, x: Tensor) -> Tensor:
        """Training objective on output pre-activations z, summed over units, averaged over cases.

        Logistic outputs: cross-entropy; linear outputs: squared error sum (z - x)^2, whose
        Hessian 2I is the matching-loss Hessian of Martens' code.
        """
        if self.output == "logistic":
            per_case = F.binary_cross_entropy_with_logits(z, x, reduction="none").sum(dim=1)
        else:
            per_case = (z - x).pow(2).sum(dim=1)
        return per_case.mean()


@torch.no_grad()
def squared_error(model: DeepAutoencoder, data: Tensor, batch_size: int = 10_000) -> float:
    """The paper's reported error: sum over pixels of (output - input)^2, averaged over cases.
    Computed where the model is (the data, wherever it is, goes there a chunk at a time)."""
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, data.shape[0], batch_size):
        x = data[start : start + batch_size].to(device)
        total += float((model.reconstruct(x) - x).pow(2).sum(dtype=torch.float64))
    return total / data.shape[0]


def final_errors(model: DeepAutoencoder, train: Tensor, test: Tensor) -> dict[str, float]:
    """The errors a finished run reports: the paper's squared error on the full sets."""
    model = model.cpu()
    return {
        "final_train_error": squared_error(model, train),
        "final_test_error": squared_error(model, test),
    }
