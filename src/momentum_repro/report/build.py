"""The report in one call: the current MLflow runs of some sweeps -> the claims checked,
tables (Markdown, CSV), metrics.json, figures (PNG, SVG) with their data (CSV for ``dvc
plots``), index.html; the files are also logged as artifacts (``report/``) of each sweep's
newest parent run.

    build_report("sqlite:///abs/mlflow.db", "momentum-repro", ["claims_curves_quick"],
                 Path("reports"), summary_dir=Path("results/sweeps"))
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from momentum_repro.report import claims, export, html, moons, plots, theory, tuning
from momentum_repro.report.paper import load_paper_numbers
from momentum_repro.report.runs import (
    FINISHED,
    RunRecord,
    load_current_runs,
    load_decision_boundary,
    load_sweep_parents,
    metric_history,
)
from momentum_repro.report.tables import (
    AUTOENCODER_METRIC,
    PAPER_PERIOD,
    PAPER_UPDATES,
    RNN_METRIC,
    Table,
    build_tables,
    lr_sensitivity,
    protocol_caption,
    rnn_row_key,
)

CURVE_METRIC = {"table1": "train_error", "table5": "train_loss"}
FINAL_METRIC = {"table1": AUTOENCODER_METRIC, "table5": RNN_METRIC}
TASK_KIND = {"table1": "autoencoder", "table2": "autoencoder", "table3": "autoencoder"}
CLAIM_CAPTIONS = (("Autoencoders", "table1"), ("RNNs", "table5"))  # the protocols claims.md names


@dataclass
class ReportResult:
    """What :func:`build_report` wrote: the tables, figures (still open) and files."""

    out_dir: Path
    tables: dict[str, Table]
    figures: dict[str, Figure]
    files: list[Path]
    metrics: dict
    n_runs: int
    logged_to: list[str] = field(default_factory=list)  # parent run ids given the artifacts
    left_out: str = ""  # the runs tagged with the sweeps that are not current, and why


def _caption(table: Table) -> str:
    return protocol_caption(table.runs, TASK_KIND.get(table.key, "rnn"))


def _clear_previous(out_dir: Path) -> None:
    """Remove the figures and plot data of an earlier build (a dataset may have gone)."""
    for sub, patterns in (("figures", ("*.png", "*.svg")), ("plots", ("*/*.csv",))):
        for pattern in patterns:
            for old in (out_dir / sub).glob(pattern):
                old.unlink()


def _curve_figures(
    client: MlflowClient, table: Table
) -> dict[str, tuple[Figure, dict[str, list[tuple[float, float]]]]]:
    """NAG vs CM training curves per row: the best-lr run (lowest seed) of each nag/cm cell."""
    metric = CURVE_METRIC[table.key]
    out = {}
    for row, label in table.rows.items():
        series, labels = {}, {}
        for col, col_label in table.columns.items():
            cell = table.cell(row, col)
            if not col.startswith(("nag_", "cm_")) or cell.best is None:
                continue
            run = cell.best.finished_runs[0]
            series[col] = metric_history(client, run.run_id, metric)
            labels[col] = f"{col_label} (lr {cell.best.lr:g})"
        if any(series.values()):
            title = f"{label}: {metric}, NAG (solid) vs CM (dashed), best lr per mu_max"
            fig = plots.plot_training_curves(title, series, labels, metric)
            out[row] = (fig, {labels[k]: v for k, v in series.items()})
    return out


def _row_key(table: Table, r: RunRecord) -> str:
    return rnn_row_key(r.dataset, r.seq_len) if table.key == "table5" else r.dataset


def _lr_figures(table: Table) -> dict[str, tuple[Figure, dict]]:
    """Final error vs lr per row, one line per column, every lr run (not only the best)."""
    metric = FINAL_METRIC[table.key]
    out = {}
    for row, label in table.rows.items():
        points = lr_sensitivity([r for r in table.runs if _row_key(table, r) == row], metric)
        if not points:
            continue
        labels = {k: table.columns.get(k, k) for k in points}
        fig = plots.plot_lr_sensitivity(f"{label}: {metric} vs lr", points, labels, metric)
        out[row] = (fig, {labels[k]: v for k, v in points.items()})
    return out


def _schedule_figure(runs: list[RunRecord]) -> tuple[Figure, dict]:
    """The schedule of eq. (5) at the (updates, period, final phase) most autoencoder runs used
    (the paper's when there are none), for the paper's mu_max values and any others run."""
    ae = [r for r in runs if r.task_kind == "autoencoder" and r.total_updates]
    total, period, final = PAPER_UPDATES["autoencoder"], PAPER_PERIOD, 0
    if ae:
        total, period, final = Counter(
            (r.total_updates, r.schedule_period or PAPER_PERIOD, r.final_phase_updates) for r in ae
        ).most_common(1)[0][0]
    mus = {0.9, 0.99, 0.995, 0.999} | {
        r.mu_max for r in ae if r.mu_max is not None and 0 < r.mu_max < 1
    }
    fig = plots.plot_momentum_schedule(sorted(mus), total, period, final)
    data = {f"mu_max={m:g}": plots.schedule_points(m, total, period, final) for m in sorted(mus)}
    return fig, data


def _quadratic_section(out_dir: Path) -> tuple[str, Figure, list[Path]]:
    """Section 2's analysis: always in the report, it needs no runs."""
    fig = plots.plot_quadratic_rates(theory.MUS)
    saved = plots.save_figure(fig, out_dir / "figures" / "quadratic_rates")
    data = theory.rate_series()
    csv_path = plots.write_series_csv(
        out_dir / "plots" / "quadratic" / "rates.csv", "eps_lambda", data
    )
    section = html.section_html(
        theory.HEADING, theory.paragraphs(), [(saved[0], fig.get_suptitle())]
    )
    return section, fig, [*saved, csv_path]


def _moons_section(
    client: MlflowClient, records: list[RunRecord], out_dir: Path
) -> tuple[str, dict[str, Figure], list[Path], dict[str, float]] | None:
    """The worked example (two moons), when the report's sweeps hold its runs: accuracies
    beside the published ones, cost curves and decision boundaries of one run per method."""
    rows = moons.accuracy_rows(records)
    if not rows:
        return None
    shown = moons.shown_runs(records)
    series = {}
    for method, r in shown.items():
        per_epoch = moons.updates_per_epoch(r) or 1.0
        history = metric_history(client, r.run_id, moons.CURVE_METRIC)
        series[method] = [(step / per_epoch, value) for step, value in history]
    labels = {m: f"{moons.method_label(m)} (lr {r.lr:g})" for m, r in shown.items()}
    figures = {"moons_costs": plots.plot_moons_costs(series, labels)}
    boundaries = {
        m: b
        for m, r in shown.items()
        if (b := load_decision_boundary(client, r.run_id)) is not None
    }
    accuracy = {m: r.final(moons.FINAL_METRIC) for m, r in shown.items()}
    if boundaries:
        titles = {
            m: f"{moons.method_label(m)}: {100 * accuracy[m]:.1f}% training accuracy"
            for m in boundaries
        }
        figures["moons_boundaries"] = plots.plot_decision_boundaries(boundaries, titles)
    files, pngs = [], []
    for name, fig in figures.items():
        saved = plots.save_figure(fig, out_dir / "figures" / name)
        files += saved
        pngs.append((saved[0], fig.get_suptitle() or fig.axes[0].get_title()))
    files.append(
        plots.write_series_csv(
            out_dir / "plots" / "moons" / "cost.csv",
            "epoch",
            {labels[m]: v for m, v in series.items()},
        )
    )
    section = html.section_html(
        moons.HEADING,
        moons.paragraphs(shown),
        pngs,
        (moons.ACCURACY_COLUMNS, [row.cells() for row in rows]),
    )
    return section, figures, files, {m: a for m, a in accuracy.items() if a is not None}


# the command that runs a table's whole grid (the rows and columns a profile did not run)
HOW_TO_RUN = {
    "table1": "experiment=table1",
    "table2": "experiment=table2",
    "table3": "experiment=table3",
    "table5": "experiment=rnn_table",
}
# the files a build writes at the top of its folder: an earlier build's that this one does not
# write again (a tuning section no longer asked for) are removed
REPORT_FILES = ("table*.md", "table*.csv", "claims.md", "tuning.md", "metrics.json", "index.html")


def _clear_report_files(out_dir: Path) -> None:
    for pattern in REPORT_FILES:
        for old in out_dir.glob(pattern):
            old.unlink()
    _clear_previous(out_dir)


def how_to_run(table: str, profile: str | None) -> str:
    return (
        f"Run them with: python pipelines/train.py -m {HOW_TO_RUN[table]} "
        f"profile={profile or '<profile>'}"
    )


def _comparison_rows(verdict: claims.Verdict) -> list:
    """The rows of a claim's comparison figure (comparisons with an interval)."""
    rows = []
    for c in verdict.comparisons:
        if c.interval is None:  # decided by a divergence: no ratio to draw
            continue
        no_bar = c.interval.method == "none"  # one run a cell: the seeds, no interval
        a_values = [max(v, c.floor) for v in c.a.values]
        b_values = [max(v, c.floor) for v in c.b.values]
        if c.interval.method == "paired":
            by_seed = dict(zip(c.b.seeds, b_values, strict=True))
            seeds = [
                a / by_seed[s] for s, a in zip(c.a.seeds, a_values, strict=True) if s in by_seed
            ]
        else:
            gm = math.exp(fmean(math.log(v) for v in b_values))
            seeds = [a / gm for a in a_values]
        rows.append(
            (
                f"{c.row}: {c.a.label} vs {c.b.label}",
                c.interval.ratio,
                math.nan if no_bar else math.exp(c.interval.low),
                math.nan if no_bar else math.exp(c.interval.high),
                seeds,
                c.outcome,
                1 / c.factor,
            )
        )
    return rows


def _claims_section(
    checked: list[claims.ClaimResult], protocols: list[str], out_dir: Path
) -> tuple[str, dict[str, Figure], list[Path]]:
    """The claims: verdicts first, then each claim's comparisons and their figure."""
    figures, files, details = {}, [], []
    for r in checked:
        title = f"({r.claim.key}) {r.claim.statement}"
        rows = _comparison_rows(r.ours)
        png = None
        if rows:
            fig = plots.plot_comparisons(f"claim ({r.claim.key}): A / B, 95% interval", rows)
            saved = plots.save_figure(fig, out_dir / "figures" / f"claim_{r.claim.key}")
            figures[f"claim_{r.claim.key}"], png = fig, saved[0]
            files += saved
        lines = [(claims.outcome_line(c), c.outcome) for c in r.ours.comparisons]
        rule = (
            f"{r.claim.where}. Rule: {r.claim.rule}. Ours: {r.ours.text}, {r.ours.tally}. "
            f"Rests on: {r.basis.text()}."
        )
        details.append((title, rule, lines, png))
    verdicts = [
        (f"({r.claim.key}) {r.claim.statement}", *row[1:])
        for r, row in zip(checked, claims.summary_rows(checked), strict=True)
    ]
    section = html.claims_html(claims.HEADING, [claims.INTRO, *protocols], verdicts, details)
    return section, figures, files


def build_report(
    tracking_uri: str,
    experiment: str,
    sweep_names: Sequence[str],
    out_dir: Path,
    *,
    summary_dir: Path = Path("results/sweeps"),
    tuned_sweeps: Sequence[str] = (),
    profile: str | None = None,
    log_artifacts: bool = True,
) -> ReportResult:
    """Build the whole report of the given sweeps into ``out_dir``: the paper's claims checked
    on their current runs (those each sweep's summary in ``summary_dir`` lists), Tables 1, 2,
    3, 5 beside the paper's numbers, figures, ``metrics.json`` and ``index.html``.
    ``tuned_sweeps``: tuning studies, shown in a section of their own (their trials at
    ``profile``), never in the tables or the claims. Sweeps without runs give "not run"."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_report_files(out_dir)
    client = MlflowClient(tracking_uri=tracking_uri)
    current = load_current_runs(client, experiment, list(sweep_names), Path(summary_dir))
    records = current.records
    paper = load_paper_numbers()
    tables = {t.key: t for t in build_tables(records, paper)}
    files: list[Path] = []

    for t in tables.values():
        md = out_dir / f"{t.key}.md"
        md.write_text(export.markdown(t, _caption(t)), encoding="utf-8")
        files += [md, export.write_csv(t, out_dir / f"{t.key}.csv")]
    # the paper's claims (a)-(g), from the same cells, beside the paper's own numbers
    checked = claims.check_claims(tables, paper)
    protocols = [f"{kind}: {_caption(tables[key])}" for kind, key in CLAIM_CAPTIONS]
    left_out = current.left_out_text()
    notes = [left_out + "."] if left_out else []
    claims_md = out_dir / "claims.md"
    claims_md.write_text(claims.markdown(checked, [*protocols, *notes]), encoding="utf-8")
    files.append(claims_md)

    summary = export.metrics(list(tables.values()))
    summary["runs"] = {
        "total": len(records),
        "finished": sum(r.outcome == FINISHED for r in records),
        "diverged": sum(r.diverged for r in records),
        "left_out": {name: dict(reasons) for name, reasons in current.left_out.items()},
        "crashed_jobs": dict(current.crashed),
        "summaries": dict(current.summaries),
    }
    summary["claims"] = claims.metrics(checked)
    claims_section, section_figures, saved = _claims_section(checked, [*protocols, *notes], out_dir)
    files += saved
    # sections with their own text: section 2's analysis always, the worked example if run
    section, fig, saved = _quadratic_section(out_dir)
    sections = [section]
    section_figures["quadratic_rates"] = fig
    files += saved
    worked_example = _moons_section(client, records, out_dir)
    if worked_example is not None:
        section, moons_figures, saved, accuracy = worked_example
        sections.append(section)
        section_figures.update(moons_figures)
        files += saved
        summary["moons"] = {"final_train_accuracy": accuracy}

    if tuned_sweeps:  # experiment=tune studies at this profile: their own section
        trials = load_current_runs(client, experiment, list(tuned_sweeps), Path(summary_dir))
        tuned = tuning.tuning_rows([r for r in trials.records if profile in (None, r.profile)])
        if tuned:
            tuning_md = out_dir / "tuning.md"
            tuning_md.write_text(tuning.markdown(tuned, profile), encoding="utf-8")
            files.append(tuning_md)
            paragraphs = [tuning.intro(profile)]
            sections.append(
                html.section_html(tuning.HEADING, paragraphs, table=(tuning.COLUMNS, tuned))
            )
            summary["tuning"] = [dict(zip(tuning.COLUMNS, row, strict=True)) for row in tuned]

    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files.append(metrics_path)

    # name -> (figure, plot data, its x column, data file under plots/: one folder per x)
    figures: dict[str, tuple[Figure, dict, str, str]] = {}
    for key in ("table1", "table5"):
        for row, (fig, data) in _curve_figures(client, tables[key]).items():
            figures[f"curves_{row}"] = (fig, data, "step", f"curves/{row}.csv")
        for row, (fig, data) in _lr_figures(tables[key]).items():
            figures[f"lr_{row}"] = (fig, data, "lr", f"lr/{row}.csv")
    fig, data = _schedule_figure(records)
    figures["schedule"] = (fig, data, "step", "schedule/mu.csv")
    pngs = []
    for name, (fig, data, x_name, data_file) in figures.items():
        saved = plots.save_figure(fig, out_dir / "figures" / name)
        files += [*saved, plots.write_series_csv(out_dir / "plots" / data_file, x_name, data)]
        pngs.append((saved[0], fig.axes[0].get_title()))

    intro = (
        f"Re-run of {paper.citation} Sweeps: {', '.join(sweep_names)}; {len(records)} current "
        f"job runs in experiment '{experiment}'."
    )
    files.append(
        html.write_index(
            out_dir / "index.html",
            "momentum-repro: does the paper hold?",
            intro,
            claims_section,
            [(t, _caption(t), how_to_run(t.key, profile)) for t in tables.values()],
            sections,
            pngs,
        )
    )

    logged: list[str] = []
    if log_artifacts:
        # one folder per report (reports/, reports/full/) so two reports never overwrite
        root = f"report_{out_dir.resolve().name}"
        for ids in load_sweep_parents(client, experiment, list(sweep_names)).values():
            if ids:
                for path in files:
                    sub = path.parent.relative_to(out_dir).as_posix()
                    client.log_artifact(ids[0], str(path), root if sub == "." else f"{root}/{sub}")
                logged.append(ids[0])

    return ReportResult(
        out_dir=out_dir,
        tables=tables,
        figures={**{name: f[0] for name, f in figures.items()}, **section_figures},
        files=files,
        metrics=summary,
        n_runs=len(records),
        logged_to=logged,
        left_out=left_out,
    )
