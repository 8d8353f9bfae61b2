"""Hessian-free optimization: Gauss-Newton products, CG and its rules, the optimizer, phases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from momentum_repro.data.curves import generate_curves
from momentum_repro.models.autoencoder import DeepAutoencoder, squared_error
from momentum_repro.optim.conjugate_gradient import (
    backtrack_iterations,
    cg_backtrack,
    conjugate_gradient,
    martens_should_stop,
    stopping_gap,
)
from momentum_repro.optim.hessian_free import (
    GaussNewtonOperator,
    HessianFree,
    InverseTime,
    LinearRamp,
    Phase,
    _GradientPass,
    cycled_chunk,
    gauss_newton_product,
    per_case_loss,
    phase_at,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Small problems: one thread is faster, and immune to contention on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------
# Gauss-Newton products against explicit Jacobians
# ------------------------------------------------------------------------------------------


def explicit_gauss_newton(model: nn.Module, x: torch.Tensor, loss: str) -> torch.Tensor:
    """(1/N) sum_n J_n^T H_n J_n from the full Jacobian of the outputs (float64)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = nn.utils.parameters_to_vector(model.parameters()).detach()

    def outputs(flat: torch.Tensor) -> torch.Tensor:
        parts = flat.split([math.prod(s) for s in shapes])
        params = {n: q.view(s) for n, q, s in zip(names, parts, shapes, strict=True)}
        return functional_call(model, params, (x,))

    z = outputs(theta).detach()
    J = torch.autograd.functional.jacobian(outputs, theta)  # (N, out, P)
    if loss == "cross_entropy":
        h = torch.sigmoid(z) * (1 - torch.sigmoid(z))
    else:
        h = torch.full_like(z, 2.0)
    return torch.einsum("nop,no,noq->pq", J, h, J) / x.shape[0]


def tiny_autoencoder(output: str) -> DeepAutoencoder:
    model = DeepAutoencoder([6, 4, 3], output=output, seed=1).double()
    with torch.no_grad():  # dense random weights: sparse init leaves most of a tiny net at zero
        for p in model.parameters():
            p.normal_(0.0, 0.7, generator=torch.Generator().manual_seed(p.numel()))
    return model


@pytest.mark.parametrize("output", ["logistic", "linear"])
def test_gv_equals_explicit_jacobian_product(output: str) -> None:
    model = tiny_autoencoder(output)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5, 6, generator=gen, dtype=torch.float64)
    G = explicit_gauss_newton(model, x, model.loss_name)
    n_params = G.shape[0]
    op = GaussNewtonOperator(model, x, x, model.loss_name)
    for _ in range(3):
        v = torch.randn(n_params, generator=gen, dtype=torch.float64)
        expected = G @ v
        assert torch.allclose(
            gauss_newton_product(model, x, x, v, model.loss_name), expected, rtol=0, atol=1e-8
        )
        assert torch.allclose(op(v), expected, rtol=0, atol=1e-8)  # one operator, many products
    # the wrong loss Hessian is detected: the test can fail
    other = "squared_error" if model.loss_name == "cross_entropy" else "cross_entropy"
    assert not torch.allclose(gauss_newton_product(model, x, x, v, other), G @ v, atol=1e-4)


def test_gv_on_a_generic_network_and_independent_of_later_parameter_changes() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    x = torch.randn(7, 3, dtype=torch.float64)
    y = torch.randn(7, 2, dtype=torch.float64)
    G = explicit_gauss_newton(model, x, "squared_error")
    v = torch.randn(G.shape[0], dtype=torch.float64)
    op = GaussNewtonOperator(model, x, y, "squared_error")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the operator works on copies taken at construction
    assert torch.allclose(op(v), G @ v, rtol=0, atol=1e-8)


@pytest.mark.parametrize("fast_path", [True, False])
def test_gradient_and_squared_per_case_gradients(fast_path: bool) -> None:
    model = tiny_autoencoder("logistic")
    x = torch.rand(9, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    gp = _GradientPass(model, "cross_entropy", chunk_size=4)  # 3 chunks
    if not fast_path:
        gp.layout = None
    theta = nn.utils.parameters_to_vector(model.parameters()).detach()
    total, g, g2 = gp(theta, x, x, squares=True)
    per_case = []
    for n in range(x.shape[0]):
        model.zero_grad()
        per_case_loss(model(x[n : n + 1]), x[n : n + 1], "cross_entropy").sum().backward()
        per_case.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    stacked = torch.stack(per_case)
    assert total == pytest.approx(
        float(model.objective(model(x), x).detach()) * x.shape[0], rel=1e-12
    )
    assert torch.allclose(g, stacked.sum(0), atol=1e-12)
    assert torch.allclose(g2, stacked.pow(2).sum(0), atol=1e-12)


# ------------------------------------------------------------------------------------------
# Conjugate gradient, stopping rule, backtracking
# ------------------------------------------------------------------------------------------


def random_spd(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = torch.logspace(0, 2, n, dtype=torch.float64)  # condition number 100
    return Q @ torch.diag(eig) @ Q.T


@pytest.mark.parametrize("preconditioned", [False, True])
def test_cg_solves_a_random_spd_system(preconditioned: bool) -> None:
    A = random_spd(30, seed=0)
    b = torch.randn(30, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    M = A.diagonal().clone() if preconditioned else None
    res = conjugate_gradient(lambda v: A @ v, b, max_iters=100, preconditioner=M, tolerance=0.0)
    assert torch.allclose(res.solution, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    x = res.iterates[0]  # phi is tracked correctly: phi(x) = 1/2 x^T A x - b^T x
    assert res.phis[res.iterations[0]] == pytest.approx(float(0.5 * x @ A @ x - b @ x), rel=1e-10)
    assert all(a >= c - 1e-12 for a, c in zip(res.phis, res.phis[1:], strict=False))


def test_stopping_gap() -> None:
    assert [stopping_gap(i) for i in (1, 11, 100, 101, 150, 151, 250)] == [
        10,
        10,
        10,
        11,
        15,
        16,
        25,
    ]


def first_stop(phis: list[float]) -> int | None:
    return next((i for i in range(1, len(phis)) if martens_should_stop(phis, i)), None)


def test_stopping_rule_on_made_up_phi_sequences() -> None:
    # constant phi < 0: no progress at all; the first i with i > k = 10 is 11
    assert first_stop([0.0] + [-1.0] * 250) == 11
    # steady linear decrease: relative progress k / i stays above k * 5e-4 until i = 2000
    assert first_stop([-float(i) for i in range(251)]) is None
    # no progress but phi > 0: never
    assert first_stop([0.0] + [1.0] * 250) is None
    # linear to -140 at i = 140, then flat. With a fixed k = 10 the rule would fire at 150;
    # with k = ceil(i / 10) it needs (140 - (i - k)) / 140 < k * 5e-4: i = 155 (k = 16).
    phis = [-float(min(i, 140)) for i in range(251)]
    assert first_stop(phis) == 155
    assert not martens_should_stop(phis, 154) and martens_should_stop(phis, 155)


def test_cg_stops_where_the_rule_says_and_keeps_the_right_iterates() -> None:
    A = random_spd(200, seed=2)
    b = torch.randn(200, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    res = conjugate_gradient(lambda v: A @ v, b, max_iters=250)
    assert res.stop_reason == "rule"
    assert res.n_iters == first_stop(res.phis)
    kept = [i for i in backtrack_iterations(250) if i <= res.n_iters]
    assert res.iterations == (kept if kept[-1] == res.n_iters else [*kept, res.n_iters])
    # max_iters caps it; min_iters delays the rule
    assert conjugate_gradient(lambda v: A @ v, b, max_iters=7).n_iters == 7
    late = conjugate_gradient(lambda v: A @ v, b, max_iters=250, min_iters=res.n_iters + 5)
    assert late.n_iters >= res.n_iters + 5


def test_backtrack_iterations_are_ceil_5_times_1_3_to_the_j() -> None:
    assert backtrack_iterations(250) == [5, 7, 9, 11, 15, 19, 25, 32, 41, 54, 69, 90, 117, 152, 197]
    assert backtrack_iterations(4) == []


def test_cg_backtrack_picks_the_iterate_the_rule_says() -> None:
    calls: list[int] = []

    def from_list(values: list[float]):
        def objective(j: int) -> float:
            calls.append(j)
            return values[j]

        return objective

    assert cg_backtrack(from_list([5.0, 4.0, 3.0, 2.0, 1.0]), 5) == (4, 1.0)
    assert calls == [4, 3]  # lazy: stops at the first earlier iterate that is worse
    assert cg_backtrack(from_list([1.0, 2.0, 3.0, 4.0, 5.0]), 5) == (0, 1.0)
    assert cg_backtrack(from_list([3.0, 1.0, 2.0, 4.0]), 4) == (1, 1.0)
    assert cg_backtrack(from_list([2.0, 2.0]), 2) == (0, 2.0)  # ties step back, as in HFDemo
    assert cg_backtrack(from_list([7.0]), 1) == (0, 7.0)


# ------------------------------------------------------------------------------------------
# The optimizer
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight_cost", [0.0, 0.5])
def test_hf_reaches_the_minimum_of_a_convex_quadratic_in_one_update(weight_cost: float) -> None:
    gen = torch.Generator().manual_seed(0)
    model = nn.Linear(3, 2).double()  # 8 parameters: exact CG converges before the rule can act
    x = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    y = x @ torch.randn(3, 2, generator=gen, dtype=torch.float64) + 0.3 * torch.randn(
        50, 2, generator=gen, dtype=torch.float64
    )
    design = torch.cat([x, torch.ones(50, 1, dtype=torch.float64)], dim=1)
    # minimum of mean |D B - y|^2 + weight_cost / 2 |B|^2, B = (4, 2): weight^T over bias
    lhs = 2.0 / 50 * design.T @ design + weight_cost * torch.eye(4, dtype=torch.float64)
    best = torch.linalg.solve(lhs, 2.0 / 50 * design.T @ y)
    opt = HessianFree(
        model.parameters(),
        model=model,
        loss="squared_error",
        damping=0.0,
        cg_max_iters=50,
        weight_cost=weight_cost,
    )
    stats = opt.step(gradient_batch=(x, y), curvature_batch=(x, y))
    assert torch.allclose(model.weight.detach(), best[:3].T, atol=1e-9)
    assert torch.allclose(model.bias.detach(), best[3], atol=1e-9)
    assert stats["rho"] == pytest.approx(1.0, abs=1e-6)  # the quadratic model is exact
    assert stats["step_size"] == 1.0 and stats["line_search_tries"] == 1
    assert 1 <= stats["cg_iterations"] <= 50


def small_curves(n: int = 500) -> torch.Tensor:
    return torch.from_numpy(generate_curves(n, seed=0))


@pytest.mark.slow
def test_hf_lowers_the_training_error_per_update_faster_than_sgd() -> None:
    x = small_curves(200)
    sizes, updates = [784, 50, 20, 6], 20
    hf_model = DeepAutoencoder(sizes, seed=0)
    # lambda_0 = 1: the paper's 45 suits its large nets; with it this tiny net needs more updates
    opt = HessianFree(hf_model.parameters(), model=hf_model, damping=1.0, cg_max_iters=20)
    errors, cg_steps = [], 0
    for _ in range(updates):
        stats = opt.step(data=x)  # gradient on all 200 images, curvature on 50, cycled
        errors.append(squared_error(hf_model, x))
        cg_steps += stats["cg_iterations"]
        assert stats["loss_after"] <= stats["loss"]  # the line search never goes uphill
    assert opt.updates_done == updates
    assert opt.total_cg_iterations == stats["total_cg_iterations"] == cg_steps > 0
    best_sgd = math.inf
    for lr in (1.0, 0.3, 0.1):  # SGD at its best learning rate, minibatches of 100
        model = DeepAutoencoder(sizes, seed=0)
        sgd = torch.optim.SGD(model.parameters(), lr=lr)
        for t in range(updates):
            batch = x[100 * (t % 2) : 100 * (t % 2 + 1)]
            sgd.zero_grad()
            model.objective(model(batch), batch).backward()
            sgd.step()
        err = squared_error(model, x)
        best_sgd = min(best_sgd, err if math.isfinite(err) else math.inf)
    # SGD stalls at the mean-image plateau (about 19.4 here); HF gets past it
    assert errors[-1] < 0.95 * best_sgd, (errors, best_sgd)


def test_hybrid_phases_drive_batches_lr_and_decay() -> None:
    x = small_curves(400)
    model = DeepAutoencoder([784, 20, 6], seed=0)
    phases = [
        {
            "start_update": 0,
            "lr": 1.0,
            "decay": 0.95,
            "batch_fraction": 1 / 4,
            "curvature_fraction": 1 / 4,
            "cg_max_iters": 5,
        },
        Phase(start_update=2, decay=0.999, lr=InverseTime(scale=2.0)),  # lr = 2 / t from t = 2
    ]
    opt = HessianFree(model.parameters(), model=model, line_search=False, phases=phases)
    seen = [opt.step(data=x) for _ in range(3)]
    assert [s["lr"] for s in seen] == [1.0, 1.0, 2.0 / 2]
    assert [s["cg_decay"] for s in seen] == [0.95, 0.95, 0.999]
    assert all(s["gradient_cases"] == s["curvature_cases"] == 100 for s in seen)
    assert all(s["step_size"] == s["lr"] and s["line_search_tries"] == 0 for s in seen)
    assert all(1 <= s["cg_iterations"] <= 5 for s in seen)
    g, c = opt.select_batches(x, t=5)
    assert torch.equal(g[0], c[0]) and g[0].shape == (100, 784)


def test_phase_at_carries_settings_forward() -> None:
    phases = [
        Phase(0, lr=1.0, decay=0.95, batch_fraction=1 / 16, cg_max_iters=50),
        Phase(4500, decay=0.999, lr=InverseTime(500.0, offset=4000.0)),
        Phase(9000, batch_fraction=1.0, cg_max_iters=200, decay=0.995, lr=1.0),
    ]
    assert phase_at(phases, 4499).decay == 0.95
    mid = phase_at(phases, 5000)
    assert mid.decay == 0.999 and mid.batch_fraction == 1 / 16 and mid.lr(5000) == 0.5
    assert phase_at(phases, 9000).cg_max_iters == 200 and phase_at(phases, 9000).lr == 1.0
    assert InverseTime(250.0)(250) == 1.0
    ramp = LinearRamp(2e-5, 0.0, start_update=100, end_update=200)
    assert [ramp(t) for t in (0, 100, 150, 200, 300)] == pytest.approx([2e-5, 2e-5, 1e-5, 0, 0])
    with pytest.raises(ValueError, match="order of start_update"):
        phase_at(list(reversed(phases)), 0)
    with pytest.raises(ValueError, match="t must exceed offset"):
        InverseTime(500.0, offset=4000.0)(4000)


def test_cycled_chunk() -> None:
    assert [cycled_chunk(1000, 0.25, t) for t in (0, 1, 5)] == [
        slice(0, 250),
        slice(250, 500),
        slice(250, 500),
    ]
    assert cycled_chunk(1000, 1.0, 7) == slice(0, 1000)
    with pytest.raises(ValueError, match="fraction must be in"):
        cycled_chunk(1000, 0.0, 0)


def test_state_dict_round_trip_resumes_identically() -> None:
    x = small_curves(200)

    def make() -> tuple[DeepAutoencoder, HessianFree]:
        model = DeepAutoencoder([784, 10, 4], seed=0).double()
        return model, HessianFree(model.parameters(), model=model, cg_max_iters=5)

    model_a, opt_a = make()
    opt_a.step(data=x)
    model_b, opt_b = make()
    model_b.load_state_dict(model_a.state_dict())
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.updates_done == 1 and opt_b.damping == opt_a.damping
    sa, sb = opt_a.step(data=x), opt_b.step(data=x)
    assert sa["loss_after"] == sb["loss_after"] and sa["cg_iterations"] == sb["cg_iterations"]


def test_non_finite_objective_leaves_the_parameters_alone() -> None:
    model = DeepAutoencoder([784, 10, 4], seed=0)
    with torch.no_grad():
        model.layers[0].bias[0] = float("nan")
    before = nn.utils.parameters_to_vector(model.parameters()).clone()
    opt = HessianFree(model.parameters(), model=model, cg_max_iters=5)
    stats = opt.step(data=small_curves(50))
    assert math.isnan(stats["loss"]) and stats["cg_iterations"] == 0
    after = nn.utils.parameters_to_vector(model.parameters())
    assert torch.equal(after.nan_to_num(7.0), before.nan_to_num(7.0))  # NaN != NaN otherwise
    assert opt.updates_done == 1


def test_bad_arguments_are_reported() -> None:
    model = DeepAutoencoder([784, 10, 4], seed=0)
    other = DeepAutoencoder([784, 10, 4], seed=1)
    with pytest.raises(ValueError, match=r"params must be model\.parameters"):
        HessianFree(other.parameters(), model=model)
    with pytest.raises(ValueError, match="loss must be one of"):
        HessianFree(model.parameters(), model=model, loss="hinge")
    opt = HessianFree(model.parameters(), model=model)
    with pytest.raises(ValueError, match="needs data"):
        opt.step()
