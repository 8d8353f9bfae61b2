"""Tables as Markdown, CSV (one line per cell: ours, paper, ratio, the chosen config) and the
``metrics.json`` that ``dvc metrics show`` reads."""

from __future__ import annotations

import csv
from pathlib import Path

from momentum_repro.report.runs import FINISHED
from momentum_repro.report.tables import NOT_RUN, Cell, Table

CSV_COLUMNS = [
    "table",
    "row",
    "row_label",
    "column",
    "column_label",
    "ours",
    "paper",
    "ratio",
    "sem",
    "seed_values",
    "status",
    "method",
    "mu_max",
    "lr",
    "n_seeds",
    "final_phase_updates",
    "init_scale",
    "n_lrs",
    "n_lrs_diverged",
    "run_ids",
]


def cell_detail(cell: Cell) -> str:
    """The chosen config in words (hover text of the HTML table)."""
    parts = []
    if cell.best is not None:
        b = cell.best
        parts.append(f"{b.method}, mu_max {b.mu_max:g}" if b.mu_max is not None else b.method)
        parts.append(f"lr {b.lr:g}" if b.lr is not None else "lr ?")
        seeds = ", ".join(str(s) for s in cell.seeds)
        parts.append(f"{len(cell.seeds)} seed(s): {seeds}" if cell.seeds else "no seed finished")
    if cell.n_configs:
        parts.append(f"{cell.n_diverged}/{cell.n_configs} lr(s) diverged")
    return "; ".join(parts)


def markdown(table: Table, caption: str) -> str:
    """A Markdown table, each cell ``ours ±se (seeds) / paper (ours/paper ×)``, with its
    caption."""
    head = ["task", *table.columns.values()]
    lines = [
        f"### {table.title}",
        "",
        f"Each cell: ours (mean ± standard error over seeds, the number of seeds) / paper "
        f"(ratio ours/paper). {caption} {table.note}".strip(),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row, label in table.rows.items():
        cells = [table.cell(row, col).text for col in table.columns]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines) + "\n"


def _num(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def csv_rows(table: Table) -> list[dict[str, str]]:
    """One dict per cell, keys :data:`CSV_COLUMNS`."""
    rows = []
    for (row, col), cell in table.cells.items():
        b = cell.best
        rows.append(
            {
                "table": table.key,
                "row": row,
                "row_label": table.rows[row],
                "column": col,
                "column_label": table.columns[col],
                "ours": _num(cell.ours),
                "paper": _num(cell.paper),
                "ratio": _num(cell.ratio),
                "sem": _num(cell.sem),
                "seed_values": ";".join(repr(float(v)) for v in cell.values),
                "status": cell.status,
                "method": b.method if b else "",
                "mu_max": _num(b.mu_max) if b else "",
                "lr": _num(b.lr) if b else "",
                "n_seeds": str(len(cell.seeds)) if b else "",
                "final_phase_updates": str(b.final_phase_updates) if b else "",
                "init_scale": _num(b.init_scale) if b else "",
                "n_lrs": str(cell.n_configs),
                "n_lrs_diverged": str(cell.n_diverged),
                "run_ids": ";".join(r.run_id for r in b.runs) if b else "",
            }
        )
    return rows


def write_csv(table: Table, path: Path) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(csv_rows(table))
    return path


def metrics(tables: list[Table]) -> dict:
    """``{"table1": {"curves": {"nag_0.99": 0.1, ...}}, "ratio_to_paper": {...}}``: our number
    (or "diverged"/"failed"/...) for every cell that has runs, and the ratios where both exist."""
    out: dict = {}
    ratios: dict = {}
    for t in tables:
        for (row, col), cell in t.cells.items():
            if cell.status == NOT_RUN:
                continue
            value = cell.ours if cell.status == FINISHED else cell.status
            out.setdefault(t.key, {}).setdefault(row, {})[col] = value
            if cell.ratio is not None:
                ratios.setdefault(t.key, {}).setdefault(row, {})[col] = round(cell.ratio, 4)
    out["ratio_to_paper"] = ratios
    return out
