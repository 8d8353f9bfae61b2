"""The DVC sweep stage's plan: Hydra multirun overrides from ``params.yaml``, and its summary.

SGD (the paper's mu_max = 0 column) and the RNN "biases" baseline have a fixed mu, so they are
swept over learning rates only; the momentum methods are swept over mu_max x lr. Each group is one Hydra multirun (one MLflow parent run);
all share the ``sweep_name`` tag the report selects by.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from momentum_repro.tracking.mlflow_tracking import tracking_uri

NO_MOMENTUM = ("sgd", "biases", "hf", "hf_momentum")  # swept over lr only: mu is theirs


def _values(values: list[Any]) -> str:
    return ",".join(str(v) for v in values)


def multirun_overrides(
    name: str, sweep: dict[str, Any], profile: str, launcher: str
) -> list[list[str]]:
    """One override list per Hydra multirun needed to cover the sweep's grid."""
    allowed = {"basic", "joblib"}
    if launcher not in allowed:
        raise ValueError(f"params.yaml: launcher={launcher!r}; choose one of {sorted(allowed)}")
    methods = list(sweep["methods"])
    data = sweep["data"] if isinstance(sweep["data"], list) else [sweep["data"]]
    common = [
        *([f"experiment={sweep['experiment']}"] if "experiment" in sweep else []),
        f"data={_values(data)}",
        *([f"model={sweep['model']}"] if "model" in sweep else []),
        f"profile={profile}",
        f"sweep_name={sweep_name(name, profile)}",
        f"seed={_values(sweep.get('seeds', [1]))}",
        f"optimizer.lr={_values(sweep['lr'])}",
        f"hydra/launcher={launcher}",
        *[f"{k}={v}" for k, v in sweep.get("overrides", {}).items()],
    ]
    runs = []
    plain = [m for m in methods if m in NO_MOMENTUM]
    momentum = [m for m in methods if m not in NO_MOMENTUM]
    if plain:
        runs.append([f"optimizer={_values(plain)}", *common])
    if momentum:
        runs.append(
            [
                f"optimizer={_values(momentum)}",
                f"optimizer.mu_max={_values(sweep['mu_max'])}",
                *common,
            ]
        )
    return runs


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
