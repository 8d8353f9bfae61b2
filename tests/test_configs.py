"""Every config in conf/ composes, and everything it names instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from conftest import CONF, compose_config
from momentum_repro.training.optimizers import optimizer_factory

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
    rnn = (
        group == "data" and (CONF / "data" / f"{option}.yaml").read_text().count("kind: rnn")
    ) or (group in ("model", "schedule") and option == "rnn")
    cfg = compose_config([f"{group}={option}", *(["experiment=rnn"] if rnn else [])])
    assert cfg.trainer.total_updates > 0
    if group == "model" and option == "rnn":
        model = instantiate(cfg.model, seed=0)
        assert model.n_hidden == 100
    elif group == "model":
        model = instantiate(cfg.model, seed=0)
        assert sum(p.numel() for p in model.parameters()) > 0
    if group == "optimizer":
        params = [torch.nn.Parameter(torch.ones(3))]
        opt = optimizer_factory(cfg)(params)
        assert isinstance(opt, torch.optim.Optimizer)
        assert opt.param_groups[0]["lr"] == cfg.optimizer.lr


@pytest.mark.parametrize("model", ["curves", "mnist", "faces"])
def test_model_configs_follow_table_6(model: str) -> None:
    cfg = (
        compose_config([f"model={model}", f"data={model}"])
        if (CONF / "data" / f"{model}.yaml").exists()
        else compose_config([f"model={model}"])
    )
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
