"""A one-page, self-contained HTML report (base64-embedded PNG figures) that opens in a
browser without a server. It leads with the answer: the claims' verdicts, each with its
comparisons, their intervals and what they rest on; then the tables, their not-run rows and
columns folded away behind one line; then the other sections and figures."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path

from momentum_repro.report.export import cell_detail
from momentum_repro.report.runs import FINISHED
from momentum_repro.report.tables import NOT_RUN, Table

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.diverged, td.failed { background: #fde2e2; } td.not-run { color: #999; }
td.running, td.no-metric { background: #fff4d6; }
table.claims td { text-align: left; vertical-align: top; }
.verdict { font-weight: bold; white-space: nowrap; }
.reproduced { color: #1a7f37; } .not-reproduced { color: #cf222e; }
.inconclusive { color: #9a6700; } .not-run { color: #999; }
.caption { font-size: 0.9em; color: #444; }
li.holds::marker { color: #1a7f37; } li.fails::marker { color: #cf222e; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 560px; }
section img { max-width: 100%; } section p { max-width: 60em; }
details { margin: 0 0 1.5em; } summary { cursor: pointer; color: #444; }
"""


def _css(status: str) -> str:
    return status.replace(" ", "-")


def verdict_html(verdict: str) -> str:
    return f'<span class="verdict {_css(verdict)}">{escape(verdict)}</span>'


def _grid_html(table: Table, rows: Sequence[str], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in ["task", *(table.columns[k] for k in columns)])
    body = []
    for row in rows:
        tds = []
        for col in columns:
            cell = table.cell(row, col)
            css = _css(cell.status) if cell.status != FINISHED else "ok"
            title = escape(cell_detail(cell), quote=True)
            tds.append(f'<td class="{css}" title="{title}">{escape(cell.text)}</td>')
        body.append(f"<tr><td>{escape(table.rows[row])}</td>{''.join(tds)}</tr>")
    return f"<table><tr>{head}</tr>\n" + "\n".join(body) + "</table>\n"


def run_parts(table: Table) -> tuple[list[str], list[str]]:
    """The rows and columns with at least one cell that was run."""
    ran = [(r, c) for (r, c), cell in table.cells.items() if cell.status != NOT_RUN]
    rows = [r for r in table.rows if any(r == rr for rr, _ in ran)]
    columns = [c for c in table.columns if any(c == cc for _, cc in ran)]
    return rows, columns


def table_html(table: Table, caption: str, how_to_run: str) -> str:
    """One table, each cell ``ours ±se (seeds) / paper (ratio×)``: the rows and columns that
    were run, and the whole table folded below one line that names what was not run and
    ``how_to_run`` it."""
    rows, columns = run_parts(table)
    head = (
        f"<h3>{escape(table.title)}</h3>\n"
        f'<p class="caption">Each cell: ours (mean ± standard error over seeds, the number of '
        f"seeds) / paper (ratio ours/paper); hover for the chosen learning rate. "
        f"{escape(caption)} {escape(table.note)}</p>\n"
    )
    not_rows = [table.rows[r] for r in table.rows if r not in rows]
    not_cols = [table.columns[c] for c in table.columns if c not in columns]
    if not rows:
        return head + (
            f"<details><summary>Not run at this profile; {escape(how_to_run)}</summary>"
            f"{_grid_html(table, list(table.rows), list(table.columns))}</details>\n"
        )
    shown = _grid_html(table, rows, columns)
    if not not_rows and not not_cols:
        return head + shown
    missing = "; ".join(
        part
        for part in (
            f"rows {', '.join(not_rows)}" if not_rows else "",
            f"columns {', '.join(not_cols)}" if not_cols else "",
        )
        if part
    )
    return (
        head
        + shown
        + (
            f"<details><summary>Not run at this profile: {escape(missing)}. "
            f"{escape(how_to_run)}</summary>"
            f"{_grid_html(table, list(table.rows), list(table.columns))}</details>\n"
        )
    )


def figure_html(png: Path, caption: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption, quote=True)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def section_html(
    heading: str,
    paragraphs: Sequence[str],
    figures: Sequence[tuple[Path, str]] = (),
    table: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None,
    section_id: str = "",
) -> str:
    """A section of its own: heading, plain-text paragraphs, an optional (header, rows) table
    of plain text, and its figures (PNG, caption)."""
    anchor = f' id="{escape(section_id, quote=True)}"' if section_id else ""
    parts = [f"<section{anchor}><h2>{escape(heading)}</h2>"]
    parts += [f"<p>{escape(p)}</p>" for p in paragraphs]
    if table is not None:
        head, rows = table
        parts.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts += [figure_html(png, caption) for png, caption in figures]
    parts.append("</section>")
    return "\n".join(parts) + "\n"


def claims_html(
    heading: str,
    paragraphs: Sequence[str],
    verdicts: Sequence[tuple[str, str, str, str, str]],
    details: Sequence[tuple[str, str, Sequence[tuple[str, str]], Path | None]],
) -> str:
    """The claims section: a verdict table (claim, our verdict, tally, what it rests on, the
    paper's verdict), then per claim its rule, every comparison and its figure."""
    parts = [f'<section id="claims"><h2>{escape(heading)}</h2>']
    parts += [f'<p class="caption">{escape(p)}</p>' for p in paragraphs]
    parts.append(
        '<table class="claims"><tr><th>claim</th><th>ours</th><th>comparisons</th>'
        "<th>rests on</th><th>the paper's own numbers</th></tr>"
    )
    for claim, ours, tally, rests_on, paper in verdicts:
        verdict = ours.split(" (")[0]
        parts.append(
            f"<tr><td>{escape(claim)}</td><td>{verdict_html(verdict)}{escape(ours[len(verdict) :])}"
            f"</td><td>{escape(tally)}</td><td>{escape(rests_on)}</td><td>{escape(paper)}</td></tr>"
        )
    parts.append("</table>")
    for title, rule, comparisons, figure in details:
        parts.append(f"<h3>{escape(title)}</h3><p>{escape(rule)}</p>")
        if comparisons:
            items = "".join(
                f'<li class="{escape(outcome)}">{escape(text)}</li>'
                for text, outcome in comparisons
            )
            parts.append(f"<ul>{items}</ul>")
        if figure is not None:
            parts.append(figure_html(figure, title))
    parts.append("</section>")
    return "\n".join(parts) + "\n"


def write_index(
    path: Path,
    title: str,
    intro: str,
    claims: str,
    tables: Sequence[tuple[Table, str, str]],
    sections: Sequence[str] = (),
    figures: Sequence[tuple[Path, str]] = (),
) -> Path:
    """Write ``index.html``: intro, the claims section, each (table, caption, how to run what
    was not run), the other ``sections``, then each figure (PNG, caption)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(intro)}</p>",
        claims,
        '<section id="tables"><h2>The paper\'s tables, re-run</h2>',
        *(table_html(t, caption, how) for t, caption, how in tables),
        "</section>",
        *sections,
        '<section id="figures"><h2>Figures</h2>',
        *(figure_html(p, c) for p, c in figures),
        "</section>",
        "</body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
