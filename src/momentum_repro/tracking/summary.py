"""The sweep summary: which runs make up a sweep now.

A sweep's summary, ``<tracking.summary_dir>/<sweep_name>.json``, lists the runs of its last
multirun, one per job, in job order: run id, resume key, status and final errors. It is the
DVC output of a sweep stage, and the report reads exactly the runs it lists, so that runs
an earlier version of the code made, or a learning rate no longer in the grid, never enter
a table.

- Each job of a multirun appends its outcome to ``<sweep dir>/jobs.jsonl`` (``record_job``);
  a job that crashed is recorded by the sweep's Hydra callback (``record_crash``).
- When the multirun ends, the callback writes one summary per sweep name its jobs carried
  (``write_summaries``): a multirun defines its sweep, so its summary replaces the old one.
  A multirun that failed or was stopped writes them too, marked ``"complete": false``, over
  the old summary: the configs it did not reach keep their earlier runs.
- A single run (no ``-m``) joins its sweep's summary (``add_single_run``), in place of an
  entry of the same config (``config_key``: the run key less code and data).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

JOB_LINES = "jobs.jsonl"
STATUSES = ("FINISHED", "FAILED", "RUNNING", "KILLED", "CRASHED")


def summary_path(summary_dir: str | Path, sweep_name: str) -> Path:
    """Where a sweep's summary lives."""
    return Path(summary_dir) / f"{sweep_name}.json"


def record_job(sweep_dir: str | Path, outcome: Mapping[str, Any]) -> None:
    """Append one job's outcome (``run_job``'s summary) to the multirun's job list. One
    ``write`` of one line with O_APPEND: whole lines from concurrent jobs."""
    line = json.dumps(dict(outcome), sort_keys=True, default=str) + "\n"
    path = Path(sweep_dir) / JOB_LINES
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as out:
        out.write(line)


def record_crash(
    sweep_dir: str | Path, sweep_name: str, job_num: int, overrides: Iterable[str], error: str
) -> None:
    """A job that raised before it could record its outcome: its overrides and the error."""
    record_job(
        sweep_dir,
        {
            "sweep_name": sweep_name,
            "job": job_num,
            "status": "CRASHED",
            "overrides": list(overrides),
            "failure_reason": error[:2000],
        },
    )


def job_outcomes(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The outcomes the multirun's jobs recorded, in the order they ended."""
    path = Path(sweep_dir) / JOB_LINES
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _summary(sweep_name: str, runs: list[dict[str, Any]], complete: bool) -> dict[str, Any]:
    return {
        "sweep_name": sweep_name,
        "complete": complete,
        "runs": runs,
        "counts": {s: sum(r.get("status") == s for r in runs) for s in STATUSES},
    }


def _write(path: Path, summary: Mapping[str, Any]) -> Path:
    """Atomically: a reader (DVC, the report) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
    return path


def write_summaries(
    sweep_dir: str | Path, summary_dir: str | Path, complete: bool = True
) -> list[Path]:
    """One summary per sweep name among the multirun's job outcomes, each replacing the
    sweep's old summary; runs in job order (a job recorded twice counts once: its last)."""
    by_sweep: dict[str, dict[int, dict[str, Any]]] = {}
    for n, outcome in enumerate(job_outcomes(sweep_dir)):
        job = outcome.get("job")
        by_sweep.setdefault(str(outcome.get("sweep_name")), {})[n if job is None else job] = outcome
    written = []
    for name, jobs in by_sweep.items():
        runs = [jobs[k] for k in sorted(jobs)]
        path = summary_path(summary_dir, name)
        if not complete and path.exists():  # keep what this multirun did not reach
            reached = {r.get("config_key") for r in runs if r.get("config_key")}
            old = [r for r in load_summary(path)["runs"] if r.get("config_key") not in reached]
            runs = [*old, *(r for r in runs if r.get("config_key") or r.get("status") != "CRASHED")]
        written.append(_write(path, _summary(name, runs, complete)))
    return written


def add_single_run(summary_dir: str | Path, outcome: Mapping[str, Any]) -> Path:
    """A single run joins its sweep's summary, replacing the entry of the same config (under
    a lock: single runs that end at once each add their own)."""
    name = str(outcome["sweep_name"])
    path = summary_path(summary_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = load_summary(path) if path.exists() else _summary(name, [], True)
        runs = [r for r in old["runs"] if r.get("config_key") != outcome.get("config_key")]
        summary = _summary(name, [*runs, dict(outcome)], bool(old.get("complete", True)))
        return _write(path, summary)


def load_summary(path: str | Path) -> dict[str, Any]:
    """A summary as written; a clear error for a file that is not one."""
    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"sweep summary {path} is unreadable ({error})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("runs"), list):
        raise ValueError(f"sweep summary {path} has no list of runs")
    return summary
