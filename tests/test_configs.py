"""Every config in conf/ composes, and everything it names instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from conftest import CONF, compose_config
from momentum_repro.training.optimizers import optimizer_factory
from momentum_repro.workloads.moons import with_epoch_updates

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_groups_exist() -> None:
    assert {"data", "model", "optimizer", "schedule", "trainer", "profile", "tracking"} <= set(
        GROUPS
    )


@pytest.mark.parametrize(
    ("group", "option"), [(g, o) for g in GROUPS for o in options(g)], ids=lambda v: str(v)
)
def test_every_option_composes(group: str, option: str) -> None:
    data = (CONF / "data" / f"{option}.yaml").read_text() if group == "data" else ""
    rnn = "RNNWorkload" in data or (group in ("model", "schedule") and option == "rnn")
    moons = (group, option) == ("experiment", "moons") or "MoonsWorkload" in data
    experiment = ["experiment=rnn"] if rnn else []
    if moons and group != "experiment":
        experiment = ["experiment=moons"]
    cfg = compose_config([f"{group}={option}", *experiment])
    if moons:  # counted in epochs: the update count follows from the set's 300 cases
        cfg = with_epoch_updates(cfg, 300)
    assert cfg.trainer.total_updates > 0
    if group == "model" and option == "rnn":
        model = instantiate(cfg.model, seed=0)
        assert model.n_hidden == 100
    elif group == "model":
        model = instantiate(cfg.model, seed=0)
        assert sum(p.numel() for p in model.parameters()) > 0
    if group == "schedule":
        cfg.optimizer.mu_max = 0.99
        mu = instantiate(cfg.schedule)
        assert 0.0 < mu(0) <= mu(10**6) <= 0.99
    if group == "optimizer":
        params = [torch.nn.Parameter(torch.ones(3))]
        opt = optimizer_factory(cfg)(params)
        assert isinstance(opt, torch.optim.Optimizer)
        assert opt.param_groups[0]["lr"] == cfg.optimizer.lr


@pytest.mark.parametrize("model", ["curves", "mnist", "faces"])
def test_model_configs_follow_table_6(model: str) -> None:
    cfg = compose_config([f"data={model}"])  # the model follows the data set
    sizes = list(cfg.model.encoder_sizes)
    expected = {
        "curves": [784, 400, 200, 100, 50, 25, 6],
        "mnist": [784, 1000, 500, 250, 30],
        "faces": [625, 2000, 1000, 500, 30],
    }
    assert sizes == expected[model]
    assert cfg.model.output == ("linear" if model == "faces" else "logistic")


def test_paper_profile_is_the_papers_protocol() -> None:
    cfg = compose_config(["profile=paper"])
    assert cfg.trainer.total_updates == 750_000
    assert cfg.trainer.batch_size == 200
    assert cfg.schedule.period == 250


@pytest.mark.parametrize(
    ("profile", "updates"),
    [
        ("cpu", {"curves": 2500, "mnist": 2500, "faces": 1250}),
        ("paper", dict.fromkeys(["curves", "mnist", "faces"], 750_000)),
    ],
)
def test_a_profile_may_give_faces_its_own_length(profile: str, updates: dict[str, int]) -> None:
    got = {
        d: compose_config([f"profile={profile}", f"data={d}"]).trainer.total_updates
        for d in updates
    }
    assert got == updates


def test_unknown_optimizer_names_the_choices() -> None:
    with pytest.raises(ConfigCompositionException, match="optimizer") as error:
        compose_config(["optimizer=adagrad_typo"])
    assert "nag" in str(error.value) and "cm" in str(error.value)


def test_user_optimizer_plugs_in_by_target(tmp_path: Path) -> None:
    cfg = compose_config(
        ["optimizer=adam", "optimizer.factory._target_=torch.optim.RMSprop", "optimizer.lr=0.01"]
    )
    opt = optimizer_factory(cfg)([torch.nn.Parameter(torch.ones(2))])
    assert isinstance(opt, torch.optim.RMSprop)


def test_table_experiments_are_the_papers_grids() -> None:
    t1 = compose_config(["experiment=table1"], with_hydra=True).hydra.sweeper.params
    assert set(t1["data"].split(",")) == {"curves", "mnist", "faces"}
    assert set(t1["optimizer.mu_max"].split(",")) == {"0", "0.9", "0.99", "0.995", "0.999"}
    lrs = {float(v) for v in t1["optimizer.lr"].split(",")}
    assert lrs == {0.05, 0.01, 0.005, 0.001, 0.0005, 0.0001}
    assert (
        compose_config(["experiment=table1", "profile=paper"]).schedule.final_phase_updates == 1000
    )
    t2 = compose_config(["experiment=table2", "profile=paper"])
    assert t2.schedule.final_phase_updates == 1000 and t2.schedule.final_mu == 0.9
    t3 = compose_config(["experiment=table3"], with_hydra=True).hydra.sweeper.params
    assert [float(v) for v in t3["model.init_scale"].split(",")] == [0.25, 0.5, 1, 2, 4]
