"""The equal-effort table: per data set and method, the best of its trials."""

from __future__ import annotations

from momentum_repro.report.runs import RunRecord
from momentum_repro.report.tuning import markdown, tuning_rows


def trial(
    method: str, lr: float, error: float | None, mu: float | None = None, sweep: str = ""
) -> RunRecord:
    return RunRecord(
        run_id=f"{method}{lr}",
        sweep_name=sweep or f"tune_curves_{method}",
        status="FINISHED" if error is not None else "FAILED",
        start_time=0,
        task_kind="autoencoder",
        dataset="curves",
        method=method,
        mu_max=mu,
        lr=lr,
        diverged=error is None,
        metrics={} if error is None else {"final_train_error": error},
    )


def test_best_trial_per_method_sorted_by_objective_with_the_effort_shown() -> None:
    records = [
        trial("sgd", 0.01, 20.0, 0.0),
        trial("sgd", 0.05, None, 0.0),  # diverged
        trial("sgd", 0.001, 25.0, 0.0),
        trial("nag", 0.005, 9.5, 0.99),
        trial("nag", 0.01, 11.0, 0.995),
        trial("nag", 0.02, 9.0, 0.999),
        trial("adam", 0.001, 12.0),
        trial("adam", 0.002, 14.0),  # 2 trials: fewer than the others' 3
        trial("cm", 0.01, 1.0, 0.9, sweep="curves_quick"),  # not a tuning study: left out
    ]
    rows = tuning_rows(records)
    assert [r[1] for r in rows] == ["nag", "adam", "sgd"]
    assert rows[0] == ["curves", "nag", "3", "0", "9", "0.02", "0.999"]
    assert rows[1][2] == "2 (fewer)" and rows[1][6] == ""
    assert rows[2][2:5] == ["3", "1", "20"]
    assert "| curves | nag | 3 | 0 | 9 | 0.02 | 0.999 |" in markdown(rows)


def test_a_method_whose_trials_all_diverged_is_listed_last() -> None:
    rows = tuning_rows([trial("sgd", 1.0, None, 0.0), trial("nag", 0.01, 5.0, 0.9)])
    assert rows[-1][1:5] == ["sgd", "1", "1", "all diverged"]
