"""The worked example through the pipeline: configs, the network and its minibatches against
the exercise's definitions, and (slow) three short runs logged to MLflow and reported."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_config, empty_store
from momentum_repro.data.moons import make_moons
from momentum_repro.data.sets import save_labelled_set
from momentum_repro.errors import ConfigError
from momentum_repro.models.classifier import accuracy, cross_entropy
from momentum_repro.optim import ClassicalMomentum, EMAMomentum
from momentum_repro.report.boundary import ARTIFACT
from momentum_repro.report.build import build_report
from momentum_repro.training.optimizers import optimizer_factory
from momentum_repro.training.run import run_job
from momentum_repro.workloads.batches import ReshuffledBatches
from momentum_repro.workloads.moons import with_epoch_updates


@pytest.mark.parametrize("method", ["ema_momentum", "sgd", "adam"])
def test_experiment_is_the_worked_example(method: str) -> None:
    cfg = compose_config(["experiment=moons", f"optimizer={method}"])  # the command line wins
    assert cfg.optimizer.name == method and cfg.optimizer.lr == 0.0007
    assert (cfg.data.name, cfg.trainer.batch_size, cfg.data.epochs) == ("moons", 64, 10_000)
    assert cfg.data._target_.endswith("MoonsWorkload")
    assert list(cfg.model.layer_sizes) == [2, 5, 2, 1]
    assert with_epoch_updates(cfg, 300).trainer.total_updates == 10_000 * 5
    opt = optimizer_factory(cfg)([torch.nn.Parameter(torch.zeros(2))])
    if method == "adam":
        group = opt.param_groups[0]
        assert isinstance(opt, torch.optim.Adam)
        assert (group["betas"], group["eps"]) == ((0.9, 0.999), 1e-8)
    elif method == "sgd":
        assert isinstance(opt, ClassicalMomentum) and opt.mu(0) == 0.0
    else:
        assert isinstance(opt, EMAMomentum) and opt.beta == 0.9 and cfg.optimizer.mu_max == 0.9


def test_run_length_is_counted_in_epochs() -> None:
    cfg = compose_config(["experiment=moons", "data.epochs=7"])
    assert with_epoch_updates(cfg, 300).trainer.total_updates == 35
    assert with_epoch_updates(cfg, 256).trainer.total_updates == 28  # no smaller last batch
    with pytest.raises(ConfigError, match="counted in epochs"):
        with_epoch_updates(compose_config(["experiment=moons", "trainer.total_updates=99"]), 300)
    with pytest.raises(ConfigError, match=r"data\.epochs"):
        with_epoch_updates(compose_config(["experiment=moons", "data.epochs=0"]), 300)


def test_minibatches_are_the_exercises() -> None:
    """Epoch e is permuted by np.random.seed(11 + e); batches of 64, the last one smaller."""
    points = torch.arange(300.0).unsqueeze(1)
    labels = torch.arange(300)
    stream = iter(ReshuffledBatches(points, labels, 64, first_seed=11))
    for epoch in range(3):
        order = np.random.RandomState(11 + epoch).permutation(300)
        batches = [next(stream) for _ in range(5)]
        assert [len(b[1]) for b in batches] == [64, 64, 64, 64, 44]
        np.testing.assert_array_equal(torch.cat([b[1] for b in batches]).numpy(), order)
        np.testing.assert_array_equal(torch.cat([b[0] for b in batches]).squeeze(1).numpy(), order)


def test_a_resumed_run_continues_the_minibatches_where_it_stopped() -> None:
    points = torch.arange(300.0).unsqueeze(1)
    labels = torch.arange(300)
    straight = iter(ReshuffledBatches(points, labels, 64, first_seed=11))
    expected = [next(straight)[1] for _ in range(12)][7:]
    resumed = ReshuffledBatches(points, labels, 64, first_seed=11)
    resumed.skip(7)  # 7 batches trained: the third batch of the second epoch comes next
    stream = iter(resumed)
    for batch in expected:
        torch.testing.assert_close(next(stream)[1], batch)


def test_network_is_the_exercises() -> None:
    """He init drawn as the exercise draws it, and a NumPy forward pass, cost and accuracy."""
    cfg = compose_config(["experiment=moons"])
    model = instantiate(cfg.model, seed=3, dtype=torch.float64)
    rng = np.random.RandomState(3)
    sizes = [2, 5, 2, 1]
    W = [rng.randn(n, m) * np.sqrt(2 / m) for m, n in itertools.pairwise(sizes)]
    for layer, w in zip(model.layers, W, strict=True):
        np.testing.assert_array_equal(layer.weight.detach().numpy(), w)
        assert not layer.bias.detach().numpy().any()
    with torch.no_grad():  # non-zero biases, so the check covers them
        for layer in model.layers:
            layer.bias.copy_(torch.linspace(-0.3, 0.4, len(layer.bias)))
    b = [layer.bias.detach().numpy() for layer in model.layers]
    X, y = make_moons(300, 0.2, 3)
    a1 = np.maximum(0, X @ W[0].T + b[0])
    a2 = np.maximum(0, a1 @ W[1].T + b[1])
    p = 1 / (1 + np.exp(-(a2 @ W[2].T + b[2])[:, 0]))
    points, labels = torch.from_numpy(X), torch.from_numpy(y)
    np.testing.assert_allclose(model.probability(points).numpy(), p, rtol=1e-12)
    cost = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(cross_entropy(model(points), labels).detach()) == pytest.approx(cost, rel=1e-12)
    assert accuracy(model, points, labels) == pytest.approx(np.mean((p > 0.5) == y))


def test_moons_data_without_the_experiment_names_it(tmp_path: Path) -> None:
    cfg = compose_config(["data=moons", "model=curves", f"tracking.uri=sqlite:///{tmp_path}/m.db"])
    with pytest.raises(ConfigError, match="experiment=moons"):
        run_job(cfg)


@pytest.mark.slow
def test_three_short_runs_are_logged_and_reported(tmp_path: Path) -> None:
    X, y = make_moons(300, 0.2, 3)
    data = save_labelled_set(tmp_path / "moons", X, y, {"name": "moons", "source": "generated"})
    uri = empty_store(tmp_path / "mlflow.db")
    common = [
        "experiment=moons",
        f"data.path={data}",
        "data.epochs=40",
        "trainer.log_every=40",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        "optimizer.lr=0.05",  # 40 epochs at the exercise's 0.0007 would barely move
        f"tracking.uri={uri}",
        f"tracking.artifact_root={tmp_path}/art",
        "sweep_name=moons_test",
    ]
    results = {m: run_job(compose_config([*common, f"optimizer={m}"])) for m in ("sgd", "ema_momentum", "adam")}  # fmt: skip
    client = mlflow.MlflowClient(uri)
    for method, res in results.items():
        assert res["status"] == "FINISHED" and not res["diverged"]
        assert 0.5 < res["final_train_accuracy"] <= 1.0 and res["final_cost"] > 0
        run = client.get_run(res["run_id"])
        tags = run.data.tags
        assert (tags["task_kind"], tags["dataset"], tags["method"]) == ("moons", "moons", method)
        assert (tags["epochs"], tags["total_updates"], tags["updates_done"]) == ("40", "200", "200")
        cost = client.get_metric_history(res["run_id"], "train_cost")
        assert [m.step for m in cost] == [0, 40, 80, 120, 160, 200]
        assert cost[-1].value == pytest.approx(res["final_cost"], rel=1e-9)
        assert cost[-1].value < cost[0].value  # it learned
        assert ARTIFACT in {a.path for a in client.list_artifacts(res["run_id"])}
    # Adam at this lr separates the moons better than GD after 40 epochs
    assert results["adam"]["final_train_accuracy"] > results["sgd"]["final_train_accuracy"]

    report = build_report(uri, "momentum-repro", ["moons_test"], tmp_path / "reports")
    costs = report.figures["moons_costs"].axes[0]
    assert [ln.get_label() for ln in costs.get_lines()] == [
        "GD (lr 0.05)", "EMA momentum (lr 0.05)", "Adam (lr 0.05)",
    ]  # fmt: skip
    assert max(costs.get_lines()[0].get_xdata()) == 40  # plotted against epochs
    panels = report.figures["moons_boundaries"].axes
    assert len(panels) == 3 and panels[2].get_title().startswith("Adam: ")
    html = (report.out_dir / "index.html").read_text()
    assert "The worked example: two moons" in html and "about 94.0%" not in html  # 40 epochs
    adam = 100 * results["adam"]["final_train_accuracy"]
    assert f"{adam:.1f}%" in html
    metrics = json.loads((report.out_dir / "metrics.json").read_text())
    assert metrics["moons"]["final_train_accuracy"]["adam"] == pytest.approx(adam / 100)
    assert (report.out_dir / "figures" / "moons_boundaries.png").exists()
