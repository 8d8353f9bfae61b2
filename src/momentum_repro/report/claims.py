"""The paper's claims as rules on its tables, checked on our runs and on its own numbers.

Each claim of Sutskever et al. (2013) is a rule that compares table cells: our cells are the
tables' (best learning rate per cell, each with the final error of every seed, built from
the MLflow runs by ``tables.py``), the paper's are its published numbers
(``paper_numbers.yaml``). Every comparison is a statistic with an interval (``stats.py``:
the log of the ratio of the two cells' errors, Welch's t over seeds, or paired by seed
against a control), and has one of three outcomes: it **holds** when the whole 95% interval
is on the claim's side, **fails** when it is all on the other side, and is **inconclusive**
otherwise, as is a comparison of cells with one seed.

A claim is "reproduced" when every comparison it makes holds, "not reproduced" when one
fails, "inconclusive" otherwise, and "not run" when no table row has its cells. Claim (g) is
about "most" problems: reproduced when it holds on more than half of the rows tested, not
reproduced when it cannot (it fails on half or more).

A comparison with a cell that diverged at every learning rate is decided by that divergence
and says so ("SGD diverged at every lr"): the diverged side loses. Such comparisons are
counted apart from the comparisons of finished cells. A crashed, running or absent cell is
not tested. Every rule is also applied to the paper's own numbers (one published value per
cell: compared as points), and a rule that they fail would be a wrongly stated claim.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from momentum_repro.optim.schedule import momentum_schedule
from momentum_repro.report.paper import PaperNumbers
from momentum_repro.report.runs import DIVERGED, FINISHED, RunRecord
from momentum_repro.report.stats import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    Interval,
    log_ratio_interval,
    verdict,
)
from momentum_repro.report.tables import DATASET_LABELS, Config, Table, rnn_row_label

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"
VERDICT_INCONCLUSIVE = "inconclusive"
HIGH_MU = 0.99  # "mu_max >= 0.99": the high-momentum columns of Table 1
# (a) "a large factor": the paper's smallest is MNIST's SGD 2.1 against CM 0.999's 0.90, 2.3x
LARGE_FACTOR = 2.0
RNN_MU = 0.995  # Table 5's largest mu_0
# a zero-one loss of 0 on the evaluation set is read as half its resolution (2,000 sequences)
FLOOR = {"table5": 1 / (2 * 2000)}


@dataclass(frozen=True)
class Number:
    """One table cell as a rule reads it: the mean (inf when diverged, None when untested),
    the value of each seed, and the config behind it (ours) or none (the paper's)."""

    value: float | None
    label: str  # the cell in words: "NAG 0.99", "SGD", "after", "scale 2"
    values: tuple[float, ...] = ()
    seeds: tuple[int, ...] = ()
    source: str = ""  # our chosen lr and run ids; empty for the paper's numbers
    config: Config | None = None

    @property
    def diverged(self) -> bool:
        return self.value is not None and math.isinf(self.value)

    @property
    def text(self) -> str:
        if self.value is None:
            return "—"
        if self.diverged:
            return "diverged"
        n = f" (n={len(self.values)})" if self.config is not None else ""
        return f"{self.value:.3g}{n}"

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.config.finished_runs) if self.config else ()


class Numbers(Protocol):
    """The cells a rule reads: ours (from runs) or the paper's."""

    published: bool

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

    published = False

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
            return Number(math.inf, label, source=f"all {c.n_configs} lr(s) diverged")
        if c.status != FINISHED or c.ours is None or c.best is None:
            return Number(None, label)
        lr = f"lr {c.best.lr:g}; " if c.best.lr is not None else ""
        runs = ", ".join(r.run_id[:8] for r in c.best.finished_runs)
        return Number(c.ours, label, c.values, c.seeds, f"{lr}runs {runs}", c.best)


class PublishedNumbers:
    """The paper's own cells: one value each, no spread."""

    published = True

    def __init__(self, paper: PaperNumbers) -> None:
        self.paper = paper

    def rows(self, table: str) -> list[str]:
        return self.paper.rows(table)

    def columns(self, table: str) -> list[str]:
        return self.paper.columns(table)

    def cell(self, table: str, row: str, column: str) -> Number:
        value = self.paper.value(table, row, column)
        values = () if value is None else (value,)
        return Number(value, column_words(table, column), values)


@dataclass(frozen=True)
class Comparison:
    """One comparison of a rule on one row: cell ``a`` below cell ``b`` (by ``factor``)."""

    row: str
    a: Number
    b: Number
    outcome: str  # holds, fails, inconclusive
    interval: Interval | None = None
    factor: float = 1.0
    decided_by: str | None = None  # "SGD diverged at every lr": decided by a divergence
    floor: float = 0.0  # the error an error of 0 is read as (``stats.logs``)

    @property
    def text(self) -> str:
        """``NAG 0.99 9.66 (n=3) < CM 0.99 10.6 (n=3): A/B = 0.91 [0.85, 0.97]``."""
        how = "<" if self.factor == 1.0 else f"at least {self.factor:g}x below"
        head = f"{self.a.label} {self.a.text} {how} {self.b.label} {self.b.text}"
        if self.decided_by is not None:
            return f"{head}: {self.decided_by}"
        assert self.interval is not None
        need = "" if self.factor == 1.0 else f", needs A/B < {1 / self.factor:.3g}"
        paired = " (paired by seed)" if self.interval.method == "paired" else ""
        return f"{head}: {self.interval.text()}{need}{paired}"

    @property
    def runs(self) -> tuple[str, ...]:
        return self.a.runs + self.b.runs

    @property
    def sources(self) -> str:
        parts = [f"{n.label}: {n.source}" for n in (self.a, self.b) if n.source]
        return "; ".join(parts)


def compare(
    row: str,
    a: Number,
    b: Number,
    table: str,
    factor: float = 1.0,
    paired: bool = False,
) -> Comparison | None:
    """Is ``a`` at least ``factor`` times below ``b``? None when either cell is untested."""
    if a.value is None or b.value is None:
        return None
    if a.diverged or b.diverged:
        if a.diverged and b.diverged:
            return Comparison(row, a, b, INCONCLUSIVE, None, factor, "both diverged at every lr")
        loser = a if a.diverged else b
        outcome = FAILS if a.diverged else HOLDS
        return Comparison(row, a, b, outcome, None, factor, f"{loser.label} diverged at every lr")
    floor = FLOOR.get(table, 0.0)
    points = a.config is None and b.config is None  # the paper's numbers: no spread
    a_values, b_values = a.values, b.values
    paired = paired and not points
    if paired:  # the seeds both cells have, each with its own pair
        by_seed = dict(zip(b.seeds, b.values, strict=True))
        common = [(v, by_seed[s]) for s, v in zip(a.seeds, a.values, strict=True) if s in by_seed]
        paired = len(common) > 1
        if paired:
            a_values, b_values = tuple(x for x, _ in common), tuple(y for _, y in common)
    interval = log_ratio_interval(a_values, b_values, floor=floor, paired=paired, points=points)
    return Comparison(row, a, b, verdict(interval, factor), interval, factor, floor=floor)


def _mu_columns(numbers: Numbers, table: str, method: str) -> dict[float, str]:
    """mu -> column key of a method's columns (``nag_0.99`` -> 0.99)."""
    out = {}
    for col in numbers.columns(table):
        m, _, mu = col.rpartition("_")
        if m == method:
            out[float(mu)] = col
    return out


def _some(*found: Comparison | None) -> list[Comparison]:
    return [c for c in found if c is not None]


def rule_a(numbers: Numbers, row: str) -> list[Comparison]:
    """CM and NAG at each mu_max >= 0.99 at least LARGE_FACTOR times below SGD."""
    sgd = numbers.cell("table1", row, "sgd")
    out = []
    for method in ("nag", "cm"):
        for mu, col in sorted(_mu_columns(numbers, "table1", method).items()):
            if mu >= HIGH_MU:
                ours = numbers.cell("table1", row, col)
                out += _some(compare(row, ours, sgd, "table1", LARGE_FACTOR))
    return out


def rule_b(numbers: Numbers, row: str) -> list[Comparison]:
    """NAG below CM at each mu_max >= 0.99 where both were run."""
    nag = _mu_columns(numbers, "table1", "nag")
    cm = _mu_columns(numbers, "table1", "cm")
    out = []
    for mu in sorted(set(nag) & set(cm)):
        if mu >= HIGH_MU:
            a, b = numbers.cell("table1", row, nag[mu]), numbers.cell("table1", row, cm[mu])
            out += _some(compare(row, a, b, "table1"))
    return out


def rule_c(numbers: Numbers, row: str) -> list[Comparison]:
    """NAG at each mu_max >= 0.99 below NAG at 0.9."""
    nag = _mu_columns(numbers, "table1", "nag")
    if 0.9 not in nag:
        return []
    low = numbers.cell("table1", row, nag[0.9])
    out = []
    for mu, col in sorted(nag.items()):
        if mu >= HIGH_MU:
            out += _some(compare(row, numbers.cell("table1", row, col), low, "table1"))
    return out


def rule_d(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 2: NAG's error after the final phase below the control's (the same runs without
    the final phase, paired by seed). The paper published no control: its numbers are read
    as after vs before."""
    after = numbers.cell("table2", row, "after")
    other = "before" if numbers.published else "control"
    return _some(compare(row, after, numbers.cell("table2", row, other), "table2", paired=True))


def rule_e(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 3: SI scale 1 below every other scale tried."""
    one = numbers.cell("table3", row, "1")
    return _some(
        *(
            compare(row, one, numbers.cell("table3", row, col), "table3")
            for col in numbers.columns("table3")
            if col != "1"
        )
    )


def rule_f(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 5: NAG at mu_0 = 0.995 below mu_0 = 0 and below the biases baseline."""
    nag = numbers.cell("table5", row, f"nag_{RNN_MU:g}")
    return _some(
        *(
            compare(row, nag, numbers.cell("table5", row, col), "table5")
            for col in ("sgd", "biases")
        )
    )


def rule_g(numbers: Numbers, row: str) -> list[Comparison]:
    """Table 5: NAG at mu_0 = 0.995 below CM at mu_0 = 0.995."""
    nag = numbers.cell("table5", row, f"nag_{RNN_MU:g}")
    return _some(compare(row, nag, numbers.cell("table5", row, f"cm_{RNN_MU:g}"), "table5"))


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
        "NAG does better than CM at each mu_max >= 0.99.",
        "section 3, Table 1",
        f"NAG below CM at each mu_max >= {HIGH_MU:g} run with both",
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
        "NAG's error after the final phase below the error of the same runs (lr, mu_max, "
        "seeds, updates) with the final phase off, paired by seed (the paper published no "
        "control: its numbers are read as after vs before)",
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
        f"on most problems, NAG at mu_0 = {RNN_MU:g} below CM at mu_0 = {RNN_MU:g}",
        "table5",
        rule_g,
        rows="most",
    ),
)


@dataclass(frozen=True)
class Verdict:
    """A rule applied to one set of numbers."""

    verdict: str  # reproduced, not reproduced, inconclusive, not run
    comparisons: tuple[Comparison, ...]
    tested: tuple[str, ...]  # rows with at least one comparison (their words)
    untested: tuple[str, ...]

    def counts(self, by_divergence: bool = False) -> dict[str, int]:
        """holds / fails / inconclusive among the comparisons of finished cells (or, with
        ``by_divergence``, among those a divergence decided)."""
        found = Counter(
            c.outcome for c in self.comparisons if (c.decided_by is not None) == by_divergence
        )
        return {k: found.get(k, 0) for k in (HOLDS, FAILS, INCONCLUSIVE)}

    @property
    def text(self) -> str:
        """``reproduced (tested: Curves; not run: Mnist, Faces)``."""
        if self.verdict == NOT_RUN or not self.untested:
            return self.verdict
        return f"{self.verdict} (tested: {', '.join(self.tested)}; not run: " + (
            f"{', '.join(self.untested)})"
        )

    @property
    def tally(self) -> str:
        """``3 hold, 0 fail, 1 inconclusive; 1 decided by a divergence``."""
        c = self.counts()
        text = f"{c[HOLDS]} hold, {c[FAILS]} fail, {c[INCONCLUSIVE]} inconclusive"
        decided = sum(self.counts(by_divergence=True).values())
        return text + (f"; {decided} decided by a divergence" if decided else "")


def _every(outcomes: Sequence[str]) -> str:
    if FAILS in outcomes:
        return NOT_REPRODUCED
    if all(o == HOLDS for o in outcomes):
        return REPRODUCED
    return VERDICT_INCONCLUSIVE


def _row_outcome(outcomes: Sequence[str]) -> str:
    """A row's outcome: fails if one comparison fails, holds if all hold."""
    if FAILS in outcomes:
        return FAILS
    return HOLDS if all(o == HOLDS for o in outcomes) else INCONCLUSIVE


def _most(row_outcomes: Sequence[str]) -> str:
    """Per row: holds (every comparison of the row holds), fails (one fails), inconclusive."""
    n = len(row_outcomes)
    holding = row_outcomes.count(HOLDS)
    if holding > n / 2:
        return REPRODUCED
    if holding + row_outcomes.count(INCONCLUSIVE) <= n / 2:
        return NOT_REPRODUCED
    return VERDICT_INCONCLUSIVE


def judge(claim: Claim, numbers: Numbers) -> Verdict:
    """Apply a claim's rule to every row of its table."""
    comparisons: list[Comparison] = []
    tested, untested, row_outcomes = [], [], []
    for row in numbers.rows(claim.table):
        found = claim.compare(numbers, row)
        words = row_words(claim.table, row)
        if not found:
            untested.append(words)
            continue
        tested.append(words)
        row_outcomes.append(_row_outcome([c.outcome for c in found]))
        comparisons += [
            Comparison(words, c.a, c.b, c.outcome, c.interval, c.factor, c.decided_by, c.floor)
            for c in found
        ]
    if not tested:
        verdict_ = NOT_RUN
    elif claim.rows == "most":
        verdict_ = _most(row_outcomes)
    else:
        verdict_ = _every([c.outcome for c in comparisons])
    return Verdict(verdict_, tuple(comparisons), tuple(tested), tuple(untested))


# --------------------------------------------------------------------------------------------
# What a verdict rests on
# --------------------------------------------------------------------------------------------


def reached_mu(run: RunRecord) -> float | None:
    """The largest mu a run's schedule reached: eq. (5) up to its last update before the
    final phase (autoencoders), mu_0 (RNNs, after the warm-up). None without a mu_max."""
    if run.mu_max is None or run.mu_max == 0:
        return run.mu_max
    if run.task_kind != "autoencoder" or not run.total_updates or not run.schedule_period:
        return run.mu_max
    last = max(0, run.total_updates - run.final_phase_updates - 1)
    return momentum_schedule(last, run.mu_max, period=run.schedule_period)


@dataclass(frozen=True)
class Basis:
    """The protocol behind a verdict, read from the runs of the cells it compared."""

    profiles: tuple[str, ...] = ()
    updates: tuple[int, ...] = ()
    periods: tuple[int, ...] = ()
    final_phases: tuple[int, ...] = ()
    data_sources: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()  # seeds per cell, fewest and most
    reached: dict[str, float] = field(default_factory=dict)  # column label -> mu reached

    def text(self) -> str:
        if not self.profiles:
            return "no runs"

        def few(values: Sequence[object]) -> str:
            return "/".join(f"{v:,}" if isinstance(v, int) else str(v) for v in values)

        seeds = few(sorted(set(self.seeds))) if self.seeds else "?"
        parts = [
            f"profile {few(self.profiles)}",
            f"{few(self.updates)} updates",
            f"schedule period {few(self.periods)}" if self.periods else "",
            f"final phase {few(self.final_phases)}" if self.final_phases else "",
            f"data {few(self.data_sources)}",
            f"{seeds} seeds per cell",
        ]
        if self.reached:
            parts.append(
                "mu: "
                + ", ".join(f"{label} (reached {mu:.4g})" for label, mu in self.reached.items())
            )
        return "; ".join(p for p in parts if p)

    def as_dict(self) -> dict[str, object]:
        return {
            "profiles": list(self.profiles),
            "updates": list(self.updates),
            "schedule_periods": list(self.periods),
            "final_phase_updates": list(self.final_phases),
            "data_sources": list(self.data_sources),
            "seeds_per_cell": sorted(set(self.seeds)),
            "mu_reached": dict(self.reached),
        }


def basis(verdict_: Verdict) -> Basis:
    """The profiles, update counts, schedule periods, final phases, data sources, seeds per
    cell and the mu each compared column reached, over the cells the comparisons read."""
    numbers = [n for c in verdict_.comparisons for n in (c.a, c.b) if n.config is not None]
    runs = [r for n in numbers for r in n.config.runs]  # type: ignore[union-attr]
    if not runs:
        return Basis()
    reached: dict[str, float] = {}
    for n in numbers:
        mus = [m for r in n.config.finished_runs if (m := reached_mu(r))]  # type: ignore[union-attr]
        if mus:
            reached[n.label] = max(mus)
    autoencoder = [r for r in runs if r.task_kind == "autoencoder"]
    return Basis(
        profiles=tuple(sorted({r.profile for r in runs})),
        updates=tuple(sorted({r.total_updates for r in runs if r.total_updates})),
        periods=tuple(sorted({r.schedule_period for r in autoencoder if r.schedule_period})),
        final_phases=tuple(sorted({r.final_phase_updates for r in autoencoder})),
        data_sources=tuple(sorted({r.data_source for r in runs})),
        seeds=tuple(len(n.values) for n in numbers),
        reached=dict(sorted(reached.items())),
    )


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    ours: Verdict
    paper: Verdict

    @property
    def basis(self) -> Basis:
        return basis(self.ours)


def check_claims(tables: dict[str, Table], paper: PaperNumbers) -> list[ClaimResult]:
    """Every claim on our tables and on the paper's own numbers."""
    ours, published = OurNumbers(tables), PublishedNumbers(paper)
    return [ClaimResult(c, judge(c, ours), judge(c, published)) for c in CLAIMS]


HEADING = "Does the paper hold? Its claims, checked on our runs"
INTRO = (
    "Each claim of the paper is a rule comparing cells of its tables (best learning rate "
    "per cell). Each comparison is the ratio of the two cells' errors with a 95% interval "
    "over seeds (Welch's t on log errors; paired by seed against a control): it holds when "
    "the whole interval is on the claim's side, fails when it is all on the other side, and "
    "is inconclusive otherwise. A claim is reproduced when every comparison holds, not "
    "reproduced when one fails, inconclusive otherwise; each interval is at 95% for its own "
    "comparison, so a claim of many comparisons can fail one by chance: each is listed. The same rules are applied to the "
    "paper's own published numbers (points, no spread)."
)


def outcome_line(c: Comparison) -> str:
    sources = f" ({c.sources})" if c.sources else ""
    return f"{c.row}: {c.text} — {c.outcome}{sources}"


def summary_rows(results: Sequence[ClaimResult]) -> list[list[str]]:
    """[claim, ours, comparisons, what it rests on, the paper's own numbers] per claim."""
    return [
        [
            f"({r.claim.key}) {r.claim.statement}",
            r.ours.text,
            r.ours.tally if r.ours.comparisons else "—",
            r.basis.text(),
            r.paper.text,
        ]
        for r in results
    ]


SUMMARY_COLUMNS = ("claim", "ours", "comparisons", "rests on", "the paper's own numbers")


def markdown(results: Sequence[ClaimResult], captions: Sequence[str]) -> str:
    """``claims.md``: a verdict table, then each claim with every comparison behind it."""
    lines = [f"# {HEADING}", "", INTRO, ""]
    for caption in captions:
        lines += [caption, ""]
    lines += ["| claim | ours | comparisons | rests on | the paper's own numbers |"]
    lines += ["|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(results)]
    for r in results:
        lines += ["", f"## ({r.claim.key}) {r.claim.statement}", ""]
        lines.append(f"{r.claim.where}. Rule: {r.claim.rule}.")
        lines += ["", f"Rests on: {r.basis.text()}."]
        for who, verdict_ in (("Ours", r.ours), ("The paper's own numbers", r.paper)):
            lines += ["", f"{who}: **{verdict_.text}**, {verdict_.tally}."]
            lines += [f"- {outcome_line(c)}" for c in verdict_.comparisons]
    return "\n".join(lines).rstrip() + "\n"


def _comparison_dict(c: Comparison) -> dict[str, object]:
    out: dict[str, object] = {
        "row": c.row,
        "a": c.a.label,
        "b": c.b.label,
        "a_mean": c.a.value if c.a.value is None or math.isfinite(c.a.value) else "diverged",
        "b_mean": c.b.value if c.b.value is None or math.isfinite(c.b.value) else "diverged",
        "seeds": [len(c.a.values), len(c.b.values)],
        "factor": c.factor,
        "outcome": c.outcome,
    }
    if c.decided_by is not None:
        out["decided_by"] = c.decided_by
    if c.interval is not None:
        bounds = [c.interval.low, c.interval.high]
        out |= {
            "log_ratio": c.interval.effect,
            # JSON has no infinity: an interval that cannot be had (one run a cell) is null
            "interval": [b if math.isfinite(b) else None for b in bounds],
            "method": c.interval.method,
        }
    return out


def metrics(results: Sequence[ClaimResult]) -> dict[str, dict[str, object]]:
    """``metrics.json`` entries: per claim both verdicts, the counts of outcomes, the rows
    tested and not, what the verdict rests on, and every comparison with its interval."""
    out = {}
    for r in results:
        out[r.claim.key] = {
            "ours": r.ours.verdict,
            "paper": r.paper.verdict,
            **r.ours.counts(),
            "decided_by_divergence": r.ours.counts(by_divergence=True),
            "rows_tested": list(r.ours.tested),
            "rows_not_tested": list(r.ours.untested),
            "rests_on": r.basis.as_dict(),
            "comparisons": [_comparison_dict(c) for c in r.ours.comparisons],
        }
    return out
