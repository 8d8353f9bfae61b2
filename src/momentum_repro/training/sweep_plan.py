"""The DVC sweep stage's plan: Hydra multiruns of ``params.yaml`` sweeps, and their summaries.

A sweep is a union of grids (``hydra/sweeper=grids``): methods that follow the momentum
schedule (their config says ``momentum_schedule: true``: CM, NAG) are swept over mu_max x lr;
every other method (SGD, the RNN "biases" baseline, HF, a user's optimizer) over lr only.
All jobs of a sweep run in one multirun (one MLflow parent run, one pool of workers) and
share the ``sweep_name`` tag the report selects by. Several sweeps under one launcher run as
one multirun too (``union_overrides``); each keeps its parent run and tag.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from momentum_repro.tracking.mlflow_tracking import tracking_uri

CONF = Path(__file__).resolve().parents[3] / "conf"
LAUNCHERS = ("basic", "joblib", "population")
SWEEP_KEYS = (  # what a params.yaml sweep may set (besides profiles)
    "experiment",
    "data",
    "model",
    "methods",
    "mu_max",
    "mu_zero_method",
    "lr",
    "seeds",
    "launcher",
    "overrides",
)


def _values(values: list[Any]) -> str:
    return ",".join(str(v) for v in values)


def swept_over_mu_max(method: str, conf_dir: Path = CONF) -> bool:
    """True for a method whose mu_t follows the schedule up to mu_max (``momentum_schedule``)."""
    path = conf_dir / "optimizer" / f"{method}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (conf_dir / "optimizer").glob("*.yaml"))
        raise ValueError(f"params.yaml: unknown method {method!r}; conf/optimizer has {known}")
    return bool(OmegaConf.load(path).get("momentum_schedule", False))


def sweep_grids(sweep: dict[str, Any], conf_dir: Path = CONF) -> list[list[str]]:
    """The grids of one sweep: lr-only methods; momentum methods x mu_max.

    ``mu_zero_method``: mu_max = 0 is run with that one method only (Table 5's "0" column:
    after the 0.9 warm-up, NAG and CM at mu = 0 are the same method)."""
    methods = list(sweep["methods"])
    plain = [m for m in methods if not swept_over_mu_max(m, conf_dir)]
    momentum = [m for m in methods if m not in plain]
    mu_values = list(sweep.get("mu_max", []))
    zero_method = sweep.get("mu_zero_method")
    grids = []
    if plain:
        grids.append([f"optimizer={_values(plain)}"])
    if momentum and zero_method is not None and 0 in mu_values:
        if zero_method not in momentum:
            raise ValueError(
                f"mu_zero_method={zero_method!r} is not one of the momentum methods {momentum}"
            )
        grids.append([f"optimizer={zero_method}", "optimizer.mu_max=0"])
        mu_values = [mu for mu in mu_values if mu != 0]
    if momentum and mu_values:
        grids.append([f"optimizer={_values(momentum)}", f"optimizer.mu_max={_values(mu_values)}"])
    return grids


def for_profile(sweep: dict[str, Any], profile: str) -> dict[str, Any]:
    """The sweep as run at ``profile``: its ``profiles.<profile>`` keys replace its own.

    E.g. ``profiles: {quick: {lr: [0.01]}}``: the quick profile sweeps one lr, the others
    the sweep's whole ``lr`` grid."""
    profiles = sweep.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise ValueError(f"params.yaml: a sweep's profiles: must be a mapping, got {profiles!r}")
    chosen = profiles.get(profile) or {}
    unknown = sorted(set(chosen) - set(SWEEP_KEYS))
    if unknown:
        raise ValueError(
            f"params.yaml: profiles.{profile} sets unknown keys {unknown}; a sweep has {SWEEP_KEYS}"
        )
    return {**{k: v for k, v in sweep.items() if k != "profiles"}, **chosen}


def _sweep_launcher(sweep: dict[str, Any], launcher: str) -> str:
    launcher = str(sweep.get("launcher", launcher))
    if launcher not in LAUNCHERS:
        raise ValueError(f"params.yaml: launcher={launcher!r}; choose one of {sorted(LAUNCHERS)}")
    return launcher


def _task_overrides(name: str, sweep: dict[str, Any], profile: str) -> list[str]:
    """What every job of one sweep (already ``for_profile``) sets: its data, model, profile,
    sweep name, seeds, lrs and its own overrides."""
    data = sweep["data"] if isinstance(sweep["data"], list) else [sweep["data"]]
    return [
        *([f"experiment={sweep['experiment']}"] if "experiment" in sweep else []),
        f"data={_values(data)}",
        *([f"model={sweep['model']}"] if "model" in sweep else []),
        f"profile={profile}",
        f"sweep_name={sweep_name(name, profile)}",
        f"seed={_values(sweep.get('seeds', [1]))}",
        f"optimizer.lr={_values(sweep['lr'])}",
        *[f"{k}={v}" for k, v in sweep.get("overrides", {}).items()],
    ]


def _grids_override(grids: list[list[str]]) -> str:
    # a value of the grids list is a quoted string: ${...} in it is escaped, so that each job
    # resolves it in its own config (e.g. its profile's final_phase_updates)
    quoted = (
        "[" + ",".join('"' + o.replace("${", "\\${") + '"' for o in grid) + "]" for grid in grids
    )
    return f"hydra.sweeper.grids=[{','.join(quoted)}]"


def multirun_overrides(
    name: str, sweep: dict[str, Any], profile: str, launcher: str, conf_dir: Path = CONF
) -> list[str]:
    """The overrides of the one Hydra multirun that covers the sweep's grids at ``profile``
    (``for_profile``).

    ``launcher``: params.yaml's; a sweep's own ``launcher:`` key wins (e.g. ``population``
    for the RNN sweep, whose many short runs gain most from it)."""
    sweep = for_profile(sweep, profile)
    return [
        *_task_overrides(name, sweep, profile),
        f"hydra/launcher={_sweep_launcher(sweep, launcher)}",
        "hydra/sweeper=grids",
        _grids_override(sweep_grids(sweep, conf_dir)),
    ]


def union_label(names: list[str], profile: str) -> str:
    """The name of one multirun of several sweeps (its folder and progress lines)."""
    return "+".join(sweep_name(name, profile) for name in names)


def union_overrides(
    sweeps: dict[str, dict[str, Any]], profile: str, launcher: str, conf_dir: Path = CONF
) -> list[str]:
    """One Hydra multirun for several sweeps, in the order given (longest runs first packs
    best): one pool of workers for all their jobs, so no core idles while the last runs of
    one sweep finish, and the workers start once. Each job keeps its own sweep's overrides,
    ``sweep_name`` and MLflow parent run (``hydra_callback``), exactly as in its own
    multirun; only the multirun's folder is shared.

    The sweeps must run under one launcher (``launchers_of``)."""
    grids = []
    for name, sweep in sweeps.items():
        sweep = for_profile(sweep, profile)
        own = _task_overrides(name, sweep, profile)
        grids += [[*own, *grid] for grid in sweep_grids(sweep, conf_dir)]
    (chosen,) = set(launchers_of(sweeps, profile, launcher).values())
    label = union_label(list(sweeps), profile)
    return [
        f"profile={profile}",
        f"sweep_name={label}",
        # one folder for the multirun (a job's own sweep_name would split it per sweep)
        f"hydra.sweep.dir=multirun/{label}/${{now:%Y-%m-%d_%H-%M-%S}}",
        f"hydra/launcher={chosen}",
        "hydra/sweeper=grids",
        _grids_override(grids),
    ]


def launchers_of(sweeps: dict[str, dict[str, Any]], profile: str, launcher: str) -> dict[str, str]:
    """Each sweep's launcher at ``profile``: its own ``launcher:`` key, else ``launcher``."""
    return {
        name: _sweep_launcher(for_profile(sweep, profile), launcher)
        for name, sweep in sweeps.items()
    }


MULTIRUN_LEVEL = ("hydra", "tracking")  # read once per multirun, not per job


def joins_a_union(sweep: dict[str, Any], profile: str, conf_dir: Path = CONF) -> bool:
    """Whether the sweep can share a multirun: not when it sets what only a multirun's own
    config decides (``hydra.*``: the sweeper, launcher, folders; ``tracking.*``: where the
    parent runs go), in its overrides or through its experiment's ``hydra:`` node, since
    in a union its settings apply to its jobs only."""
    sweep = for_profile(sweep, profile)
    keys = [str(k) for k in sweep.get("overrides", {})]
    if any(k.split(".")[0].split("/")[0] in MULTIRUN_LEVEL for k in keys):
        return False
    if "experiment" in sweep:
        path = conf_dir / "experiment" / f"{sweep['experiment']}.yaml"
        experiment = OmegaConf.load(path) if path.exists() else {}
        if any(k in experiment for k in MULTIRUN_LEVEL):
            return False
    return True


def planned_multiruns(
    names: list[str], sweeps: dict[str, dict[str, Any]], profile: str, launcher: str
) -> list[list[str]]:
    """The multiruns that run the named sweeps, as their overrides: one for all of them
    when they share a launcher and each can join a union (``joins_a_union``), else one
    per sweep, in order."""
    chosen = {name: sweeps[name] for name in names}
    one_launcher = len(set(launchers_of(chosen, profile, launcher).values())) == 1
    if len(names) > 1 and one_launcher and all(joins_a_union(s, profile) for s in chosen.values()):
        return [union_overrides(chosen, profile, launcher)]
    return [multirun_overrides(name, sweeps[name], profile, launcher) for name in names]


def sweep_name(name: str, profile: str) -> str:
    return f"{name}_{profile}"


def write_summary(uri: str, experiment: str, name: str, out: str | Path) -> dict[str, Any]:
    """The sweep's DVC output: every job run with its status, so DVC knows the sweep is done."""
    client = MlflowClient(tracking_uri(uri))
    exp = client.get_experiment_by_name(experiment)
    runs = []
    if exp is not None:
        found = client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.sweep_name = '{name}' and tags.run_kind = 'job'",
            order_by=["attributes.start_time ASC"],
        )
        newest: dict[str, Any] = {}  # a resumed sweep may have rerun a crashed job
        for run in found:
            newest[run.data.tags.get("run_key", run.info.run_id)] = run
        for run in newest.values():
            tags, metrics = run.data.tags, run.data.metrics
            runs.append(
                {
                    "run_id": run.info.run_id,
                    "status": run.info.status,
                    "method": tags.get("method"),
                    "mu_max": tags.get("mu_max"),
                    "lr": tags.get("lr"),
                    "seed": tags.get("seed"),
                    "diverged": tags.get("diverged") == "true",
                    "failure_reason": tags.get("failure_reason"),
                    "final_train_error": metrics.get("final_train_error"),
                }
            )
    summary = {
        "sweep_name": name,
        "experiment": experiment,
        "runs": runs,
        "counts": {
            status: sum(r["status"] == status for r in runs)
            for status in ("FINISHED", "FAILED", "RUNNING", "KILLED")
        },
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out)
    return summary
