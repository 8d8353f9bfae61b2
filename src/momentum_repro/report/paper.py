"""The published numbers of Sutskever, Martens, Dahl & Hinton (ICML 2013), Tables 1, 2, 3 and 5.

They live once, in ``paper_numbers.yaml`` next to this module (with the citation); every table
of the report takes its "paper" column from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

# Rows x columns of one table: row key -> column key -> number (None where the paper prints NA).
Grid = dict[str, dict[str, float | None]]

TABLES = ("table1", "table2", "table3", "table5")


@dataclass(frozen=True)
class PaperNumbers:
    """Published numbers of one paper, by table, row and column key (see paper_numbers.yaml)."""

    citation: str
    url: str
    tables: dict[str, Grid]

    def value(self, table: str, row: str, column: str) -> float | None:
        """The paper's number for one cell, or None when the paper has no such cell (or NA)."""
        return self.tables.get(table, {}).get(row, {}).get(column)

    def rows(self, table: str) -> list[str]:
        """Row keys of a table, in the paper's order."""
        return list(self.tables.get(table, {}))

    def columns(self, table: str) -> list[str]:
        """Column keys of a table, in the paper's order (union over its rows)."""
        seen: dict[str, None] = {}
        for cols in self.tables.get(table, {}).values():
            seen.update(dict.fromkeys(cols))
        return list(seen)


def _grid(raw: dict, table: str) -> Grid:
    if not isinstance(raw, dict):
        raise ValueError(f"paper_numbers.yaml: {table} must be a mapping, got {type(raw).__name__}")
    return {
        str(row): {str(col): None if v is None else float(v) for col, v in cols.items()}
        for row, cols in raw.items()
    }


@cache
def load_paper_numbers() -> PaperNumbers:
    """Load the packaged ``paper_numbers.yaml`` (Tables 1, 2, 3, 5 of Sutskever et al. 2013)."""
    text = resources.files(__package__).joinpath("paper_numbers.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    missing = [t for t in TABLES if t not in raw]
    if missing:
        raise ValueError(f"paper_numbers.yaml: missing tables {missing}; expected {list(TABLES)}")
    return PaperNumbers(
        citation=str(raw["citation"]),
        url=str(raw["url"]),
        tables={t: _grid(raw[t], t) for t in TABLES},
    )
