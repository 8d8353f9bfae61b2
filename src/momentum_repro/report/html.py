"""A one-page, self-contained HTML summary (tables and base64-embedded PNG figures) that opens
in a browser without a server."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path

from momentum_repro.report.export import cell_detail
from momentum_repro.report.runs import FINISHED
from momentum_repro.report.tables import Table

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.diverged, td.failed { background: #fde2e2; } td.not-run { color: #999; }
td.running, td.no-metric { background: #fff4d6; }
.caption { font-size: 0.9em; color: #444; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 560px; }
section img { max-width: 100%; } section p { max-width: 60em; }
"""


def table_html(table: Table, caption: str) -> str:
    """One table: each cell ``ours / paper (ratio×)``, hover text the chosen lr and seeds."""
    head = "".join(f"<th>{escape(c)}</th>" for c in ["task", *table.columns.values()])
    body = []
    for row, label in table.rows.items():
        tds = []
        for col in table.columns:
            cell = table.cell(row, col)
            css = cell.status.replace(" ", "-") if cell.status != FINISHED else "ok"
            title = escape(cell_detail(cell), quote=True)
            tds.append(f'<td class="{css}" title="{title}">{escape(cell.text)}</td>')
        body.append(f"<tr><td>{escape(label)}</td>{''.join(tds)}</tr>")
    return (
        f"<h2>{escape(table.title)}</h2>\n"
        f'<p class="caption">Each cell: ours / paper (ratio ours/paper); hover for the chosen '
        f"learning rate. {escape(caption)} {escape(table.note)}</p>\n"
        f"<table><tr>{head}</tr>\n" + "\n".join(body) + "</table>\n"
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
) -> str:
    """A section of its own: heading, plain-text paragraphs, an optional (header, rows) table
    of plain text, and its figures (PNG, caption)."""
    parts = [f"<section><h2>{escape(heading)}</h2>"]
    parts += [f"<p>{escape(p)}</p>" for p in paragraphs]
    if table is not None:
        head, rows = table
        parts.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts += [figure_html(png, caption) for png, caption in figures]
    parts.append("</section>")
    return "\n".join(parts) + "\n"


def write_index(
    path: Path,
    title: str,
    intro: str,
    tables: list[tuple[Table, str]],
    figures: list[tuple[Path, str]],
    sections: Sequence[str] = (),
) -> Path:
    """Write ``index.html``: intro, each (table, caption), the ``sections`` (HTML from
    :func:`section_html`), then each (PNG, caption)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(intro)}</p>",
        *(table_html(t, c) for t, c in tables),
        *sections,
        "<h2>Figures</h2>",
        *(figure_html(p, c) for p, c in figures),
        "</body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
