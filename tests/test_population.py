"""Population training: every member equals its solo run (float64, 1e-9 relative), a diverged
member is frozen without touching the others, and the stacked forms equal the solo models."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import compose_config, train
from momentum_repro.data.rnn_tasks import get_task, make_eval_set
from momentum_repro.models import stacked_rnn
from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.models.rnn import TanhRNN, batch_tensors, task_loss
from momentum_repro.models.stacked_autoencoder import (
    StackedAutoencoder,
    _StackedLinear,
)
from momentum_repro.models.stacked_rnn import (
    StackedTanhRNN,
    _StackedTanhSteps,
    member_losses,
    stack_batches,
)
from momentum_repro.training.loop import FitResult
from momentum_repro.training.population.fit import fit_population
from momentum_repro.training.population.launch import plan_populations, split_evenly
from momentum_repro.training.population.members import population_group, solo_only_reason
from momentum_repro.training.population.momentum import method_runs
from momentum_repro.training.population.outcome import TrainedMember, member_file, save
from momentum_repro.training.run import RunPlan, plan_run

# 200 updates of float64, period 5 (mu rises 0.5, 0.75, ... and caps at mu_max within the run)
# and a final phase of 30 updates: the members cross schedule changes and the final phase
COMMON = [
    "profile=tiny",
    "trainer.threads=1",
    "trainer.progress_bar=false",
    "trainer.heartbeat_seconds=0",
    "trainer.precision=float64",
    "trainer.total_updates=200",
    "trainer.log_every=50",
]
# CM, NAG and SGD of different lr and mu_max, two seeds
MEMBERS = [
    ["optimizer=nag", "optimizer.lr=0.01", "optimizer.mu_max=0.99"],
    ["optimizer=cm", "optimizer.lr=0.005", "optimizer.mu_max=0.9"],
    ["optimizer=sgd", "optimizer.lr=0.01"],
    ["optimizer=nag", "optimizer.lr=0.003", "optimizer.mu_max=0.9", "seed=2"],
    ["optimizer=cm", "optimizer.lr=0.01", "optimizer.mu_max=0.99", "seed=2"],
]

# the RNN's: lrs at its scale (the summed objective); at lr 1e-2 SGD explodes (weights x10 an
# update), and rounding differences grow with the weights until the overflow's update differs
RNN_MEMBERS = [
    ["optimizer=nag", "optimizer.lr=1e-3", "optimizer.mu_max=0.995"],
    ["optimizer=cm", "optimizer.lr=1e-3", "optimizer.mu_max=0.9"],
    ["optimizer=sgd", "optimizer.lr=1e-3"],
    ["optimizer=biases", "optimizer.lr=1e-3"],  # only the output biases learn
    ["optimizer=nag", "optimizer.lr=3e-3", "optimizer.mu_max=0.99", "seed=2"],
]


def assert_same_run(solo: FitResult, member: FitResult, rel: float = 1e-9) -> None:
    assert member.diverged == solo.diverged
    assert member.updates_done == solo.updates_done
    assert member.failure_reason == solo.failure_reason
    assert set(member.final) == set(solo.final)
    for key, value in solo.final.items():
        assert member.final[key] == pytest.approx(value, rel=rel, abs=1e-300), key
    if solo.weights is not None:
        assert member.weights is not None and set(member.weights) == set(solo.weights)
        for name, w in solo.weights.items():
            scale = float(w.abs().max()) or 1.0
            assert float((member.weights[name] - w).abs().max()) <= rel * scale, name


def autoencoder_plans(data: Path, members: list[list[str]]) -> list[RunPlan]:
    base = [
        *COMMON,
        f"data.path={data}",
        "model.encoder_sizes=[784,40,20,10,6]",
        "schedule.final_phase_updates=30",
    ]
    return [plan_run(compose_config(base + m)) for m in members]


@pytest.fixture(scope="module")
def rnn_eval_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rnn") / "addition.npz"
    np.savez(path, **make_eval_set("addition", 12, 300, seed=5).as_arrays())
    return path


def rnn_overrides(eval_path: Path) -> list[str]:
    return [
        *COMMON,
        "experiment=rnn",
        "data=addition",
        "data.seq_len=12",
        f"data.eval_path={eval_path}",
        "trainer.batch_size=20",
        "schedule.warmup_updates=50",  # mu 0.9, then mu_0 = mu_max: a change mid-run
    ]


def rnn_plans(eval_path: Path, members: list[list[str]]) -> list[RunPlan]:
    return [plan_run(compose_config(rnn_overrides(eval_path) + m)) for m in members]


def test_stacked_autoencoder_is_the_solo_models() -> None:
    """Outputs, objectives and every parameter's gradient equal each solo model's."""
    models = [DeepAutoencoder([30, 12, 4], seed=s).double() for s in (1, 2, 3)]
    stacked = StackedAutoencoder(models)
    x = torch.rand(3, 7, 30, dtype=torch.float64)
    z = stacked.forward(x)
    losses = stacked.objectives(z, x)
    losses.sum().backward()
    for k, model in enumerate(models):
        torch.testing.assert_close(z[k], model(x[k]), rtol=1e-12, atol=1e-14)
        loss = model.objective(model(x[k]), x[k])
        torch.testing.assert_close(losses[k], loss, rtol=1e-12, atol=0)
        loss.backward()
        for i, layer in enumerate(model.layers):
            torch.testing.assert_close(
                stacked.weights[i].grad[k], layer.weight.grad, rtol=1e-10, atol=1e-14
            )
            torch.testing.assert_close(
                stacked.biases[i].grad[k], layer.bias.grad, rtol=1e-10, atol=1e-14
            )


def test_stacked_layers_backward_is_the_finite_difference_gradient() -> None:
    """The hand-written backward of both stacked forms against torch.autograd.gradcheck
    (central differences in float64), the RNN's CPU form with left padding, with every
    step's output and with outputs at two steps (not the last: z is 0 there)."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()

    h, w, b = rand(2, 5, 4), rand(2, 3, 4), rand(2, 3)
    assert torch.autograd.gradcheck(_StackedLinear.apply, (h, w, b))
    x = rand(6, 2, 3, 2)  # (L, K, B, n_in)
    valid = torch.ones(6, 2, 3, 1, dtype=torch.float64)
    valid[:2, 1] = 0.0  # member 1's minibatch is 2 steps shorter
    weights = (rand(2, 4, 2), rand(2, 4), rand(2, 4, 4, scale=0.5), rand(2, 3, 4), rand(2, 3))
    assert torch.autograd.gradcheck(lambda *p: _StackedTanhSteps.apply(*p, valid), (x, *weights))
    outputs = [False, True, False, False, True, False]
    z = _StackedTanhSteps.apply(x, *weights, valid, outputs)
    assert not z[[0, 2, 3, 5]].any() and z[[1, 4]].abs().min() > 0
    assert torch.autograd.gradcheck(
        lambda *p: _StackedTanhSteps.apply(*p, valid, outputs), (x, *weights)
    )


@pytest.mark.parametrize(
    ("step_by_step", "two_member_blocks", "scored_only"),
    [
        (True, False, False),
        (True, True, False),
        (True, False, True),
        (True, True, True),
        (False, False, False),
        (False, False, True),
    ],
    ids=[
        "cpu-form",
        "cpu-form-in-blocks",
        "cpu-form-scored",
        "cpu-form-in-blocks-scored",
        "gpu-form",
        "gpu-form-scored",
    ],
)
def test_stacked_rnn_with_padding_is_the_solo_networks(
    step_by_step: bool, two_member_blocks: bool, scored_only: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members' minibatches of different lengths, left-padded: outputs and gradients equal
    each solo network's on its own unpadded minibatch, in both forms of the network (the CPU
    form also in blocks of two members), with every step's output or only the scored ones
    (``scored``: the outputs the loss reads)."""
    if two_member_blocks:  # 3 cases x 8 units: blocks of two members, the last one short
        monkeypatch.setattr(stacked_rnn, "STEP_BLOCK_NUMBERS", 48)
    models = [TanhRNN(2, 3, n_hidden=8, fan_in=3, seed=s, dtype=torch.float64) for s in (1, 2, 3)]
    stacked = StackedTanhRNN(models)
    lengths = (5, 8, 6)
    batches = []
    for k, n in enumerate(lengths):
        g = torch.Generator().manual_seed(k)
        x = torch.randn(3, n, 2, generator=g, dtype=torch.float64)
        y = torch.randn(3, n, generator=g, dtype=torch.float64)
        m = torch.zeros(3, n, dtype=torch.bool)
        m[:, -3:] = True  # the outputs of the last 3 steps count
        batches.append((x, y, m))
    inputs, _, mask, valid = stack_batches(batches)
    assert valid is not None and inputs.shape == (3, 3, 8, 2)
    z = stacked.forward(inputs, valid, step_by_step, scored=mask if scored_only else None)
    (z[mask].pow(2).sum()).backward()
    for k, (model, (x, _, m)) in enumerate(zip(models, batches, strict=True)):
        solo = model(x)
        member = z[k][:, -x.shape[1] :]
        if scored_only and step_by_step:  # the outputs no member's loss reads are 0
            assert not member[:, :-3].any()
            member, solo_out = member[:, -3:], solo[:, -3:]
        else:
            solo_out = solo
        torch.testing.assert_close(member, solo_out, rtol=1e-12, atol=1e-14)
        solo[m].pow(2).sum().backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(
                stacked.tensors[name].grad[k], p.grad, rtol=1e-10, atol=1e-14, msg=name
            )


@pytest.mark.parametrize("task", ["addition", "multiplication", "xor", "mem5", "temporal_order2"])
def test_member_losses_are_each_members_task_loss(task: str) -> None:
    """Real batches of every output kind (linear, logistic, softmax; one target step or many;
    left padding), two members with different minibatches."""
    batches = [
        batch_tensors(get_task(task)(15, 9, np.random.default_rng(seed)), torch.float64)
        for seed in (1, 2)
    ]
    _, targets, mask, _ = stack_batches([tuple(t for t in b if t is not None) for b in batches])
    n_out = get_task(task).n_outputs
    z = torch.randn(
        *mask.shape, n_out, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    losses = member_losses(task, z, targets, mask)
    for k in range(2):
        expected = task_loss(task, z[k], targets[k], mask[k], reduction="sum")
        torch.testing.assert_close(losses[k], expected, rtol=1e-12, atol=0)


def test_membership_rules() -> None:
    nag = compose_config(["optimizer=nag"])
    assert solo_only_reason(nag) is None
    assert solo_only_reason(compose_config(["optimizer=sgd"])) is None
    assert "hessian_free" in solo_only_reason(compose_config(["optimizer=hf"]))
    assert "torch.optim.Adam" in solo_only_reason(compose_config(["optimizer=adam"]))
    assert "moons" in solo_only_reason(compose_config(["experiment=moons"]))
    # members differ in method, lr, mu_max and seed; not in data, precision or update count
    same = [
        compose_config(["optimizer=cm", "optimizer.lr=0.1", "optimizer.mu_max=0.9", "seed=3"]),
        compose_config(["optimizer=sgd", "model.init_scale=2"]),
    ]
    assert population_group(same[0]) == population_group(nag) == population_group(same[1])
    for other in (["data=mnist"], ["trainer.precision=float64"], ["trainer.total_updates=7"]):
        assert population_group(compose_config(other)) != population_group(nag)


def test_split_evenly() -> None:
    assert split_evenly(list(range(10)), 4) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split_evenly(list(range(8)), 8) == [list(range(8))]
    assert split_evenly([], 3) == []
    with pytest.raises(ValueError, match="max_size"):
        split_evenly([1], 0)


def test_method_runs_are_the_contiguous_runs_of_one_method() -> None:
    assert method_runs([True, True, False, False, False]) == [
        (slice(0, 2), True),
        (slice(2, 5), False),
    ]
    assert method_runs([False, True, False]) == [
        (slice(0, 1), False),
        (slice(1, 2), True),
        (slice(2, 3), False),
    ]
    assert method_runs([True]) == [(slice(0, 1), True)]
    assert method_runs([]) == []


def test_a_population_puts_its_nag_members_first_then_the_rest_in_job_order(
    rnn_eval_set: Path,
) -> None:
    jobs = [
        ["optimizer=cm", "optimizer.lr=0.01"],
        ["optimizer=nag", "optimizer.lr=0.02"],
        ["optimizer=sgd", "optimizer.lr=0.03"],
        ["optimizer=nag", "optimizer.lr=0.04"],
    ]
    base = [*rnn_overrides(rnn_eval_set), "tracking.resume=false"]
    (group,) = plan_populations([compose_config(base + job) for job in jobs], 32).populations
    order = [(str(m.plan.cfg.optimizer.name), float(m.plan.cfg.optimizer.lr)) for m in group]
    assert order == [("nag", 0.02), ("nag", 0.04), ("cm", 0.01), ("sgd", 0.03)]


def test_a_member_trained_before_is_logged_and_a_failed_one_trained_again(
    rnn_eval_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep killed after a population ended but before its members were logged finds
    their outcomes; one whose population failed is planned into a population again."""
    monkeypatch.chdir(tmp_path)  # where the population's folders go (the store's root)
    jobs = [["optimizer=nag", "optimizer.lr=0.01"], ["optimizer=cm", "optimizer.lr=0.02"]]
    cfgs = [
        compose_config([*rnn_overrides(rnn_eval_set), "tracking.resume=false", *j]) for j in jobs
    ]
    (group,) = plan_populations(cfgs, 32).populations
    nag, cm = (m.plan for m in group)
    folder = tmp_path / "checkpoints"
    save(
        TrainedMember(2, FitResult(10, 1.0, final={"final_zero_one": 0.5})),
        member_file(folder, nag.key),
    )
    save(TrainedMember(2, error="RuntimeError: out of memory"), member_file(folder, cm.key))
    plan = plan_populations(cfgs, 32)
    assert plan.trained == {0: member_file(folder, nag.key)}
    assert plan.populations == []  # cm alone: a population of one, trained alone
    assert not member_file(folder, cm.key).exists()


@pytest.mark.slow
def test_autoencoder_members_equal_their_solo_runs(tiny_curves: Path) -> None:
    plans = autoencoder_plans(tiny_curves, MEMBERS)
    trained = fit_population(plans)
    for plan in plans:
        member = trained[plan.key]
        assert member.members == len(plans)
        assert "train_error_before_final_phase" in member.result.final or "sgd" in str(
            plan.cfg.optimizer.name
        )
        assert_same_run(train(plan.cfg), member.result)
        assert [step for _, step in member.curve] == [0, 50, 100, 150, 200]


@pytest.mark.slow
def test_rnn_members_equal_their_solo_runs(rnn_eval_set: Path) -> None:
    plans = rnn_plans(rnn_eval_set, RNN_MEMBERS)
    trained = fit_population(plans)
    for plan in plans:
        assert_same_run(train(plan.cfg), trained[plan.key].result)


@pytest.mark.slow
def test_a_diverging_member_is_frozen_and_the_others_are_untouched(rnn_eval_set: Path) -> None:
    members = [
        ["optimizer=nag", "optimizer.lr=1e-3", "optimizer.mu_max=0.99"],
        ["optimizer=cm", "optimizer.lr=1e3", "optimizer.mu_max=0.99", "seed=2"],
        ["optimizer=sgd", "optimizer.lr=3e-3", "seed=2"],
    ]
    plans = rnn_plans(rnn_eval_set, members)
    trained = fit_population(plans)
    wild = trained[plans[1].key].result
    assert wild.diverged and wild.final == {} and wild.weights is None
    assert "diverged: the loss became NaN or infinite at update" in str(wild.failure_reason)
    assert 0 < wild.updates_done < 200
    for plan in plans:  # the diverged one too: same update count and reason as alone
        assert_same_run(train(plan.cfg), trained[plan.key].result)


@pytest.mark.slow
def test_autoencoder_member_at_lr_1e3_diverges_alone(tiny_curves: Path) -> None:
    """Linear outputs (squared error, FACES' kind): lr 1e3 overflows within a few updates."""
    members = [
        ["optimizer=nag", "optimizer.lr=0.01", "optimizer.mu_max=0.99"],
        ["optimizer=nag", "optimizer.lr=1e3", "optimizer.mu_max=0.99"],
        ["optimizer=sgd", "optimizer.lr=0.01", "seed=2"],
    ]
    plans = autoencoder_plans(tiny_curves, [[*m, "model.output=linear"] for m in members])
    trained = fit_population(plans)
    assert trained[plans[1].key].result.diverged
    for plan in plans:
        assert_same_run(train(plan.cfg), trained[plan.key].result)


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cuda_graph", [True, False])
def test_members_trained_on_a_gpu_equal_their_solo_cpu_runs(
    tiny_curves: Path, rnn_eval_set: Path, cuda_graph: bool
) -> None:
    """The GPU path end to end (the data, the updates, curves and snapshots on the device;
    final errors on the CPU, as a solo run's): float64 members equal the solo CPU runs."""
    gpu = ["trainer.accelerator=gpu"]
    for plans in (
        autoencoder_plans(tiny_curves, [[*m, *gpu] for m in MEMBERS]),
        rnn_plans(rnn_eval_set, [[*m, *gpu] for m in RNN_MEMBERS]),
    ):
        trained = fit_population(plans, cuda_graph=cuda_graph)
        for plan in plans:
            cpu = copy.deepcopy(plan.cfg)
            cpu.trainer.accelerator = "cpu"
            assert_same_run(train(cpu), trained[plan.key].result)
