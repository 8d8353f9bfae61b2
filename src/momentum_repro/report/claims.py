"""The paper's claims as rules on its tables, checked on our runs and on its own numbers.

Each claim of Sutskever et al. (2013) is a rule that reads table cells: our cells are the
tables' (best learning rate per cell, built from the MLflow runs by ``tables.py``), the
paper's are its published numbers (``paper_numbers.yaml``). A rule gives one comparison per
pair of cells it reads; a claim is "reproduced" when every comparison holds on every table
row that has the cells ("most" rows for claim (g)), "not reproduced" when one fails, "not run"
when no row has them. A rule that the paper's own numbers fail would be a wrongly stated
claim, so every rule is also applied to the paper's numbers and shown beside ours.

A diverged cell (every learning rate diverged) reads as an infinite error: it loses every
comparison. A crashed, running or absent cell is not tested.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from momentum_repro.report.paper import PaperNumbers
from momentum_repro.report.runs import DIVERGED, FINISHED
from momentum_repro.report.tables import DATASET_LABELS, Table, rnn_row_label

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"
HIGH_MU = 0.99  # "mu_max >= 0.99": the high-momentum columns of Table 1
# (a) "a large factor": the paper's smallest is MNIST's SGD 2.1 against CM 0.999's 0.90, 2.3x
LARGE_FACTOR = 2.0
RNN_MU = 0.995  # Table 5's largest mu_0


@dataclass(frozen=True)
class Number:
    """One table cell as a rule reads it: a value (inf when diverged) or None (untested)."""

    value: float | None
    label: str  # the cell in words: "NAG 0.99", "SGD", "after", "scale 2"
    source: str = ""  # our chosen lr and run ids; empty for the paper's numbers
    runs: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.value is None:
            return "—"
        return "diverged" if math.isinf(self.value) else f"{self.value:.3g}"


class Numbers(Protocol):
    """The cells a rule reads: ours (from runs) or the paper's."""

    def rows(self, table: str) -> list[str]: ...

    def columns(self, table: str) -> list[str]: ...

    def cell(self, table: str, row: str, column: str) -> Number: ...


def column_words(table: str, column: str) -> str:
    """``nag_0.99`` -> ``NAG 0.99``, ``sgd`` -> ``SGD`` (Table 5: ``mu_0 = 0``), ``1`` ->
    ``scale 1`` (Table 3)."""
    method, _, mu = column.rpartition("_")
    if method in ("nag", "cm"):
        return f"{method.upper()} {mu}"
    if column == "sgd":
        return "mu_0 = 0" if table == "table5" else "SGD"
    return f"scale {column}" if table == "table3" else column


def row_words(table: str, row: str) -> str:
    return rnn_row_label(row) if table == "table5" else DATASET_LABELS.get(row, row)


class OurNumbers:
    """Our cells: the tables built from the MLflow runs."""

    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables

    def rows(self, table: str) -> list[str]:
        return list(self.tables[table].rows) if table in self.tables else []

    def columns(self, table: str) -> list[str]:
        return list(self.tables[table].columns) if table in self.tables else []

    def cell(self, table: str, row: str, column: str) -> Number:
        t = self.tables.get(table)
        label = column_words(table, column)
        if t is None or (row, column) not in t.cells:
            return Number(None, label)
        c = t.cell(row, column)
        if c.status == DIVERGED:
            return Number(math.inf, label, f"all {c.n_configs} lr(s) diverged")
        if c.status != FINISHED or c.ours is None or c.best is None:
            return Number(None, label)
        runs = tuple(r.run_id for r in c.best.finished_runs)
        lr = f"lr {c.best.lr:g}; " if c.best.lr is not None else ""
        return Number(c.ours, label, f"{lr}runs {', '.join(r[:8] for r in runs)}", runs)


class PublishedNumbers:
    """The paper's own cells."""

    def __init__(self, paper: PaperNumbers) -> None:
        self.paper = paper

    def rows(self, table: str) -> list[str]:
        return self.paper.rows(table)

    def columns(self, table: str) -> list[str]:
        return self.paper.columns(table)

    def cell(self, table: str, row: str, column: str) -> Number:
        return Number(self.paper.value(table, row, column), column_words(table, column))


@dataclass(frozen=True)
class Comparison:
    """One test of a rule on one row: ``text`` says what was compared, ``holds`` the result."""

    row: str
    text: str
    holds: bool
    runs: tuple[str, ...] = ()


def _lower(a: Number, b: Number) -> bool:
    """a beats b: a finite and below b (a diverged b always loses)."""
    assert a.value is not None and b.value is not None
    return math.isfinite(a.value) and a.value < b.value


def _versus(
    row: str, a: Number, b: Number, holds: bool, how: str = "<", note: str = ""
) -> Comparison:
    text = f"{a.label} {a.text} {how} {b.label} {b.text}{note}"
    sources = [f"{n.label}: {n.source}" for n in (a, b) if n.source]
    if sources:
        text += f" ({'; '.join(sources)})"
    return Comparison(row, text, holds, a.runs + b.runs)


def _mu_columns(numbers: Numbers, table: str, method: str) -> dict[float, str]:
    """mu -> column key of a method's columns (``nag_0.99`` -> 0.99)."""
    out = {}
    for col in numbers.columns(table):
        m, _, mu = col.rpartition("_")
        if m == method:
            out[float(mu)] = col
    return out


def _present(*cells: Number) -> bool:
    return all(c.value is not None for c in cells)


def rule_a(numbers: Numbers, row: str) -> list[Comparison]:
    """CM and NAG at each mu_max >= 0.99 against SGD: SGD / theirs >= LARGE_FACTOR."""
    sgd = numbers.cell("table1", row, "sgd")
    out = []
    for method in ("nag", "cm"):
        for mu, col in sorted(_mu_columns(numbers, "table1", method).items()):
            ours = numbers.cell("table1", row, col)
            if mu < HIGH_MU or not _present(sgd, ours):
                continue
            assert sgd.value is not None and ours.value is not None
            holds = _lower(ours, sgd) and sgd.value >= LARGE_FACTOR * ours.value
            factor = sgd.value / ours.value if math.isfinite(ours.value) else 0.0
            note = f": {factor:.3g}x, needs >= {LARGE_FACTOR:g}x"
            out.append(_versus(row, ours, sgd, holds, "vs", note))
    return out


def rule_b(numbers: Numbers, row: str) -> list[Comparison]:
    """NAG <= CM at each mu_max >= 0.99 where both were run."""
    nag = _mu_columns(numbers, "table1", "nag")
    cm = _mu_columns(numbers, "table1", "cm")
    out = []
    for mu in sorted(set(nag) & set(cm)):
        a, b = numbers.cell("table1", row, nag[mu]), numbers.cell("table1", row, cm[mu])
        if mu >= HIGH_MU and _present(a, b):
            assert a.value is not None and b.value is not None
            out.append(_versus(row, a, b, math.isfinite(a.value) and a.value <= b.value, "<="))
    return out


def rule_c(numbers: Numbers, row: str) -> list[Comparison]:
    """NAG at each mu_max >= 0.99 below NAG at 0.9."""
    nag = _mu_columns(numbers, "table1", "nag")
    if 0.9 not in nag:
        return []
    low = numbers.cell("table1", row, nag[0.9])
    out = []
    for mu, col in sorted(nag.items()):
        high = numbers.cell("table1", row, col)
        if mu >= HIGH_MU and _present(low, high):
            out.append(_versus(row, high, low, _lower(high, low)))
    return out


def rule_d(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 2: the error after the final phase below the error just before it."""
    before = numbers.cell("table2", row, "before")
    after = numbers.cell("table2", row, "after")
    if not _present(before, after):
        return []
    return [_versus(row, after, before, _lower(after, before))]


def rule_e(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 3: SI scale 1 below every other scale tried."""
    one = numbers.cell("table3", row, "1")
    out = []
    for col in numbers.columns("table3"):
        other = numbers.cell("table3", row, col)
        if col != "1" and _present(one, other):
            out.append(_versus(row, one, other, _lower(one, other)))
    return out


def rule_f(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 5: NAG at mu_0 = 0.995 below mu_0 = 0 and below the biases baseline."""
    nag = numbers.cell("table5", row, f"nag_{RNN_MU:g}")
    out = []
    for col in ("sgd", "biases"):
        other = numbers.cell("table5", row, col)
        if _present(nag, other):
            out.append(_versus(row, nag, other, _lower(nag, other)))
    return out


def rule_g(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 5: CM's best mu_0 is below 0.995, or CM at 0.995 is worse than NAG at 0.995."""
    cm = {
        mu: numbers.cell("table5", row, col)
        for mu, col in _mu_columns(numbers, "table5", "cm").items()
        if mu > 0
    }
    nag = numbers.cell("table5", row, f"nag_{RNN_MU:g}")
    cm_high = cm.get(RNN_MU)
    if cm_high is None or not _present(nag, cm_high):
        return []
    run_cm = {mu: c for mu, c in cm.items() if c.value is not None and math.isfinite(c.value)}
    best = min(run_cm, key=lambda mu: (run_cm[mu].value, mu)) if run_cm else None
    lower_best = best is not None and best < RNN_MU
    nag_wins = _lower(nag, cm_high)
    c = _versus(row, nag, cm_high, nag_wins)
    best_text = f"CM's best mu_0 {best:g}" if best is not None else "every CM mu_0 diverged"
    return [Comparison(row, f"{best_text}; {c.text}", lower_best or nag_wins, c.runs)]


Quantifier = Literal["every", "most"]


@dataclass(frozen=True)
class Claim:
    """One claim: the paper's words, where it says it, the rule and the table it reads."""

    key: str
    statement: str
    where: str
    rule: str
    table: str
    compare: Callable[[Numbers, str], list[Comparison]]
    rows: Quantifier = "every"  # "most": more than half of the tested rows


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "a",
        "On every autoencoder, CM and NAG at mu_max >= 0.99 beat SGD by a large factor.",
        "section 3, Table 1",
        f"each CM and NAG cell at mu_max >= {HIGH_MU:g} (best lr) is at least "
        f"{LARGE_FACTOR:g} times below SGD's (the paper's smallest factor: 2.3, MNIST)",
        "table1",
        rule_a,
    ),
    Claim(
        "b",
        "NAG does at least as well as CM at each mu_max >= 0.99.",
        "section 3, Table 1",
        f"NAG <= CM at each mu_max >= {HIGH_MU:g} run with both",
        "table1",
        rule_b,
    ),
    Claim(
        "c",
        "NAG at mu_max >= 0.99 beats NAG at 0.9 on every autoencoder.",
        "section 3, Table 1",
        f"each NAG cell at mu_max >= {HIGH_MU:g} below NAG at 0.9 (not: falling all the way "
        "to 0.999; the paper's own MNIST column rises above 0.99)",
        "table1",
        rule_c,
    ),
    Claim(
        "d",
        "Reducing mu to 0.9 for the final updates lowers the error.",
        "section 3, Table 2",
        "NAG's error after the final phase below its error just before it (same runs)",
        "table2",
        rule_d,
    ),
    Claim(
        "e",
        "The sparse initialization's scale matters: scale 1 beats the smaller and larger "
        "scales tried.",
        "section 3, Table 3",
        "the error at SI scale 1 below the error at every other scale run",
        "table3",
        rule_e,
    ),
    Claim(
        "f",
        "On each RNN problem, NAG at mu_0 = 0.995 beats mu_0 = 0 and the biases baseline.",
        "section 4, Table 5",
        f"NAG at mu_0 = {RNN_MU:g} below the '0' column and below the biases column",
        "table5",
        rule_f,
    ),
    Claim(
        "g",
        "NAG tolerates larger mu_0 than CM.",
        "section 4, Table 5",
        f"on most problems, CM's best mu_0 is below {RNN_MU:g} or CM at {RNN_MU:g} is worse "
        f"than NAG at {RNN_MU:g}",
        "table5",
        rule_g,
        rows="most",
    ),
)


@dataclass(frozen=True)
class Verdict:
    """A rule applied to one set of numbers."""

    verdict: str  # reproduced, not reproduced, not run
    comparisons: tuple[Comparison, ...]
    tested: tuple[str, ...]  # rows with at least one comparison (their words)
    untested: tuple[str, ...]

    @property
    def held(self) -> int:
        return sum(c.holds for c in self.comparisons)

    @property
    def text(self) -> str:
        """``reproduced (tested: Curves; not run: Mnist, Faces)``."""
        if self.verdict == NOT_RUN or not self.untested:
            return self.verdict
        return f"{self.verdict} (tested: {', '.join(self.tested)}; not run: " + (
            f"{', '.join(self.untested)})"
        )


def judge(claim: Claim, numbers: Numbers) -> Verdict:
    """Apply a claim's rule to every row of its table."""
    comparisons: list[Comparison] = []
    tested, untested, rows_holding = [], [], 0
    for row in numbers.rows(claim.table):
        found = claim.compare(numbers, row)
        words = row_words(claim.table, row)
        if not found:
            untested.append(words)
            continue
        tested.append(words)
        rows_holding += all(c.holds for c in found)
        comparisons += [Comparison(words, c.text, c.holds, c.runs) for c in found]
    if not tested:
        verdict = NOT_RUN
    elif claim.rows == "most":
        verdict = REPRODUCED if rows_holding > len(tested) / 2 else NOT_REPRODUCED
    else:
        verdict = REPRODUCED if rows_holding == len(tested) else NOT_REPRODUCED
    return Verdict(verdict, tuple(comparisons), tuple(tested), tuple(untested))


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    ours: Verdict
    paper: Verdict


def check_claims(tables: dict[str, Table], paper: PaperNumbers) -> list[ClaimResult]:
    """Every claim on our tables and on the paper's own numbers."""
    ours, published = OurNumbers(tables), PublishedNumbers(paper)
    return [ClaimResult(c, judge(c, ours), judge(c, published)) for c in CLAIMS]


HEADING = "The paper's claims, checked"
INTRO = (
    "Each claim of the paper as a rule on its tables, applied to our runs (the cells of the "
    "report's tables: best learning rate per cell) and to the paper's own published numbers. "
    "A rule the paper's own numbers fail would be a wrongly stated claim. A diverged cell "
    "loses every comparison; a cell without runs is not tested."
)


def summary_rows(results: Sequence[ClaimResult]) -> list[list[str]]:
    """[claim, rule, ours, our comparisons, the paper's numbers] per claim, plain text."""
    rows = []
    for r in results:
        evidence = "; ".join(
            f"{c.row}: {c.text} — {'holds' if c.holds else 'fails'}" for c in r.ours.comparisons
        )
        rows.append(
            [
                f"({r.claim.key}) {r.claim.statement}",
                r.claim.rule,
                r.ours.text,
                evidence or "—",
                r.paper.text,
            ]
        )
    return rows


SUMMARY_COLUMNS = ("claim", "rule", "ours", "our numbers", "the paper's own numbers")


def markdown(results: Sequence[ClaimResult], captions: Sequence[str]) -> str:
    """``claims.md``: a verdict table, then each claim with every comparison behind it."""
    lines = [f"# {HEADING}", "", INTRO, ""]
    for caption in captions:
        lines += [caption, ""]
    lines += ["| claim | ours | the paper's own numbers |", "|---|---|---|"]
    for r in results:
        lines.append(f"| ({r.claim.key}) {r.claim.statement} | {r.ours.text} | {r.paper.text} |")
    for r in results:
        lines += ["", f"## ({r.claim.key}) {r.claim.statement}", ""]
        lines.append(f"{r.claim.where}. Rule: {r.claim.rule}.")
        for who, verdict in (("Ours", r.ours), ("The paper's own numbers", r.paper)):
            held = f"{verdict.held} of {len(verdict.comparisons)} comparisons hold"
            lines += ["", f"{who}: **{verdict.text}**, {held}."]
            lines += [
                f"- {c.row}: {c.text} — {'holds' if c.holds else 'fails'}"
                for c in verdict.comparisons
            ]
    return "\n".join(lines).rstrip() + "\n"


def metrics(results: Sequence[ClaimResult]) -> dict[str, dict[str, object]]:
    """``metrics.json`` entries: per claim, both verdicts and how many comparisons held."""
    return {
        r.claim.key: {
            "ours": r.ours.verdict,
            "paper": r.paper.verdict,
            "comparisons": len(r.ours.comparisons),
            "held": r.ours.held,
        }
        for r in results
    }
