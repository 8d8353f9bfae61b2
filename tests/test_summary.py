"""Sweep summaries (tracking/summary.py): what a multirun's jobs record, what a sweep's
summary then lists, and how a single run or an incomplete multirun joins an old one."""

from __future__ import annotations

from pathlib import Path

from momentum_repro.tracking.summary import (
    add_single_run,
    load_summary,
    record_crash,
    record_job,
    summary_path,
    write_summaries,
)


def job(n: int, config: str, sweep: str = "s", **extra: object) -> dict:
    return {"job": n, "sweep_name": sweep, "config_key": config, "run_id": f"run-{config}-{n}",
            "status": "FINISHED", **extra}  # fmt: skip


def test_a_multirun_writes_one_summary_per_sweep_in_job_order(tmp_path: Path) -> None:
    sweep_dir, out = tmp_path / "multirun", tmp_path / "sweeps"
    record_job(sweep_dir, job(1, "b"))
    record_job(sweep_dir, job(0, "a"))
    record_job(sweep_dir, job(2, "c", sweep="other"))
    record_crash(sweep_dir, "s", 3, ["optimizer=x"], "ValueError: no such thing")
    written = write_summaries(sweep_dir, out)
    assert sorted(p.name for p in written) == ["other.json", "s.json"]
    summary = load_summary(summary_path(out, "s"))
    assert [r.get("config_key") for r in summary["runs"]] == ["a", "b", None]
    assert summary["complete"] and summary["counts"]["CRASHED"] == 1
    assert summary["counts"]["FINISHED"] == 2


def test_a_complete_multirun_replaces_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    record_job(tmp_path / "first", job(0, "a"))
    record_job(tmp_path / "first", job(1, "old-lr"))
    write_summaries(tmp_path / "first", out)
    record_job(tmp_path / "second", job(0, "a"))
    write_summaries(tmp_path / "second", out)
    runs = load_summary(summary_path(out, "s"))["runs"]
    assert [r["config_key"] for r in runs] == ["a"]  # a learning rate no longer in the grid


def test_an_incomplete_multirun_keeps_the_configs_it_did_not_reach(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    for n, config in enumerate("abc"):
        record_job(tmp_path / "first", job(n, config))
    write_summaries(tmp_path / "first", out)
    record_job(tmp_path / "stopped", job(0, "a", run_id="new-a"))  # killed after one job
    write_summaries(tmp_path / "stopped", out, complete=False)
    summary = load_summary(summary_path(out, "s"))
    assert not summary["complete"]
    by_config = {r["config_key"]: r["run_id"] for r in summary["runs"]}
    assert by_config == {"a": "new-a", "b": "run-b-1", "c": "run-c-2"}


def test_a_single_run_joins_its_sweep_in_place_of_its_config(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    add_single_run(out, job(0, "a", run_id="first"))
    add_single_run(out, job(0, "b"))
    add_single_run(out, job(0, "a", run_id="again"))
    runs = load_summary(summary_path(out, "s"))["runs"]
    assert {r["config_key"]: r["run_id"] for r in runs} == {"b": "run-b-0", "a": "again"}
