"""Initializations of the paper: sparse initialization (SI, Martens 2010; Sutskever et al. 2013, section 3)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def sparse_init_(
    linear: nn.Linear,
    fan_in: int = 15,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> nn.Linear:
    """Sparse initialization: each unit gets ``fan_in`` distinct random incoming connections.

    Their weights are drawn from N(0, scale^2); every other weight and the biases are 0.
    A layer with fewer than ``fan_in`` inputs is connected densely (all inputs): Martens'
    code caps the count at the layer's input size. ``scale`` is the multiplier of Table 3.
    """
    if fan_in < 1:
        raise ValueError(f"sparse_init_: fan_in must be >= 1, got {fan_in}")
    if not scale > 0.0:
        raise ValueError(f"sparse_init_: scale must be > 0, got {scale}")
    n_out, n_in = linear.weight.shape
    k = min(fan_in, n_in)
    # k distinct inputs per unit: the first k of a random permutation of each row.
    keys = torch.rand(n_out, n_in, generator=generator)
    chosen = keys.argsort(dim=1)[:, :k]
    values = torch.randn(n_out, k, generator=generator, dtype=torch.float64) * scale
    weight = torch.zeros(n_out, n_in, dtype=torch.float64)
    weight.scatter_(1, chosen, values)
    linear.weight.copy_(weight)
    if linear.bias is not None:
        linear.bias.zero_()
    return linear


@torch.no_grad()
def echo_state_init_(
    weight: torch.Tensor,
    fan_in: int = 15,
    spectral_radius: float = 1.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sparse recurrent initialization of Table 4 (echo-state style), in place.

    Each unit (row) gets ``fan_in`` distinct random incoming connections with N(0, 1)
    weights; the matrix is then scaled so that its spectral radius (largest |eigenvalue|,
    computed in float64) is exactly ``spectral_radius`` (1.1 in the paper).
    """
    if weight.dim() != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(
            f"echo_state_init_: weight must be square, got shape {tuple(weight.shape)}"
        )
    n = weight.shape[0]
    if not 1 <= fan_in <= n:
        raise ValueError(f"echo_state_init_: fan_in must be in [1, {n}], got {fan_in}")
    if not spectral_radius > 0.0:
        raise ValueError(f"echo_state_init_: spectral_radius must be > 0, got {spectral_radius}")
    keys = torch.rand(n, n, generator=generator)
    chosen = keys.argsort(dim=1)[:, :fan_in]
    values = torch.randn(n, fan_in, generator=generator, dtype=torch.float64)
    dense = torch.zeros(n, n, dtype=torch.float64).scatter_(1, chosen, values)
    radius = torch.linalg.eigvals(dense).abs().max().item()
    if radius == 0.0:
        raise ValueError("echo_state_init_: the sparse matrix drawn is nilpotent (radius 0)")
    weight.copy_(dense * (spectral_radius / radius))
    return weight
