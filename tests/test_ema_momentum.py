"""EMA momentum: its own definition, and the same trajectory as ClassicalMomentum with
learning rate lr (1 - beta) (the bridge from the worked example to the paper's CM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from momentum_repro.data.moons import make_moons
from momentum_repro.models.classifier import FeedForwardClassifier, cross_entropy
from momentum_repro.optim import ClassicalMomentum, EMAMomentum


def test_follows_its_definition_on_a_quadratic() -> None:
    """v <- beta v + (1 - beta) g; theta <- theta - lr v, written in NumPy, 30 steps."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 4))
    A, b = q @ q.T + np.eye(4), rng.normal(size=4)
    lr, beta = 0.05, 0.8
    theta, v = rng.normal(size=4), np.zeros(4)
    x = torch.nn.Parameter(torch.from_numpy(theta.copy()))
    opt = EMAMomentum([x], lr=lr, beta=beta)
    At, bt = torch.from_numpy(A), torch.from_numpy(b)
    for _ in range(30):
        v = beta * v + (1 - beta) * (A @ theta - b)
        theta = theta - lr * v

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = 0.5 * x @ At @ x - bt @ x
            loss.backward()
            return loss

        opt.step(closure)
        np.testing.assert_allclose(x.detach().numpy(), theta, rtol=1e-13, atol=1e-15)
    assert opt.updates_done == 30 and opt.last_mu == beta


def _classifier_and_batches() -> tuple[FeedForwardClassifier, list[tuple]]:
    X, y = make_moons(300, 0.2, 3)
    points, labels = torch.from_numpy(X), torch.from_numpy(y)
    order = np.random.RandomState(11).permutation(300)
    batches = [(points[order[i : i + 64]], labels[order[i : i + 64]]) for i in range(0, 300, 64)]
    return FeedForwardClassifier([2, 5, 2, 1], seed=3, dtype=torch.float64), batches


def _train(model: FeedForwardClassifier, opt: torch.optim.Optimizer, batches, steps: int) -> None:
    for t in range(steps):
        points, labels = batches[t % len(batches)]

        def closure(points=points, labels=labels) -> torch.Tensor:
            opt.zero_grad()
            loss = cross_entropy(model(points), labels)
            loss.backward()
            return loss

        opt.step(closure)


@pytest.mark.parametrize("beta", [0.9, 0.5])
def test_same_parameters_as_classical_momentum_with_lr_times_one_minus_beta(beta: float) -> None:
    """The worked example's network and minibatches, float64, 100 updates: EMA momentum
    (lr, beta) and CM (mu = beta, lr (1 - beta)) agree to 1e-12 in every parameter."""
    lr = 0.05  # larger than the exercise's 0.0007, so the 100 updates move the weights
    ema_model, batches = _classifier_and_batches()
    cm_model, _ = _classifier_and_batches()
    ema = EMAMomentum(ema_model.parameters(), lr=lr, beta=beta)
    cm = ClassicalMomentum(cm_model.parameters(), lr=lr * (1 - beta), momentum=beta)
    start = [p.detach().clone() for p in ema_model.parameters()]
    _train(ema_model, ema, batches, 100)
    _train(cm_model, cm, batches, 100)
    moved = max(
        float((p.detach() - s).abs().max())
        for p, s in zip(ema_model.parameters(), start, strict=True)
    )
    assert moved > 1e-2  # a real trajectory, not a few negligible steps
    for p_ema, p_cm in zip(ema_model.parameters(), cm_model.parameters(), strict=True):
        assert p_ema.dtype == torch.float64
        torch.testing.assert_close(p_ema, p_cm, rtol=0, atol=1e-12)
    # the velocities are the same up to the factor -lr: v_CM = -lr v_EMA
    for p_ema, p_cm in zip(ema_model.parameters(), cm_model.parameters(), strict=True):
        v_ema, v_cm = ema.state[p_ema]["velocity"], cm.state[p_cm]["velocity"]
        torch.testing.assert_close(v_cm, -lr * v_ema, rtol=0, atol=1e-12)


def test_bad_arguments_are_named() -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="lr"):
        EMAMomentum(p, lr=0.0)
    with pytest.raises(ValueError, match=r"beta must be a number in \[0, 1\), got 1.0"):
        EMAMomentum(p, lr=0.1, beta=1.0)
    with pytest.raises(ValueError, match="beta must be a number"):
        EMAMomentum(p, lr=0.1, beta=lambda t: 0.9)  # type: ignore[arg-type]
