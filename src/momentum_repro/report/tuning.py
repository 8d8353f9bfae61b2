"""Methods side by side at equal tuning effort (``experiment=tune``, AlgoPerf's rule).

Each study ``tune_<data>_<method>`` gives one method the same Optuna trial budget; this
section lists, per data set and method, how many trials ran, how many diverged, and the best
trial's objective with its lr and mu_max. A method with fewer trials than the others is
flagged: the comparison is only fair at equal effort. The section reads the trials at the
report's profile only, and never enters the paper's tables or claims.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from mlflow.tracking import MlflowClient

from momentum_repro.report.runs import RunRecord

PREFIX = "tune_"
HEADING = "Methods at equal tuning effort"
COLUMNS = ("data set", "method", "trials", "diverged", "best objective", "lr", "mu_max")


def tuning_sweeps(client: MlflowClient, experiment: str) -> list[str]:
    """The sweep names of every ``experiment=tune`` study in the store."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.run_kind = 'sweep' and tags.sweep_name LIKE '{PREFIX}%'",
    )
    return sorted({r.data.tags["sweep_name"] for r in runs})


def objective_name(record: RunRecord) -> str:
    """The value a search minimised (training/tuning.py ``objective``)."""
    return "final_zero_one" if record.task_kind == "rnn" else "final_train_error"


def tuning_rows(records: Sequence[RunRecord]) -> list[list[str]]:
    """One row per (data set, method) searched; best objective first within a data set."""
    studies: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.sweep_name.startswith(PREFIX):
            studies[(r.dataset, r.method)].append(r)
    rows: list[tuple[str, float, list[str]]] = []
    budget = {d: max(len(t) for (dd, _), t in studies.items() if dd == d) for d, _ in studies}
    for (dataset, method), trials in studies.items():
        values = [
            (r.metrics[objective_name(r)], r)
            for r in trials
            if not r.diverged and math.isfinite(r.metrics.get(objective_name(r), math.nan))
        ]
        best_value, best = min(values, key=lambda v: v[0]) if values else (math.inf, None)
        count = f"{len(trials)}" + ("" if len(trials) == budget[dataset] else " (fewer)")
        rows.append(
            (
                dataset,
                best_value,
                [
                    dataset,
                    method,
                    count,
                    str(sum(r.diverged for r in trials)),
                    f"{best_value:.4g}" if best is not None else "all diverged",
                    f"{best.lr:.3g}" if best is not None and best.lr is not None else "",
                    f"{best.mu_max:g}" if best is not None and best.mu_max is not None else "",
                ],
            )
        )
    rows.sort(key=lambda row: (row[0], row[1]))
    return [row for _, _, row in rows]


def intro(profile: str | None) -> str:
    """What the section shows, and at which profile."""
    at = f" Trials at the {profile} profile only." if profile else ""
    return __doc__.split("\n\n")[1].replace("\n", " ") + at


def markdown(rows: Sequence[Sequence[str]], profile: str | None = None) -> str:
    lines = [f"# {HEADING}", "", intro(profile), ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
