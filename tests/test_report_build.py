"""build_report on a small MLflow SQLite store made here, with known metrics."""

import csv
import json
import xml.etree.ElementTree as ET

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from conftest import empty_store
from momentum_repro.report.build import build_report

EXPERIMENT = "momentum-repro-test"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_clock = iter(range(1_000, 10_000_000, 1_000))


def add_run(client, exp_id, parent, *, sweep, metrics=None, status="FINISHED", history=(), **tags):
    """One job run with the tags of docs/CONVENTIONS.md; ``history`` is logged as train_error."""
    t0 = next(_clock)
    kind = tags.pop("task_kind", "autoencoder")
    all_tags = {
        "run_kind": "job",
        "sweep_name": sweep,
        "task_kind": kind,
        "seed": "0",
        "init_scale": "1",
        "profile": "quick",
        "total_updates": "3000",
        "schedule_period": "25",
        "final_phase_updates": "0",
        "diverged": "false",
        "mlflow.parentRunId": parent,
        **{k: str(v) for k, v in tags.items()},
    }
    run = client.create_run(exp_id, start_time=t0, tags=all_tags)
    rid = run.info.run_id
    curve = "train_error" if kind == "autoencoder" else "train_loss"
    batch = [Metric(k, v, t0, 0) for k, v in (metrics or {}).items()]
    batch += [Metric(curve, v, t0, step) for step, v in history]
    if batch:
        client.log_batch(rid, metrics=batch)
    client.set_terminated(rid, status, end_time=t0 + 500)
    return rid


def ae(client, exp_id, parent, method, mu, lr, err=None, *, sweep="t1", **kw):
    """An autoencoder job; err=None with diverged=true is a diverged run."""
    metrics = {} if err is None else {"final_train_error": err}
    metrics |= kw.pop("extra", {})
    hist = [(0, 10.0), (100, 5.0), (200, err)] if err is not None else [(0, 10.0), (100, 1e9)]
    return add_run(
        client, exp_id, parent, sweep=sweep, metrics=metrics, history=hist,
        dataset=kw.pop("dataset", "curves"), method=method, mu_max=mu, lr=lr, **kw,
    )  # fmt: skip


def diverged(client, exp_id, parent, method, mu, lr, **kw):
    return ae(
        client, exp_id, parent, method, mu, lr, None,
        status="FAILED", diverged="true", failure_reason="loss is nan", **kw,
    )  # fmt: skip


def rnn(client, exp_id, parent, dataset, method, mu, lr, seed, zero_one, *, seq_len=80, **kw):
    metrics = {} if zero_one is None else {"final_zero_one": zero_one}
    return add_run(
        client, exp_id, parent, sweep="rnn", metrics=metrics, task_kind="rnn",
        history=[(0, 1.0), (50, 0.5)], dataset=dataset, method=method, mu_max=mu, lr=lr,
        seed=seed, seq_len=seq_len, **kw,
    )  # fmt: skip


pytestmark = pytest.mark.slow  # builds whole reports (figures): about 15 s


# session-scoped: under pytest-xdist a module's tests may be split between workers and
# interleaved with other modules' tests, which would build a module-scoped store again
@pytest.fixture(scope="session")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    uri = empty_store(root / "mlflow.db")
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(EXPERIMENT, artifact_location=(root / "artifacts").as_uri())
    parents = {}
    for sweep in ("t1", "rnn"):
        p = client.create_run(exp, tags={"run_kind": "sweep", "sweep_name": sweep})
        client.set_terminated(p.info.run_id)
        parents[sweep] = p.info.run_id
    P, R = parents["t1"], parents["rnn"]
    # Table 1, CURVES. nag 0.99: best lr 0.005 (0.1), one lr diverged.
    ae(client, exp, P, "nag", "0.99", "0.01", 0.2)
    ae(client, exp, P, "nag", "0.99", "0.005", 0.1)
    diverged(client, exp, P, "nag", "0.99", "0.05")
    # cm 0.99: every lr diverged.
    diverged(client, exp, P, "cm", "0.99", "0.01")
    diverged(client, exp, P, "cm", "0.99", "0.005")
    # column "0": sgd and nag at mu_max 0 compete.
    ae(client, exp, P, "sgd", "0", "0.01", 0.96)
    ae(client, exp, P, "nag", "0", "0.005", 1.2)
    # nag 0.9 resumed: the newest finished attempt (0.32) wins over the older one and a crash.
    ae(client, exp, P, "nag", "0.9", "0.01", 0.5, run_key="k09")
    ae(client, exp, P, "nag", "0.9", "0.01", 0.32, run_key="k09")
    add_run(client, exp, P, sweep="t1", status="FAILED", run_key="k09", method="nag",
            mu_max="0.9", lr="0.01", dataset="curves", failure_reason="killed")  # fmt: skip
    # A user optimizer: a column of its own with no paper value.
    ae(client, exp, P, "adam", "none", "0.001", 0.3)
    # Table 2: NAG 0.999 with the final phase; best lr by the error after it.
    fp = {"final_phase_updates": "1000"}
    ae(client, exp, P, "nag", "0.999", "0.005", 0.08,
       extra={"train_error_before_final_phase": 0.192}, **fp)  # fmt: skip
    ae(client, exp, P, "nag", "0.999", "0.01", 0.09,
       extra={"train_error_before_final_phase": 0.095}, **fp)  # fmt: skip
    # Table 3: scales 2 (finished) and 0.5 (diverged) for nag 0.999.
    ae(client, exp, P, "nag", "0.999", "0.005", 0.166, init_scale="2")
    diverged(client, exp, P, "nag", "0.999", "0.005", init_scale="0.5")
    # Another sweep, not asked for: would win nag 0.99 if it leaked in.
    ae(client, exp, P, "nag", "0.99", "0.0001", 0.001, sweep="other")
    # Table 5: seeds averaged per lr; lr 1e-4 has the best mean (0.002), 1e-5 the best seed.
    for seed, (a, b) in enumerate([(0.001, 0.0005), (0.003, 0.01)]):
        rnn(client, exp, R, "addition", "nag", "0.995", "0.0001", seed, a)
        rnn(client, exp, R, "addition", "nag", "0.995", "0.00001", seed, b)
    # nag 0.9: lr 1e-4 has a diverged seed, so lr 1e-5 (mean 0.05) is chosen.
    rnn(client, exp, R, "addition", "nag", "0.9", "0.0001", 0, 0.02)
    rnn(client, exp, R, "addition", "nag", "0.9", "0.0001", 1, None, status="FAILED",
        diverged="true")  # fmt: skip
    rnn(client, exp, R, "addition", "nag", "0.9", "0.00001", 0, 0.04)
    rnn(client, exp, R, "addition", "nag", "0.9", "0.00001", 1, 0.06)
    rnn(client, exp, R, "addition", "cm", "0.9", "0.0001", 0, 0.86)
    rnn(client, exp, R, "addition", "biases", "none", "0.001", 0, 0.82)
    rnn(client, exp, R, "xor", "nag", "0.9", "0.0001", 0, 0.5)
    return uri, client, parents


@pytest.fixture(scope="session")
def report(store, tmp_path_factory):
    uri, _, _ = store
    out = tmp_path_factory.mktemp("reports")
    return build_report(uri, EXPERIMENT, ["t1", "rnn"], out)


def cell(report, table, row, col):
    return report.tables[table].cell(row, col)


def test_table1_best_lr_ratio_and_failures(report):
    c = cell(report, "table1", "curves", "nag_0.99")
    assert (c.ours, c.best.lr, c.paper) == (0.1, 0.005, 0.096)
    assert c.ratio == pytest.approx(0.1 / 0.096) and c.n_diverged == 1
    assert cell(report, "table1", "curves", "cm_0.99").text == "diverged / 0.1"
    assert cell(report, "table1", "curves", "sgd").ratio == pytest.approx(2.0)
    assert cell(report, "table1", "curves", "nag_0.9").ours == pytest.approx(0.32)
    assert cell(report, "table1", "curves", "adam").text == "0.3 (1) / —"
    assert cell(report, "table1", "curves", "nag_0.999").ours == pytest.approx(0.08)
    assert cell(report, "table1", "mnist", "nag_0.99").text == "not run / 0.73"
    assert report.n_runs == 15 - 2 + 11  # t1 + rnn job runs; 2 older attempts of k09 dropped


def test_table2_before_after(report):
    before = cell(report, "table2", "curves", "before")
    after = cell(report, "table2", "curves", "after")
    assert before.best.lr == after.best.lr == 0.005
    assert before.ratio == pytest.approx(2.0) and after.ours == pytest.approx(0.08)
    assert cell(report, "table2", "faces", "after").status == "not run"


def test_table3_by_scale(report):
    assert cell(report, "table3", "curves", "2").ratio == pytest.approx(2.0)
    assert cell(report, "table3", "curves", "1").ours == pytest.approx(0.08)
    assert cell(report, "table3", "curves", "0.5").status == "diverged"
    assert cell(report, "table3", "curves", "0.25").status == "not run"


def test_table5_seed_average(report):
    c = cell(report, "table5", "addition_T80", "nag_0.995")
    assert c.best.lr == 1e-4 and c.ours == pytest.approx(0.002) and c.ratio == pytest.approx(8)
    c = cell(report, "table5", "addition_T80", "nag_0.9")
    assert c.best.lr == 1e-5 and c.ours == pytest.approx(0.05) and c.n_diverged == 1
    assert cell(report, "table5", "addition_T80", "biases").ratio == pytest.approx(1.0)
    assert cell(report, "table5", "xor_T80", "nag_0.9").text == "0.5 (1) / —"
    assert cell(report, "table5", "mem20_T80", "sgd").status == "not run"


def test_files_markdown_csv_metrics(report):
    out = report.out_dir
    md = (out / "table1.md").read_text()
    assert "| Curves | 0.96 (1) / 0.48 (2×) |" in md
    assert "quick profile: 3,000 updates, schedule period 25, no final phase — not the pap" in md
    assert "quick profile: 3,000 updates, schedule period 25, final phase 1,000 updates" in md
    rows = {(r["row"], r["column"]): r for r in csv.DictReader((out / "table5.csv").open())}
    r = rows[("addition_T80", "nag_0.995")]
    assert (float(r["ours"]), float(r["paper"]), float(r["lr"]), r["n_seeds"]) == (
        pytest.approx(0.002), 0.00025, 1e-4, "2",
    )  # fmt: skip
    assert rows[("mem5_T200", "cm_0.9")]["status"] == "not run"
    m = json.loads((out / "metrics.json").read_text())
    assert m["table1"]["curves"]["nag_0.99"] == 0.1
    assert m["table1"]["curves"]["cm_0.99"] == "diverged"
    assert "mnist" not in m["table1"]
    assert m["ratio_to_paper"]["table5"]["addition_T80"]["nag_0.995"] == pytest.approx(8)
    html = (out / "index.html").read_text()
    assert html.count('<table class="claims">') == 1 and "data:image/png;base64," in html


def test_claims_page_from_the_same_runs(report):
    """claims.md, its section of index.html and metrics.json, computed from the runs."""
    out = report.out_dir
    md = (out / "claims.md").read_text()
    assert md.startswith("# Does the paper hold?")
    # (c) on CURVES: one seed a cell, no interval: inconclusive, however far apart
    assert "- Curves: NAG 0.99 0.1 (n=1) < NAG 0.9 0.32 (n=1): A/B = 0.313 (no interval" in md
    # (b): CM 0.99 diverged at every lr, so NAG 0.99 wins, and the page says why
    assert "- Curves: NAG 0.99 0.1 (n=1) < CM 0.99 diverged: CM 0.99 diverged at every lr" in md
    m = json.loads((out / "metrics.json").read_text())["claims"]
    assert (m["a"]["ours"], m["a"]["paper"]) == ("not reproduced", "reproduced")
    assert m["a"]["decided_by_divergence"] == {"holds": 0, "fails": 1, "inconclusive": 0}
    assert (m["b"]["ours"], m["c"]["ours"]) == ("reproduced", "inconclusive")
    assert m["d"]["ours"] == "not run"  # no control: the final phase is not tested
    assert m["f"]["ours"] == "inconclusive" and m["f"]["rows_tested"] == ["add T=80"]
    # (e): NAG 0.999 at scale 1 (0.08) vs scale 2 (0.166): one seed; scale 0.5 diverged
    assert (m["e"]["ours"], m["e"]["holds"], m["e"]["inconclusive"]) == ("inconclusive", 0, 1)
    assert m["g"]["ours"] == "not run"  # no CM at mu_0 = 0.995
    html = (out / "index.html").read_text()
    assert "Does the paper hold?" in html and "(g) NAG tolerates" in html


def test_figures_written_with_expected_curves(report):
    figs = report.figures
    # nag 0.9 / 0.99 / 0.999 finished; cm 0.99 diverged everywhere: no line.
    assert len(figs["curves_curves"].axes[0].get_lines()) == 3
    # lines for sgd, nag 0.9, nag 0.99, nag 0.999, adam; cm 0.99 only as diverged markers
    assert len(figs["lr_curves"].axes[0].get_lines()) == 5
    assert len(figs["schedule"].axes[0].get_lines()) == 4
    assert len(figs["curves_addition_T80"].axes[0].get_lines()) == 3  # nag .9/.995, cm .9
    for name in figs:
        png = report.out_dir / "figures" / f"{name}.png"
        assert png.read_bytes().startswith(PNG_MAGIC)
        root = ET.parse(report.out_dir / "figures" / f"{name}.svg").getroot()
        assert root.tag.endswith("svg")
    rows = list(csv.DictReader((report.out_dir / "plots" / "curves" / "curves.csv").open()))
    assert {r["series"] for r in rows} == {
        "0.9N (lr 0.01)",
        "0.99N (lr 0.005)",
        "0.999N (lr 0.005)",
    }
    assert set(rows[0]) == {"step", "series", "value"}


def test_artifacts_logged_to_parent_runs(report, store):
    _, client, parents = store
    assert sorted(report.logged_to) == sorted(parents.values())
    root = f"report_{report.out_dir.resolve().name}"
    names = {a.path for a in client.list_artifacts(parents["t1"], root)}
    assert {f"{root}/table1.md", f"{root}/index.html", f"{root}/metrics.json"} <= names
    figs = {a.path for a in client.list_artifacts(parents["rnn"], f"{root}/figures")}
    assert f"{root}/figures/schedule.svg" in figs


def test_sweeps_without_runs_say_not_run(store, tmp_path):
    uri, _, _ = store
    res = build_report(uri, EXPERIMENT, ["not_started"], tmp_path / "r")
    assert res.n_runs == 0 and res.logged_to == []
    assert {c.status for t in res.tables.values() for c in t.cells.values()} == {"not run"}
    assert "No runs yet." in (tmp_path / "r" / "table5.md").read_text()
    res = build_report(uri, "no-such-experiment", ["t1"], tmp_path / "r2")
    assert res.n_runs == 0 and (tmp_path / "r2" / "index.html").exists()


def test_the_page_leads_with_the_verdicts(report):
    """index.html, parsed: the claims section comes first, its verdict table names each
    claim's verdict, a figure per claim with comparisons, then the tables, the rows and
    columns not run folded away behind one line."""
    from html.parser import HTMLParser

    class Outline(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.sections: list[str] = []  # ids of the <section>s, in order
            self.headings: list[str] = []  # <h2> texts, in order
            self.summaries: list[str] = []
            self._in: str | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "section":
                self.sections.append(dict(attrs).get("id", ""))
            if tag in ("h2", "summary"):
                self._in = tag

        def handle_endtag(self, tag):
            if tag == self._in:
                self._in = None

        def handle_data(self, data):
            if self._in == "h2":
                self.headings.append(data)
            elif self._in == "summary":
                self.summaries.append(data)

    outline = Outline()
    page = (report.out_dir / "index.html").read_text()
    outline.feed(page)
    assert outline.sections[:2] == ["claims", "tables"]
    assert outline.headings[0].startswith("Does the paper hold?")
    claims_html = page[page.index('<section id="claims">') : page.index('<section id="tables">')]
    for verdict in ("not reproduced", "inconclusive", "not run"):
        assert f'class="verdict {verdict.replace(" ", "-")}"' in claims_html
    assert claims_html.count("data:image/png;base64,") >= 4  # the claims with comparisons
    # Table 1 ran Curves only: Mnist and Faces and the columns never run are folded away
    assert any(
        s.startswith("Not run at this profile: rows Mnist, Faces") for s in outline.summaries
    )
    assert any("experiment=table1" in s for s in outline.summaries)


def test_the_report_loads_without_torch():
    """The report reads runs and the momentum schedules: it does not import torch (nor
    Lightning), which would double its start-up time."""
    import subprocess
    import sys

    code = (
        "import sys; import momentum_repro.report.build;"
        "print(sorted({'torch', 'pytorch_lightning'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[]"]
