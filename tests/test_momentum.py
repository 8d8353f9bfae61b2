"""CM and NAG against an independent NumPy implementation of the paper's formulas."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from momentum_repro.optim import ClassicalMomentum, Nesterov, momentum_schedule

DIM = 6


def quadratic(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(DIM, DIM))
    return q @ q.T / DIM + 0.1 * np.eye(DIM), rng.normal(size=DIM)


def reference(method: str, theta0: np.ndarray, mu, lr: float, steps: int) -> list[np.ndarray]:
    """Sutskever et al. (2013) eq. (1)-(4) on f = 1/2 x'Ax - b'x, written from the paper."""
    A, b = quadratic()
    grad = lambda x: A @ x - b  # noqa: E731
    theta, v = theta0.copy(), np.zeros_like(theta0)
    path = [theta.copy()]
    for t in range(steps):
        point = theta + mu(t) * v if method == "nag" else theta
        v = mu(t) * v - lr * grad(point)
        theta = theta + v
        path.append(theta.copy())
    return path


def torch_path(cls, theta0: np.ndarray, mu, lr: float, steps: int) -> list[np.ndarray]:
    A, b = (torch.from_numpy(a) for a in quadratic())
    x = torch.nn.Parameter(torch.from_numpy(theta0.copy()))
    opt = cls([x], lr=lr, momentum=mu)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.5 * x @ A @ x - b @ x
        loss.backward()
        return loss

    path = [x.detach().numpy().copy()]
    for _ in range(steps):
        opt.step(closure)
        path.append(x.detach().numpy().copy())
    return path


SCHEDULE = partial(
    momentum_schedule, mu_max=0.95, period=2, total_updates=60, final_phase_updates=8
)


@pytest.mark.parametrize(("cls", "method"), [(ClassicalMomentum, "cm"), (Nesterov, "nag")])
def test_trajectory_equals_numpy_reference_across_schedule_changes(cls, method) -> None:
    theta0 = np.random.default_rng(1).normal(size=DIM)
    ours = torch_path(cls, theta0, SCHEDULE, lr=0.05, steps=60)
    ref = reference(method, theta0, SCHEDULE, lr=0.05, steps=60)
    # the schedule rises every 2 updates, caps at 0.95 and drops to 0.9 for the last 8
    assert {SCHEDULE(t) for t in range(60)} >= {0.5, 0.75, 0.9, 0.95}
    for t, (a, r) in enumerate(zip(ours, ref, strict=True)):
        np.testing.assert_allclose(a, r, rtol=0, atol=1e-10, err_msg=f"update {t}")


def test_nag_and_cm_differ() -> None:
    theta0 = np.ones(DIM)
    cm = torch_path(ClassicalMomentum, theta0, SCHEDULE, 0.05, 20)[-1]
    nag = torch_path(Nesterov, theta0, SCHEDULE, 0.05, 20)[-1]
    assert np.abs(cm - nag).max() > 1e-3


def test_nag_with_constant_mu_equals_torch_sgd_nesterov_after_change_of_variables() -> None:
    """torch keeps phi = theta + mu v and b = -v / lr; with a constant mu the two agree."""
    A, b = (torch.from_numpy(a) for a in quadratic())
    theta0 = torch.from_numpy(np.random.default_rng(2).normal(size=DIM))
    mu, lr = 0.9, 0.05
    ours = torch.nn.Parameter(theta0.clone())
    phi = torch.nn.Parameter(theta0.clone())
    nag = Nesterov([ours], lr=lr, momentum=mu)
    sgd = torch.optim.SGD([phi], lr=lr, momentum=mu, nesterov=True)
    for _ in range(40):
        for p, opt in ((ours, nag), (phi, sgd)):

            def closure(p=p, opt=opt) -> torch.Tensor:
                opt.zero_grad()
                loss = 0.5 * p @ A @ p - b @ p
                loss.backward()
                return loss

            opt.step(closure)
        lookahead = ours.detach() + mu * nag.state[ours]["velocity"]
        torch.testing.assert_close(lookahead, phi.detach(), rtol=0, atol=1e-10)


def test_parameters_hold_theta_not_the_lookahead_between_steps() -> None:
    x = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = Nesterov([x], lr=0.1, momentum=0.9)
    seen = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        seen.append(x.detach().clone())
        loss = (x**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    opt.step(closure)
    # second gradient point: theta_1 + mu v_1, while x holds theta after each step
    theta1 = torch.ones(3, dtype=torch.float64) * (1 - 0.1 * 2)
    v1 = theta1 - 1
    torch.testing.assert_close(seen[1], theta1 + 0.9 * v1)
    theta2 = theta1 + (0.9 * v1 - 0.1 * 2 * (theta1 + 0.9 * v1))
    torch.testing.assert_close(x.detach(), theta2)


def test_grads_set_to_none_count_as_zero_and_float64_works() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)).double()
    opt = ClassicalMomentum(model.parameters(), lr=0.1, momentum=0.5)
    model.zero_grad()  # sets grads to None, as Lightning does before training
    model[1](torch.ones(5, 3, dtype=torch.float64)).sum().backward()  # no grad for layer 0
    first = model[0].weight.detach().clone()
    last = model[1].weight.detach().clone()
    opt.step()
    assert torch.equal(model[0].weight.detach(), first)
    torch.testing.assert_close(model[1].weight.detach(), last - 0.1 * 5.0 * torch.ones_like(last))


@pytest.mark.parametrize("method", [ClassicalMomentum, Nesterov])
def test_state_dict_round_trip_continues_the_trajectory_bit_for_bit(method) -> None:
    """Save after 137 updates, load into a fresh model and optimizer, continue: identical."""

    def make() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 6))
        schedule = partial(
            momentum_schedule, mu_max=0.99, period=10, total_updates=200, final_phase_updates=20
        )
        return model, method(model.parameters(), lr=0.05, momentum=schedule)

    data = torch.randn(200, 32, 6, generator=torch.Generator().manual_seed(1))

    def train(model, opt, start: int, stop: int) -> None:
        for t in range(start, stop):

            def closure(x=data[t]) -> torch.Tensor:
                opt.zero_grad()
                loss = (model(x) - x).pow(2).mean()
                loss.backward()
                return loss

            opt.step(closure)

    model, opt = make()
    train(model, opt, 0, 200)
    resumed_model, resumed_opt = make()
    train(resumed_model, resumed_opt, 0, 137)
    saved = {"model": resumed_model.state_dict(), "opt": resumed_opt.state_dict()}
    fresh_model, fresh_opt = make()
    fresh_model.load_state_dict(saved["model"])
    fresh_opt.load_state_dict(saved["opt"])
    assert fresh_opt.updates_done == 137 and fresh_opt.last_mu == resumed_opt.last_mu
    train(fresh_model, fresh_opt, 137, 200)
    for a, b in zip(model.parameters(), fresh_model.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(
        opt.param_groups[0]["params"], fresh_opt.param_groups[0]["params"], strict=True
    ):
        assert torch.equal(opt.state[a]["velocity"], fresh_opt.state[b]["velocity"])


def test_bad_arguments() -> None:
    p = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="lr must be > 0"):
        Nesterov(p, lr=0.0, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        ClassicalMomentum(p, lr=0.1, momentum=1.2)
    with pytest.raises(ValueError, match="closure"):
        Nesterov(p, lr=0.1, momentum=0.9).step()
    mixed = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2).double())]
    with pytest.raises(ValueError, match="one dtype"):
        Nesterov(mixed, lr=0.1, momentum=0.9)
