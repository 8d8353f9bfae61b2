"""MLflow -> tidy run records: the only module of the report that talks to MLflow.

Job runs carry the tags and metrics of docs/CONVENTIONS.md (``run_kind=job``, ``sweep_name``,
``dataset``, ``method``, ``mu_max``, ``lr``, ``seed``, ...). The report reads the *current*
runs of a sweep: those its summary lists (``tracking/summary.py``: the runs of its last
multirun), so that runs made by older code, at a learning rate no longer in the grid or at
another profile never enter a cell; :func:`load_current_runs` counts them apart, by reason.
A sweep without a summary is read from MLflow by its tag, newest run per config.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from momentum_repro.report.boundary import ARTIFACT, DecisionBoundary, load_boundary

if TYPE_CHECKING:  # tables.py imports this module and stays free of MLflow
    from mlflow.tracking import MlflowClient

FINISHED, DIVERGED, FAILED, RUNNING = "finished", "diverged", "failed", "running"


def parse_number(text: str | None) -> float | None:
    """A tag's decimal string as a float; None for absent, empty or ``none``."""
    if text is None or text.strip().lower() in ("", "none", "null", "nan"):
        return None
    return float(text)


def number_key(x: float | None) -> str:
    """The canonical text of a grid value (``0.990`` and ``0.99`` both give ``0.99``)."""
    return "none" if x is None else f"{x:g}"


@dataclass(frozen=True)
class RunRecord:
    """One training job, as the report needs it (tags parsed, final metric values)."""

    run_id: str
    sweep_name: str
    status: str  # MLflow status: FINISHED, FAILED, RUNNING, KILLED, SCHEDULED
    start_time: int  # ms since epoch; orders the attempts of one run_key
    task_kind: str
    dataset: str
    method: str
    mu_max: float | None
    lr: float | None
    seed: int | None = None
    seq_len: int | None = None
    epochs: int | None = None  # two-moons runs: their length in epochs
    init_scale: float = 1.0
    final_phase_updates: int = 0
    profile: str = "unknown"
    total_updates: int | None = None
    schedule_period: int | None = None
    diverged: bool = False
    run_key: str | None = None
    config_key: str | None = None
    data_source: str = "unknown"
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """``finished``, ``diverged`` (a result: a failure of the optimizer), ``failed``
        (crashed, or finished without the metrics) or ``running``."""
        if self.diverged:
            return DIVERGED
        if self.status == "FINISHED":
            return FINISHED
        if self.status in ("RUNNING", "SCHEDULED"):
            return RUNNING
        return FAILED

    def final(self, metric: str) -> float | None:
        """A final metric's value when the run finished with a finite value, else None."""
        value = self.metrics.get(metric)
        if self.outcome != FINISHED or value is None or not math.isfinite(value):
            return None
        return value


def _int(text: str | None) -> int | None:
    x = parse_number(text)
    return None if x is None else int(x)


def record_from_run(run) -> RunRecord:
    """Build a :class:`RunRecord` from an ``mlflow.entities.Run``."""
    tags, info = run.data.tags, run.info
    scale = parse_number(tags.get("init_scale"))
    return RunRecord(
        run_id=info.run_id,
        sweep_name=tags.get("sweep_name", ""),
        status=info.status,
        start_time=int(info.start_time or 0),
        task_kind=tags.get("task_kind", "autoencoder"),
        dataset=tags.get("dataset", "unknown"),
        method=tags.get("method", "unknown"),
        mu_max=parse_number(tags.get("mu_max")),
        lr=parse_number(tags.get("lr")),
        seed=_int(tags.get("seed")),
        seq_len=_int(tags.get("seq_len")),
        epochs=_int(tags.get("epochs")),
        init_scale=1.0 if scale is None else scale,
        final_phase_updates=_int(tags.get("final_phase_updates")) or 0,
        profile=tags.get("profile", "unknown"),
        total_updates=_int(tags.get("total_updates")),
        schedule_period=_int(tags.get("schedule_period")),
        diverged=tags.get("diverged", "false").lower() == "true",
        run_key=tags.get("run_key"),
        config_key=tags.get("config_key"),
        data_source=tags.get("data_source", "unknown"),
        metrics=dict(run.data.metrics),
    )


def newest_per_run_key(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per ``run_key``: the newest finished attempt, else the newest diverged one,
    else the newest of all (a resumed sweep re-runs crashed jobs under the same key)."""
    rank = {FINISHED: 0, DIVERGED: 1}
    best: dict[str, RunRecord] = {}
    keyless: list[RunRecord] = []
    for r in records:
        if not r.run_key:
            keyless.append(r)
            continue
        old = best.get(r.run_key)
        if old is None or (rank.get(r.outcome, 2), -r.start_time) < (
            rank.get(old.outcome, 2),
            -old.start_time,
        ):
            best[r.run_key] = r
    return sorted([*best.values(), *keyless], key=lambda r: (r.start_time, r.run_id))


def _search(client: MlflowClient, experiment_id: str, filter_string: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string, max_results=1000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _tag_filter(run_kind: str, sweep_name: str) -> str:
    quoted = sweep_name.replace("'", "\\'")
    return f"tags.run_kind = '{run_kind}' and tags.sweep_name = '{quoted}'"


def load_job_runs(client: MlflowClient, experiment: str, sweep_names: list[str]) -> list[RunRecord]:
    """Every job run tagged with the given sweeps, deduplicated per ``run_key``; [] when none
    exist yet."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    records = [
        record_from_run(run)
        for name in sweep_names
        for run in _search(client, exp.experiment_id, _tag_filter("job", name))
    ]
    return newest_per_run_key(records)


def newest_per_config(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per config (``config_key``, else ``run_key``): the one
    :func:`newest_per_run_key` would keep among the newest code's runs."""
    latest: dict[str, RunRecord] = {}
    for r in newest_per_run_key(records):
        key = r.config_key or r.run_key or r.run_id
        if key not in latest or r.start_time > latest[key].start_time:
            latest[key] = r
    return sorted(latest.values(), key=lambda r: (r.start_time, r.run_id))


# why a run tagged with a sweep is not one of its current runs
OLDER_CODE = "made by other code or data than the current run of its config"
EARLIER_VERSION = "made by an earlier version of the project (no config_key)"
OTHER_PROFILE = "of another profile"
NOT_IN_GRID = "not in the sweep's current grid"
CRASHED_RUN = "crashed without a result"


@dataclass
class CurrentRuns:
    """The runs a report reads, and what it left out."""

    records: list[RunRecord]
    left_out: dict[str, Counter[str]] = field(default_factory=dict)  # sweep -> reason -> runs
    summaries: dict[str, str] = field(default_factory=dict)  # sweep -> its summary, or why none
    crashed: dict[str, int] = field(default_factory=dict)  # sweep -> jobs that crashed unlogged

    def left_out_text(self) -> str:
        """``claims_curves_quick: 4 run(s) left out (3 made by other code ...; 1 not in ...)``."""
        parts = []
        for name, reasons in self.left_out.items():
            if reasons:
                n = sum(reasons.values())
                why = "; ".join(f"{k} {r}" for r, k in reasons.most_common())
                parts.append(f"{name}: {n} run(s) left out ({why})")
        return ". ".join(parts)


def _runs_by_id(client: MlflowClient, experiment_id: str, run_ids: list[str]) -> list:
    runs = []
    for i in range(0, len(run_ids), 100):
        chunk = ", ".join(f"'{r}'" for r in run_ids[i : i + 100])
        runs += _search(client, experiment_id, f"attributes.run_id IN ({chunk})")
    return runs


def _why_left_out(record: RunRecord, current: list[RunRecord]) -> str:
    if record.outcome == FAILED:
        return CRASHED_RUN
    if not record.config_key:
        return EARLIER_VERSION
    if record.config_key in {r.config_key for r in current}:
        return OLDER_CODE
    if current and record.profile not in {r.profile for r in current}:
        return OTHER_PROFILE
    return NOT_IN_GRID


def load_current_runs(
    client: MlflowClient, experiment: str, sweep_names: list[str], summary_dir: Path
) -> CurrentRuns:
    """The current runs of each sweep: those its summary (``<summary_dir>/<sweep>.json``)
    lists; every other job run tagged with the sweep is counted in ``left_out`` with why.
    A sweep without a summary: its tagged runs, newest per config."""
    from momentum_repro.tracking.summary import load_summary, summary_path

    out = CurrentRuns([])
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return out
    for name in sweep_names:
        tagged = [
            record_from_run(r) for r in _search(client, exp.experiment_id, _tag_filter("job", name))
        ]
        path = summary_path(summary_dir, name)
        if not path.exists():
            current = newest_per_config(tagged)
            out.summaries[name] = f"no summary at {path}: its tagged runs, newest per config"
        else:
            summary = load_summary(path)
            ids = [str(r["run_id"]) for r in summary["runs"] if r.get("run_id")]
            current = newest_per_run_key(
                record_from_run(r) for r in _runs_by_id(client, exp.experiment_id, ids)
            )
            out.crashed[name] = sum(r.get("status") == "CRASHED" for r in summary["runs"])
            complete = "" if summary.get("complete", True) else " (its multirun did not end)"
            out.summaries[name] = f"{path}{complete}"
        ids = {r.run_id for r in current}
        out.left_out[name] = Counter(
            _why_left_out(r, current) for r in tagged if r.run_id not in ids
        )
        out.records += current
    return out


def load_sweep_parents(
    client: MlflowClient, experiment: str, sweep_names: list[str]
) -> dict[str, list[str]]:
    """Run ids of each sweep's parent run(s) (``run_kind=sweep``), newest first."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {name: [] for name in sweep_names}
    out: dict[str, list[str]] = {}
    for name in sweep_names:
        runs = _search(client, exp.experiment_id, _tag_filter("sweep", name))
        runs.sort(key=lambda r: r.info.start_time or 0, reverse=True)
        out[name] = [r.info.run_id for r in runs]
    return out


def metric_history(client: MlflowClient, run_id: str, metric: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one logged curve, by step."""
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, metric))


def load_decision_boundary(client: MlflowClient, run_id: str) -> DecisionBoundary | None:
    """A two-moons run's decision boundary artifact, or None when the run has none."""
    names = {a.path for a in client.list_artifacts(run_id)}
    if ARTIFACT not in names:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return load_boundary(client.download_artifacts(run_id, ARTIFACT, tmp))
