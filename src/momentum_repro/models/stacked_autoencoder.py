"""K deep autoencoders as one model: every layer's weights stacked on a leading member axis.

Member k computes exactly its solo ``DeepAutoencoder``: layer i is
``baddbmm(b[k], h[k], W[k]^T)`` where the solo model does ``addmm(b, h, W^T)``, with the
same units (logistic, a linear code layer, the output's pre-activations) and the same
objective, one value per member. Summing the members' objectives gives each member the
gradient of its own (no term of one member depends on another's parameters).

A layer's backward (``_StackedLinear``) forms each weight's gradient dz^T h in the weight's
own (K, out, in) layout. Autograd's backward of ``baddbmm(b, h, W^T)`` forms it as h^T dz,
(K, in, out), and then copies it transposed into (K, out, in): profiled on 2 cores, those
copies of CURVES' two 784 x 400 layers took about a tenth of a K = 8 update.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from momentum_repro.models.autoencoder import DeepAutoencoder


class _StackedLinear(torch.autograd.Function):
    """z = h W^T + b per member: h (K, B, in), W (K, out, in), b (K, out) -> z (K, B, out)."""

    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(h, weight)
        return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad_z: Tensor) -> tuple[Tensor | None, Tensor, Tensor]:
        h, weight = ctx.saved_tensors
        grad_h = torch.bmm(grad_z, weight) if ctx.needs_input_grad[0] else None
        return grad_h, torch.bmm(grad_z.transpose(1, 2), h), grad_z.sum(dim=1)


class StackedAutoencoder:
    """The members' parameters as leaf tensors ``weights[i]`` (K, out, in), ``biases[i]`` (K, out)."""

    def __init__(self, members: Sequence[DeepAutoencoder]) -> None:
        first = members[0]
        for model in members:
            if model.encoder_sizes != first.encoder_sizes or model.output != first.output:
                raise ValueError(
                    "StackedAutoencoder: members must share the architecture, got "
                    f"{model.encoder_sizes}/{model.output} and {first.encoder_sizes}/{first.output}"
                )
        self.output = first.output
        self.code_layer = first.code_layer
        self.n_layers = len(first.layers)
        with torch.no_grad():
            self.weights = [
                torch.stack([m.layers[i].weight for m in members]).requires_grad_()
                for i in range(self.n_layers)
            ]
            self.biases = [
                torch.stack([m.layers[i].bias for m in members]).requires_grad_()
                for i in range(self.n_layers)
            ]

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def parameters(self) -> list[Tensor]:
        """In the solo model's order: layer 0's weight and bias, layer 1's, ..."""
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    def forward(self, x: Tensor) -> Tensor:
        """Output pre-activations (K, batch, units) for inputs (K, batch, units)."""
        h = x
        last = self.n_layers - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = _StackedLinear.apply(h, w, b)
            if i != self.code_layer and i != last:
                h = torch.sigmoid(h)
        return h

    def objectives(self, z: Tensor, x: Tensor) -> Tensor:
        """Each member's training objective (K,): ``DeepAutoencoder.objective`` per member."""
        if self.output == "logistic":
            per_case = F.binary_cross_entropy_with_logits(z, x, reduction="none").sum(dim=2)
        else:
            per_case = (z - x).pow(2).sum(dim=2)
        return per_case.mean(dim=1)

    @torch.no_grad()
    def copy_member_into(self, k: int, model: DeepAutoencoder) -> DeepAutoencoder:
        """Member ``k``'s parameters written into a solo model (to evaluate or save it)."""
        for i, layer in enumerate(model.layers):
            layer.weight.copy_(self.weights[i][k])
            layer.bias.copy_(self.biases[i][k])
        return model
