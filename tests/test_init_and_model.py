"""Sparse initialization and the deep autoencoders of Table 6."""

import torch
from torch import nn

from momentum_repro.models.autoencoder import DeepAutoencoder, squared_error
from momentum_repro.models.init import sparse_init_


def test_sparse_init_gives_exactly_15_nonzeros_per_unit_and_zero_biases() -> None:
    layer = sparse_init_(nn.Linear(400, 300), generator=torch.Generator().manual_seed(0))
    assert ((layer.weight != 0).sum(dim=1) == 15).all()
    assert (layer.bias == 0).all()


def test_sparse_init_weights_are_standard_normal_times_scale() -> None:
    layer = sparse_init_(
        nn.Linear(784, 2000), scale=2.0, generator=torch.Generator().manual_seed(1)
    )
    w = layer.weight[layer.weight != 0].double()
    assert w.numel() == 2000 * 15
    assert abs(w.mean().item()) < 0.05
    assert abs(w.std().item() - 2.0) < 0.03  # 30,000 draws: std error ~0.008


def test_sparse_init_small_layer_is_dense() -> None:
    layer = sparse_init_(nn.Linear(6, 25), generator=torch.Generator().manual_seed(0))
    assert ((layer.weight != 0).sum(dim=1) == 6).all()


def test_curves_autoencoder_shape_and_units() -> None:
    model = DeepAutoencoder([784, 400, 200, 100, 50, 25, 6], seed=0)
    sizes = [(layer.in_features, layer.out_features) for layer in model.layers]
    assert sizes[:6] == [(784, 400), (400, 200), (200, 100), (100, 50), (50, 25), (25, 6)]
    assert sizes[6:] == [(b, a) for a, b in reversed(sizes[:6])]
    # the code layer is linear: its output can be negative and unbounded
    x = torch.rand(4, 784)
    h = x
    for layer in model.layers[:6]:
        h = layer(h) if layer is model.layers[5] else torch.sigmoid(layer(h))
    assert (h < 0).any()


def test_objective_and_reported_error_follow_the_paper() -> None:
    model = DeepAutoencoder([4, 3, 2], seed=0)
    x = torch.rand(5, 4)
    z = model(x)
    y = torch.sigmoid(z)
    ce = -(x * torch.log(y) + (1 - x) * torch.log(1 - y)).sum(dim=1).mean()
    torch.testing.assert_close(model.objective(z, x), ce)
    assert abs(squared_error(model, x) - ((y - x) ** 2).sum(dim=1).mean().item()) < 1e-6
    linear = DeepAutoencoder([4, 3, 2], output="linear", seed=0)
    z = linear(x)
    torch.testing.assert_close(linear.objective(z, x), ((z - x) ** 2).sum(dim=1).mean())
