"""The population update as a callable (``training/population/graphed.py``): eager on a CPU,
one CUDA graph replay on a GPU. The graph is checked against the eager update where a GPU
is present (and by ``benchmarks/population_graph_check.py`` on a lent one); the rest here."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.models.stacked_autoencoder import StackedAutoencoder
from momentum_repro.training.population.graphed import (
    EagerUpdate,
    GraphedUpdate,
    _static,
    backward_of_active,
    population_update,
)
from momentum_repro.training.population.momentum import PopulationMomentum


def population(device: str, lrs: list[float]) -> tuple[StackedAutoencoder, PopulationMomentum]:
    models = [DeepAutoencoder([20, 8, 3], seed=s).double() for s in range(len(lrs))]
    stacked = StackedAutoencoder(models)
    for t in stacked.parameters():
        t.data = t.data.to(device)
    schedules = [lambda t: min(0.5 + 0.1 * t, 0.95)] * len(lrs)
    nesterov = [k % 2 == 0 for k in range(len(lrs))]
    return stacked, PopulationMomentum(stacked.parameters(), lrs, schedules, nesterov)


def test_on_a_cpu_the_update_is_eager_and_a_graph_is_refused() -> None:
    stacked, optimizer = population("cpu", [0.1, 0.1])
    losses = lambda b: stacked.objectives(stacked.forward(b[0]), b[0])  # noqa: E731
    assert isinstance(population_update(optimizer, losses, cuda_graph=True), EagerUpdate)
    with pytest.raises(ValueError, match="GraphedUpdate needs CUDA tensors, got cpu"):
        GraphedUpdate(optimizer, losses)


def test_backward_of_active_gives_each_active_member_its_own_gradient() -> None:
    stacked, optimizer = population("cpu", [0.1, 0.1, 0.1])
    x = torch.rand(3, 5, 20, dtype=torch.float64)
    optimizer.freeze(1)
    losses = stacked.objectives(stacked.forward(x), x)
    backward_of_active(losses, optimizer.active)
    grads = [p.grad.clone() for p in stacked.parameters()]
    for k in (0, 2):  # each active member: the gradient of its own objective alone
        for p in stacked.parameters():
            p.grad = None
        stacked.objectives(stacked.forward(x), x)[k].backward()
        for g, p in zip(grads, stacked.parameters(), strict=True):
            torch.testing.assert_close(g[k], p.grad[k], rtol=0, atol=0)
    assert all(float(g[1].abs().max()) == 0.0 for g in grads)  # the frozen one: none


def test_a_shared_minibatch_keeps_its_expanded_layout_in_the_graph_inputs() -> None:
    x = torch.rand(1, 4, 6).expand(5, 4, 6)
    storage, seen = _static(x)
    assert storage is not None and seen is not None
    assert storage.shape == (1, 4, 6) and seen.shape == x.shape and seen.stride(0) == 0
    torch.testing.assert_close(seen, x, rtol=0, atol=0)
    y = torch.rand(5, 4, 6)
    storage, seen = _static(y)
    assert seen is storage and storage.data_ptr() != y.data_ptr()
    assert _static(None) == (None, None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_graphed_update_replays_the_eager_trajectory_on_a_gpu() -> None:
    """Same initial state and minibatches (of two sizes: two graphs, replayed in turn), a
    member frozen at update 10 (as a divergence does): the graphed parameters equal the eager
    ones, bit for bit."""
    gen = torch.Generator().manual_seed(0)
    sizes = [16, 12, 12, 16, 12]
    batches = [
        torch.rand(1, sizes[t % 5], 20, generator=gen, dtype=torch.float64) for t in range(30)
    ]
    results = []
    for graphed in (False, True):
        stacked, optimizer = population("cuda", [0.1, 0.05, 0.2])
        losses = lambda b, s=stacked: s.objectives(s.forward(b[0]), b[0])  # noqa: E731
        update = population_update(optimizer, losses, cuda_graph=graphed)
        assert isinstance(update, GraphedUpdate if graphed else EagerUpdate)
        for t, x in enumerate(batches):
            update((x.cuda().expand(3, -1, -1),))
            if t == 10:
                optimizer.freeze(2)
        if graphed:
            assert len(update.graphs) == 2  # type: ignore[union-attr]
        results.append([p.detach().cpu() for p in stacked.parameters()])
    for eager, graphed in zip(*results, strict=True):
        torch.testing.assert_close(graphed, eager, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_what_a_gpu_population_evaluates_on_the_device_equals_the_cpu() -> None:
    """The pieces ``fit_population`` runs on the GPU besides the update: minibatches drawn
    from a set on the device, the squared error of a GPU model on CPU data, an RNN evaluated
    on the device."""
    from momentum_repro.data.rnn_tasks import make_eval_set
    from momentum_repro.models.autoencoder import squared_error
    from momentum_repro.models.rnn import TanhRNN, evaluate_rnn
    from momentum_repro.workloads.batches import InMemoryBatches

    data = torch.rand(50, 20, dtype=torch.float64)
    on_cpu, on_gpu = InMemoryBatches(data, 8, seed=3), InMemoryBatches(data.cuda(), 8, seed=3)
    for a, b in zip(on_cpu, on_gpu, strict=True):
        torch.testing.assert_close(b.cpu(), a, rtol=0, atol=0)
    model = DeepAutoencoder([20, 8, 3], seed=1).double()
    error = squared_error(model, data)
    assert squared_error(model.cuda(), data) == pytest.approx(error, rel=1e-12)
    rnn = TanhRNN.for_task("addition", seed=1, dtype=torch.float64)
    batch = make_eval_set("addition", 12, 64, seed=2)
    loss, zero_one = evaluate_rnn(rnn, "addition", batch)
    gpu_loss, gpu_zero_one = evaluate_rnn(rnn.cuda(), "addition", batch)
    assert gpu_loss == pytest.approx(loss, rel=1e-12) and gpu_zero_one == zero_one


def test_a_parameter_a_member_does_not_train_stays_put_even_under_an_infinite_gradient() -> None:
    """The RNN's biases baseline trains only some parameters: where its member does not
    train one, the update adds exactly 0, also when that gradient is inf (0 * inf is NaN)."""
    w = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.ones(2, 1, dtype=torch.float64, requires_grad=True)
    trainable = [torch.tensor([True, False]), torch.tensor([True, True])]
    optimizer = PopulationMomentum(
        [w, b], [0.1, 0.1], [lambda t: 0.9] * 2, [True, False], trainable
    )

    def closure() -> Tensor:
        w.grad = b.grad = None
        losses = w.abs().sqrt().sum(dim=1) + (b**2).sum(dim=1)  # d/dw sqrt|w| at 0: inf
        losses.sum().backward()
        return losses.detach()

    for _ in range(3):
        optimizer.step(closure)
    assert w[1].tolist() == [0.0, 0.0, 0.0]  # untrained: untouched
    assert torch.isfinite(b).all() and b[1].item() != 1.0  # member 1 trains its b
    assert torch.isnan(w[0]).all()  # member 0 trains w: its inf gradient goes through
