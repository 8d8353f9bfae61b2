"""The DVC sweep stage's plan: one multirun per sweep, as a union of grids whose jobs are
exactly the paper's grid (SGD over lr; CM and NAG over mu_max x lr)."""

from __future__ import annotations

import pytest

from momentum_repro.grids import expand_grids, grids_as_written
from momentum_repro.training.run import parallel_jobs, torch_threads
from momentum_repro.training.sweep_plan import (
    for_profile,
    joins_a_union,
    multirun_overrides,
    planned_multiruns,
    sweep_grids,
    swept_over_mu_max,
    union_overrides,
)

CURVES = {"data": "curves", "model": "curves", "methods": ["sgd", "cm", "nag"]}


def jobs(sweep: dict, profile: str = "quick") -> set[tuple[str, ...]]:
    """(optimizer, mu_max or '-', lr) of every job the plan's multirun runs."""
    overrides = multirun_overrides("s", sweep, profile, "basic")
    grids_arg = next(o for o in overrides if o.startswith("hydra.sweeper.grids="))
    common = [o for o in overrides if not o.startswith(("hydra/", "hydra."))]
    sweep = for_profile(sweep, profile)
    out = set()
    for job in expand_grids(common, sweep_grids(sweep)):
        values = dict(o.split("=", 1) for o in job)
        out.add((values["optimizer"], values.get("optimizer.mu_max", "-"), values["optimizer.lr"]))
    assert grids_arg.count("[") == len(sweep_grids(sweep)) + 1
    return out


def test_the_flag_in_the_optimizer_config_says_what_is_swept_over_mu_max() -> None:
    assert [swept_over_mu_max(m) for m in ("cm", "nag")] == [True, True]
    assert [swept_over_mu_max(m) for m in ("sgd", "biases", "hf", "hf_momentum", "adam")] == [
        False
    ] * 5
    with pytest.raises(ValueError, match="unknown method 'rmsprop'"):
        swept_over_mu_max("rmsprop")


def test_sgd_runs_once_per_lr_and_momentum_methods_per_mu_max_and_lr() -> None:
    sweep = {**CURVES, "mu_max": [0.9, 0.99], "lr": [0.01, 0.005]}
    expected = {("sgd", "-", lr) for lr in ("0.01", "0.005")}
    expected |= {
        (m, mu, lr) for m in ("cm", "nag") for mu in ("0.9", "0.99") for lr in ("0.01", "0.005")
    }
    assert jobs(sweep) == expected  # 10 jobs, no SGD crossed with mu_max


def test_a_profile_replaces_the_sweeps_keys_it_names() -> None:
    sweep = {**CURVES, "mu_max": [0.9, 0.99], "lr": [0.01, 0.005]}
    sweep["profiles"] = {"quick": {"lr": [0.01], "methods": ["sgd", "nag"]}}
    assert jobs(sweep, "quick") == {
        ("sgd", "-", "0.01"),
        ("nag", "0.9", "0.01"),
        ("nag", "0.99", "0.01"),
    }
    assert len(jobs(sweep, "cpu")) == 10  # another profile: the sweep's own grid
    assert "profile=cpu" in multirun_overrides("s", sweep, "cpu", "basic")


def test_a_profile_setting_an_unknown_key_is_refused() -> None:
    sweep = {**CURVES, "lr": [0.01], "profiles": {"quick": {"lrs": [0.1]}}}
    with pytest.raises(ValueError, match=r"profiles.quick sets unknown keys \['lrs'\]"):
        multirun_overrides("s", sweep, "quick", "basic")


def test_a_users_optimizer_is_swept_over_lr_only() -> None:
    sweep = {**CURVES, "methods": ["adam", "nag"], "mu_max": [0.9, 0.99], "lr": [0.001]}
    assert jobs(sweep) == {
        ("adam", "-", "0.001"),
        ("nag", "0.9", "0.001"),
        ("nag", "0.99", "0.001"),
    }


def test_mu_zero_runs_with_one_method_only() -> None:
    sweep = {
        "experiment": "rnn",
        "data": ["addition"],
        "methods": ["biases", "cm", "nag"],
        "mu_max": [0, 0.9, 0.995],
        "mu_zero_method": "nag",
        "lr": [0.01],
    }
    assert jobs(sweep) == {
        ("biases", "-", "0.01"),
        ("nag", "0", "0.01"),
        *{(m, mu, "0.01") for m in ("cm", "nag") for mu in ("0.9", "0.995")},
    }
    with pytest.raises(ValueError, match="mu_zero_method='sgd'"):
        sweep_grids({**sweep, "mu_zero_method": "sgd"})


@pytest.mark.parametrize(
    ("launcher", "cores", "jobs", "threads"),
    [
        ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 2, 1, 2),
        ({"_target_": "x.joblib_launcher.JoblibLauncher", "n_jobs": 2}, 2, 2, 1),
        ({"_target_": "x.joblib_launcher.JoblibLauncher", "n_jobs": -1}, 2, 2, 1),
        ({"_target_": "x.joblib_launcher.JoblibLauncher", "n_jobs": -1}, 8, 8, 1),
        ({"_target_": "x.joblib_launcher.JoblibLauncher", "n_jobs": -2}, 8, 7, 1),
        ({"_target_": "x.joblib_launcher.JoblibLauncher", "n_jobs": 2}, 16, 2, 8),
    ],
)
def test_jobs_at_once_share_the_cores_out(
    monkeypatch: pytest.MonkeyPatch, launcher: dict, cores: int, jobs: int, threads: int
) -> None:
    monkeypatch.setattr("momentum_repro.training.run.usable_cores", lambda: cores)
    assert parallel_jobs({"launcher": launcher}) == jobs
    assert torch_threads("auto", jobs) == threads


def test_the_shipped_joblib_launcher_runs_two_jobs_at_once() -> None:
    from conftest import compose_config

    cfg = compose_config(["hydra/launcher=joblib"], with_hydra=True)
    assert cfg.hydra.launcher.n_jobs == 2
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")


def shipped_sweeps() -> dict:
    import yaml

    from conftest import ROOT

    return yaml.safe_load((ROOT / "params.yaml").read_text())["sweeps"]


def composed_job(name: str, profile: str) -> object:
    """The config of the first job of a shipped sweep's multirun, as train.py would get it."""
    from conftest import compose_config

    sweep = shipped_sweeps()[name]
    overrides = multirun_overrides(name, sweep, profile, "basic")
    common = [o for o in overrides if not o.startswith(("hydra/", "hydra."))]
    return compose_config(expand_grids(common, sweep_grids(sweep))[0])


@pytest.mark.parametrize(("profile", "length"), [("quick", 300), ("paper", 1000)])
def test_autoencoder_sweeps_end_with_the_final_phase_of_their_profile(
    profile: str, length: int
) -> None:
    """Table 1's cells and Table 2's before/after come from the same final-phase runs."""
    for name in ("curves", "mnist", "faces"):
        cfg = composed_job(name, profile)
        assert cfg.schedule.final_phase_updates == length, name
    # the RNN problems have no final phase (section 4: 0.9 warm-up, then mu_0)
    assert composed_job("rnn", profile).schedule.final_phase_updates == 0


def test_the_default_repro_runs_the_same_jobs() -> None:
    """The final phase changes no job count: 5 CURVES jobs at quick (lr 0.01 only), 10 at
    the other profiles; 24 RNN jobs (mu_0 = 0 once)."""
    sweeps = shipped_sweeps()
    assert len(jobs(sweeps["curves"])) == 5
    assert len(jobs(sweeps["curves"], "cpu")) == 10
    rnn = jobs(sweeps["rnn"])
    assert len(rnn) * len(sweeps["rnn"]["data"]) == 24
    assert {m for m, mu, _ in rnn if mu == "0"} == {"nag"}


def test_submitit_local_runs_the_whole_sweep_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = {"_target_": "hydra_plugins.x.LocalLauncher", "array_parallelism": 3}
    monkeypatch.setenv("MOMENTUM_REPRO_SWEEP_JOBS", "8")
    assert parallel_jobs({"launcher": launcher}) == 3
    monkeypatch.setenv("MOMENTUM_REPRO_SWEEP_JOBS", "2")
    assert parallel_jobs({"launcher": launcher}) == 2


def test_a_sweeps_own_launcher_wins_over_the_global_one() -> None:
    sweep = {**CURVES, "mu_max": [0.9], "lr": [0.01]}
    assert "hydra/launcher=joblib" in multirun_overrides("s", sweep, "quick", "joblib")
    own = multirun_overrides("s", {**sweep, "launcher": "population"}, "quick", "joblib")
    assert "hydra/launcher=population" in own and "hydra/launcher=joblib" not in own
    with pytest.raises(ValueError, match="launcher='nope'"):
        multirun_overrides("s", {**sweep, "launcher": "nope"}, "quick", "joblib")


def job_settings(common: list[str], grids: list[list[str]]) -> list[dict[str, str]]:
    """Each job's overrides as Hydra applies them (a later value of a key wins)."""
    return [dict(o.split("=", 1) for o in job) for job in expand_grids(common, grids)]


def test_two_sweeps_in_one_multirun_run_each_sweeps_own_jobs_in_order() -> None:
    """The union multirun's jobs, as Hydra composes its grids, are the CURVES sweep's jobs
    then the RNN sweep's, each with exactly the overrides of its own multirun (its
    sweep_name, data, experiment, and the final phase left for each job to resolve)."""
    from conftest import compose_config

    sweeps = shipped_sweeps()
    union = union_overrides({n: sweeps[n] for n in ("curves", "rnn")}, "quick", "joblib")
    hydra = compose_config(union, with_hydra=True).hydra
    assert hydra.launcher._target_.endswith("JoblibLauncher")
    assert str(hydra.sweep.dir).startswith("multirun/curves_quick+rnn_quick/")
    grids = grids_as_written(hydra.sweeper)  # as the grids sweeper reads them
    assert "schedule.final_phase_updates=${final_phase_updates}" in grids[0]
    common = [o for o in union if not o.startswith(("hydra/", "hydra."))]

    expected = []
    for name in ("curves", "rnn"):
        own = multirun_overrides(name, sweeps[name], "quick", "joblib")
        own_common = [o for o in own if not o.startswith(("hydra/", "hydra."))]
        expected += job_settings(own_common, sweep_grids(for_profile(sweeps[name], "quick")))
    union_jobs = job_settings(common, grids)
    assert len(union_jobs) == 5 + 24
    assert union_jobs == expected


def test_sweeps_under_different_launchers_run_one_after_the_other() -> None:
    sweeps = shipped_sweeps()
    both = {"curves": sweeps["curves"], "rnn": sweeps["rnn"]}
    (one,) = planned_multiruns(["curves", "rnn"], both, "quick", "joblib")
    assert "sweep_name=curves_quick+rnn_quick" in one
    own = {**both, "rnn": {**sweeps["rnn"], "launcher": "population"}}
    first, second = planned_multiruns(["curves", "rnn"], own, "quick", "joblib")
    assert first == multirun_overrides("curves", sweeps["curves"], "quick", "joblib")
    assert "hydra/launcher=population" in second and "sweep_name=rnn_quick" in second
    assert planned_multiruns(["rnn"], both, "quick", "joblib") == [
        multirun_overrides("rnn", sweeps["rnn"], "quick", "joblib")
    ]


def test_a_sweep_that_sets_multirun_level_keys_runs_in_its_own_multirun() -> None:
    """In a union, a sweep's hydra.* or tracking.* settings (its overrides, or its
    experiment's hydra: node, e.g. rnn_table's sweeper params) would reach its jobs only."""
    sweeps = shipped_sweeps()
    assert joins_a_union(sweeps["curves"], "quick") and joins_a_union(sweeps["rnn"], "quick")
    table = {**sweeps["rnn"], "experiment": "rnn_table"}
    logged = {**sweeps["curves"], "overrides": {"tracking.experiment": "mine"}}
    hydra = {**sweeps["curves"], "overrides": {"hydra.launcher.n_jobs": 4}}
    for sweep in (table, logged, hydra):
        assert not joins_a_union(sweep, "quick")
        both = {"curves": sweeps["curves"], "rnn": sweep}
        assert len(planned_multiruns(["curves", "rnn"], both, "quick", "joblib")) == 2
