"""The paper's protocol on hand-made run records (no MLflow): best lr, seed averaging,
diverged and missing cells, the ratio, newest-per-run_key, column keys, captions."""

import pytest

from momentum_repro.report.paper import load_paper_numbers
from momentum_repro.report.runs import RunRecord, newest_per_run_key
from momentum_repro.report.tables import (
    column_key,
    column_label,
    group_configs,
    lr_sensitivity,
    protocol_caption,
    select_cell,
    table1,
    table5,
)

_ids = iter(range(10_000))


def run(
    *,
    lr=0.01,
    error=None,
    method="nag",
    mu=0.99,
    dataset="curves",
    status="FINISHED",
    diverged=False,
    seed=0,
    task_kind="autoencoder",
    metric="final_train_error",
    **kw,
) -> RunRecord:
    return RunRecord(
        run_id=f"r{next(_ids)}",
        sweep_name="s",
        status="FAILED" if diverged else status,
        start_time=kw.pop("start_time", 0),
        task_kind=task_kind,
        dataset=dataset,
        method=method,
        mu_max=mu,
        lr=lr,
        seed=seed,
        diverged=diverged,
        metrics={} if error is None else {metric: error},
        **kw,
    )


def test_best_lr_and_ratio():
    cell = select_cell(
        [run(lr=0.01, error=0.2), run(lr=0.005, error=0.1), run(lr=0.001, error=0.3)],
        "final_train_error",
        0.08,
    )
    assert cell.status == "finished" and cell.ours == 0.1 and cell.best.lr == 0.005
    assert cell.ratio == pytest.approx(1.25)
    assert cell.text == "0.1 (1) / 0.08 (1.25×)"  # one seed: no spread


def test_seed_average_picks_best_mean_not_best_seed():
    runs = [
        run(lr=1e-4, error=0.001, seed=0),
        run(lr=1e-4, error=0.003, seed=1),
        run(lr=1e-5, error=0.0005, seed=0),  # the single best seed...
        run(lr=1e-5, error=0.01, seed=1),  # ...but the worse mean
    ]
    cell = select_cell(runs, "final_train_error", None)
    assert cell.best.lr == 1e-4 and cell.ours == pytest.approx(0.002)
    assert cell.ratio is None and cell.text == "0.002 ±0.001 (2) / —"  # mean ±se (seeds)
    assert cell.values == (0.001, 0.003) and cell.n == 2


def test_diverged_lr_skipped_diverged_seed_fails_its_lr():
    runs = [
        run(lr=0.05, diverged=True),
        run(lr=0.01, error=0.01, seed=0),
        run(lr=0.01, diverged=True, seed=1),  # one diverged seed: lr 0.01 counts as diverged
        run(lr=0.005, error=0.4),
    ]
    cell = select_cell(runs, "final_train_error", 0.1)
    assert cell.ours == 0.4 and cell.best.lr == 0.005
    assert (cell.n_configs, cell.n_diverged) == (3, 2)


def test_all_diverged_failed_running_and_not_run():
    diverged = select_cell([run(lr=0.1, diverged=True), run(lr=0.01, diverged=True)], "m", 1.0)
    assert diverged.status == "diverged" and diverged.text == "diverged / 1"
    crashed = select_cell([run(status="FAILED")], "m", 1.0)
    assert crashed.status == "failed"
    assert select_cell([run(status="RUNNING")], "m", 1.0).status == "running"
    assert select_cell([run(error=None)], "final_train_error", 1.0).status == "no metric"
    empty = select_cell([], "m", 0.5)
    assert empty.status == "not run" and empty.text == "not run / 0.5"


def test_a_cell_is_diverged_only_when_every_learning_rate_diverged():
    half = [run(lr=0.1, diverged=True), run(lr=0.01, status="RUNNING")]
    assert select_cell(half, "m", 1.0).status == "running"
    crashed = [run(lr=0.1, diverged=True), run(lr=0.01, status="FAILED")]
    assert select_cell(crashed, "m", 1.0).status == "failed"
    # a config whose seeds still run does not compete on the seeds it has
    partial = [
        run(lr=0.01, error=0.1, seed=1),
        run(lr=0.01, status="RUNNING", seed=2),
        run(lr=0.005, error=0.2, seed=1),
        run(lr=0.005, error=0.2, seed=2),
    ]
    assert select_cell(partial, "final_train_error", None).best.lr == 0.005


def test_one_run_per_seed_and_no_protocols_mixed_in_a_mean():
    again = [
        run(error=0.1, seed=1, start_time=1),
        run(error=0.3, seed=2, start_time=1),
        run(error=0.11, seed=1, start_time=2),  # seed 1 again (another sweep): counted once
    ]
    cell = select_cell(again, "final_train_error", None)
    assert cell.seeds == (1, 2) and cell.values == (0.11, 0.3)
    other_profile = [
        run(error=0.1, seed=1, profile="quick"),
        run(error=0.1, seed=2, profile="quick"),
        run(error=0.5, seed=3, profile="cpu"),
    ]
    configs = group_configs(other_profile)
    assert sorted(len(c.runs) for c in configs) == [1, 2]


def test_newest_finished_per_run_key():
    old = run(run_key="k", error=0.5, start_time=1)
    new = run(run_key="k", error=0.3, start_time=2)
    crashed_later = run(run_key="k", status="FAILED", start_time=3)
    other = run(run_key="j", diverged=True, start_time=1)
    other_retry = run(run_key="j", diverged=True, start_time=5)
    keyless = run(run_key=None)
    kept = newest_per_run_key([old, crashed_later, new, other, other_retry, keyless])
    assert {r.run_id for r in kept} == {new.run_id, other_retry.run_id, keyless.run_id}


@pytest.mark.parametrize(
    ("method", "mu", "key", "label"),
    [
        ("sgd", 0.0, "sgd", "0 (SGD)"),
        ("cm", 0.0, "sgd", "0 (SGD)"),
        ("nag", 0.99, "nag_0.99", "0.99N"),
        ("cm", 0.995, "cm_0.995", "0.995M"),
        ("hf_momentum", 0.95, "hf_momentum", "HF†"),
        ("hf", None, "hf", "HF*"),
        ("adam", None, "adam", "adam"),
    ],
)
def test_columns(method, mu, key, label):
    assert column_key(method, mu) == key
    assert column_label(key, "table1") == label


def test_table1_grid_extras_and_not_run():
    paper = load_paper_numbers()
    t = table1(
        [
            run(method="nag", mu=0.99, lr=0.005, error=0.192),
            run(method="adam", mu=None, error=0.3),
            run(dataset="xor_ae", error=1.0),
            run(init_scale=2.0, error=0.01),  # Table 3 only
        ],
        paper,
    )
    assert list(t.rows) == ["curves", "mnist", "faces", "xor_ae"]
    assert list(t.columns)[-1] == "adam" and t.columns["nag_0.99"] == "0.99N"
    assert t.cell("curves", "nag_0.99").ratio == pytest.approx(2.0)
    assert t.cell("curves", "adam").text == "0.3 (1) / —"
    assert t.cell("mnist", "nag_0.99").status == "not run"
    assert t.cell("faces", "sgd_c").text == "not run / —"


def test_table5_rows_by_seq_len_and_zero_column():
    paper = load_paper_numbers()
    kw = {"task_kind": "rnn", "metric": "final_zero_one", "dataset": "addition"}
    t = table5(
        [
            run(method="cm", mu=0.0, error=0.78, seq_len=80, **kw),
            run(method="biases", mu=None, error=0.82, seq_len=80, **kw),
            run(method="nag", mu=0.9, error=0.1, seq_len=20, **kw),
        ],
        paper,
    )
    assert t.cell("addition_T80", "sgd").ratio == pytest.approx(2.0)
    assert t.cell("addition_T80", "biases").ratio == pytest.approx(1.0)
    assert t.rows["addition_T20"] == "add T=20"
    assert t.cell("addition_T20", "nag_0.9").text == "0.1 (1) / —"
    assert t.columns["sgd"] == "0"


def test_protocol_caption():
    """Every caption says the update count, the schedule period and the final phase."""
    quick = run(profile="quick", total_updates=3000, schedule_period=25, final_phase_updates=300)
    assert protocol_caption([quick], "autoencoder") == (
        "quick profile: 3,000 updates, schedule period 25, final phase 300 updates"
        " — not the paper's 750,000-update protocol."
    )
    no_final = run(profile="quick", total_updates=3000, schedule_period=25)
    assert "period 25, no final phase" in protocol_caption([no_final], "autoencoder")
    paper = run(profile="paper", total_updates=750_000, schedule_period=250)
    assert "(the paper's protocol)" in protocol_caption([paper], "autoencoder")
    assert protocol_caption([], "rnn") == "No runs yet."
    rnn = run(profile="quick", total_updates=2000, schedule_period=250, task_kind="rnn")
    assert protocol_caption([rnn], "rnn") == (
        "quick profile: 2,000 updates, mu 0.9 then mu_0 (no schedule period, no final phase)"
        " — not the paper's 50,000-update protocol."
    )
    # sets at different lengths (the cpu profile's FACES): each protocol names its sets
    cpu = {"profile": "cpu", "schedule_period": 12, "final_phase_updates": 250}
    mixed = [
        run(dataset="curves", total_updates=2500, **cpu),
        run(dataset="mnist", total_updates=2500, **cpu),
        run(dataset="faces", total_updates=1250, **cpu),
    ]
    assert protocol_caption(mixed, "autoencoder") == (
        "cpu profile (faces): 1,250 updates, schedule period 12, final phase 250 updates"
        " — not the paper's 750,000-update protocol; cpu profile (curves, mnist): 2,500"
        " updates, schedule period 12, final phase 250 updates — not the paper's"
        " 750,000-update protocol."
    )


def test_table5_note_says_which_task_definitions_and_where_the_choice_is_made():
    note = table5([], load_paper_numbers()).note
    assert "biases column is our own runs" in note and "released code" in note
    assert "experiment=rnn_biases" in note and "data/rnn_tasks.py" in note


def test_lr_sensitivity_marks_diverged_lrs():
    pts = lr_sensitivity(
        [run(lr=0.01, error=0.2), run(lr=0.05, diverged=True), run(method="cm", error=0.3)],
        "final_train_error",
    )
    assert pts == {"cm_0.99": [(0.01, 0.3)], "nag_0.99": [(0.01, 0.2), (0.05, None)]}
