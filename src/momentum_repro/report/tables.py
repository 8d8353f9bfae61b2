"""The paper's protocol as pure functions on run records (no MLflow here).

- Tables 1-3 (deep autoencoders, section 3): for each (dataset, method, mu_max) the learning
  rate with the lowest ``final_train_error`` averaged over seeds.
- Table 2 adds claim (d)'s control: the chosen NAG config run again without the final phase.
- Table 5 (RNNs, section 4): for each (dataset, method, mu_0) ``final_zero_one`` averaged over
  seeds per learning rate, then the learning rate with the lowest average.

One grid point (method, mu_max, lr, final phase, SI scale) with all its seeds is a
:class:`Config`; a diverged seed makes its whole config diverged (a failure, never dropped from
an average). A :class:`Cell` is the best finished config of its table cell, with the value of
each of its seeds (the mean, its standard error and the seeds are shown; the claims compare
them with an interval, ``stats.py``), or says why there is none: "diverged" (every config
diverged), "failed" (crashed), "running", or "not run".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import fmean, stdev

from momentum_repro.report.paper import PaperNumbers
from momentum_repro.report.runs import (
    DIVERGED,
    FAILED,
    FINISHED,
    RUNNING,
    RunRecord,
    number_key,
)

NOT_RUN = "not run"
MISSING = "no metric"
MU_FREE_METHODS = ("hf", "hf_momentum", "biases")  # one column whatever their mu_max tag says
METHOD_LETTER = {"nag": "N", "cm": "M"}
AUTOENCODER_METRIC = "final_train_error"
BEFORE_FINAL_PHASE_METRIC = "train_error_before_final_phase"
RNN_METRIC = "final_zero_one"
PAPER_UPDATES = {"autoencoder": 750_000, "rnn": 50_000}
PAPER_PERIOD = 250
DATASET_LABELS = {
    "curves": "Curves",
    "mnist": "Mnist",
    "faces": "Faces",
    "addition": "add",
    "addition_hs": "add (H&S 1997)",
    "multiplication": "mul",
    "xor": "xor",
    "mem5": "mem-5",
    "mem20": "mem-20",
    "temporal_order2": "temporal order 2",
    "temporal_order3": "temporal order 3",
}


@dataclass(frozen=True)
class Config:
    """One grid point (method, mu_max, lr, final phase, SI scale) of one protocol (profile,
    updates, schedule period) with its seeds, one run each."""

    method: str
    mu_max: float | None
    lr: float | None
    final_phase_updates: int
    init_scale: float
    protocol: tuple[str, int | None, int | None]
    runs: tuple[RunRecord, ...]

    def mean(self, metric: str) -> float | None:
        """Seed average of a final metric: None if any seed diverged or still runs, or none
        finished with it (a config competes for its cell with all its seeds done)."""
        values = self.values(metric)
        return fmean(values) if values and self.outcome == FINISHED else None

    def seed_values(self, metric: str) -> dict[int, float]:
        """seed -> the final metric of each finished seed that has it; {} if any seed
        diverged (a diverged seed makes the config diverged, never a dropped value)."""
        if any(r.outcome == DIVERGED for r in self.runs):
            return {}
        return {
            -1 if r.seed is None else r.seed: v
            for r in self.finished_runs
            if (v := r.final(metric)) is not None
        }

    def values(self, metric: str) -> tuple[float, ...]:
        """A final metric of each finished seed, by seed; () if any seed diverged."""
        return tuple(self.seed_values(metric).values())

    @property
    def outcome(self) -> str:
        """diverged if a seed diverged, running while a seed runs, else finished if a seed
        finished, else failed."""
        outcomes = {r.outcome for r in self.runs}
        for o in (DIVERGED, RUNNING, FINISHED):
            if o in outcomes:
                return o
        return FAILED

    @property
    def finished_runs(self) -> list[RunRecord]:
        return sorted(
            (r for r in self.runs if r.outcome == FINISHED),
            key=lambda r: -1 if r.seed is None else r.seed,
        )


@dataclass(frozen=True)
class Cell:
    """Our number, the paper's number and their ratio for one table cell."""

    status: str  # finished, diverged, failed, running, not run, no metric
    ours: float | None
    paper: float | None
    best: Config | None = None
    n_configs: int = 0
    n_diverged: int = 0  # configs (learning rates) that diverged
    values: tuple[float, ...] = ()  # the reported metric of each seed of ``best``
    seeds: tuple[int, ...] = ()  # those seeds, in the same order

    @property
    def n(self) -> int:
        """Seeds behind our number."""
        return len(self.values)

    @property
    def sem(self) -> float | None:
        """Standard error of the mean over seeds (None with fewer than 2)."""
        if self.n < 2:
            return None
        return stdev(self.values) / math.sqrt(self.n)

    @property
    def ratio(self) -> float | None:
        """ours / paper, when both exist."""
        if self.ours is None or not self.paper:
            return None
        return self.ours / self.paper

    @property
    def ours_text(self) -> str:
        """``10.6 ±0.12 (3)``: mean ± standard error (seeds); the status when no number."""
        if self.ours is None:
            return self.status
        spread = f" ±{self.sem:.2g}" if self.sem is not None else ""
        return f"{self.ours:.3g}{spread} ({self.n})"

    @property
    def paper_text(self) -> str:
        return "—" if self.paper is None else f"{self.paper:g}"

    @property
    def text(self) -> str:
        """``ours / paper (ratio×)``, e.g. ``0.081 / 0.074 (1.09×)`` or ``diverged / 0.074``."""
        ratio = f" ({self.ratio:.3g}×)" if self.ratio is not None else ""
        return f"{self.ours_text} / {self.paper_text}{ratio}"


@dataclass
class Table:
    """A table of the paper re-run: ordered rows and columns, a cell for each pair."""

    key: str  # table1, table2, table3, table5
    title: str
    rows: dict[str, str]  # row key -> label
    columns: dict[str, str]  # column key -> label
    cells: dict[tuple[str, str], Cell]
    runs: list[RunRecord] = field(default_factory=list)
    note: str = ""

    def cell(self, row: str, column: str) -> Cell:
        return self.cells[(row, column)]


def group_configs(runs: Iterable[RunRecord]) -> list[Config]:
    """Group runs into configs: the seeds of one grid point of one protocol go together, one
    run per seed (a finished one before a diverged one before the rest, the newest first),
    so that no run counts twice as two seeds and no protocols mix in one mean."""
    groups: dict[tuple, dict[int | None, RunRecord]] = defaultdict(dict)
    rank = {FINISHED: 0, DIVERGED: 1}
    for r in runs:
        protocol = (r.profile, r.total_updates, r.schedule_period)
        key = (r.method, r.mu_max, r.lr, r.final_phase_updates, r.init_scale, protocol)
        old = groups[key].get(r.seed)
        if old is None or (rank.get(r.outcome, 2), -r.start_time) < (
            rank.get(old.outcome, 2),
            -old.start_time,
        ):
            groups[key][r.seed] = r
    return [Config(*key, runs=tuple(by_seed.values())) for key, by_seed in groups.items()]


def select_cell(
    runs: Iterable[RunRecord],
    metric: str,
    paper: float | None,
    *,
    reported_metric: str | None = None,
) -> Cell:
    """The paper's selection: the config (learning rate) with the lowest seed-averaged
    ``metric``; reports ``reported_metric`` (default: ``metric``) of that config."""
    configs = group_configs(runs)
    n_div = sum(c.outcome == DIVERGED for c in configs)
    scored = [(v, c) for c in configs if (v := c.mean(metric)) is not None]
    if scored:
        _, best = min(scored, key=lambda vc: (vc[0], vc[1].lr or 0.0))
        return config_cell(best, reported_metric or metric, paper, len(configs), n_div)
    outcomes = {c.outcome for c in configs}
    if outcomes == {DIVERGED}:  # every learning rate diverged: a result
        return Cell(DIVERGED, None, paper, None, len(configs), n_div)
    # FINISHED here means finished without the metric
    order = ((RUNNING, RUNNING), (FAILED, FAILED), (FINISHED, MISSING))
    status = next((s for o, s in order if o in outcomes), NOT_RUN)
    return Cell(status, None, paper, None, len(configs), n_div)


def config_cell(
    config: Config, metric: str, paper: float | None, n_configs: int = 1, n_diverged: int = 0
) -> Cell:
    """The cell of one chosen config: ``metric`` over its seeds."""
    if config.outcome == DIVERGED:
        return Cell(DIVERGED, None, paper, config, n_configs, n_diverged)
    by_seed = config.seed_values(metric)
    if not by_seed or config.outcome != FINISHED:
        status = RUNNING if config.outcome == RUNNING else MISSING
        return Cell(status, None, paper, config, n_configs, n_diverged)
    values, seeds = tuple(by_seed.values()), tuple(by_seed)
    return Cell(FINISHED, fmean(values), paper, config, n_configs, n_diverged, values, seeds)


def column_key(method: str, mu_max: float | None) -> str:
    """Column of a run: ``sgd`` (mu_max 0, the paper's column "0"), ``nag_0.99``, ``hf``, ..."""
    if method == "sgd" or (method in METHOD_LETTER and mu_max == 0):
        return "sgd"
    if method in MU_FREE_METHODS or mu_max is None:
        return method
    return f"{method}_{number_key(mu_max)}"


def column_label(key: str, table: str) -> str:
    """The paper's header for a column key (``nag_0.99`` -> ``0.99N``, ``hf`` -> ``HF*``)."""
    fixed = {"sgd": "0 (SGD)" if table == "table1" else "0", "sgd_c": "SGD_C"}
    fixed |= {"hf_momentum": "HF†", "hf": "HF*"}
    if key in fixed:
        return fixed[key]
    method, _, mu = key.rpartition("_")
    if method in METHOD_LETTER:
        return f"{mu}{METHOD_LETTER[method]}"
    return key


def rnn_row_key(dataset: str, seq_len: int | None) -> str:
    return f"{dataset}_T{seq_len}" if seq_len is not None else dataset


def rnn_row_label(key: str) -> str:
    dataset, _, t = key.rpartition("_T")
    if not dataset:
        return DATASET_LABELS.get(key, key)
    return f"{DATASET_LABELS.get(dataset, dataset)} T={t}"


def _ordered(paper_keys: list[str], ours: Iterable[str], sort_key: Callable = str) -> list[str]:
    extra = sorted(set(ours) - set(paper_keys), key=sort_key)
    return [*paper_keys, *extra]


def _column_sort(key: str) -> tuple:
    method, _, mu = key.rpartition("_")
    try:
        return (method or key, float(mu))
    except ValueError:
        return (key, -1.0)


def _grid_table(
    key: str,
    title: str,
    runs: list[RunRecord],
    paper: PaperNumbers,
    row_of: Callable[[RunRecord], str],
    col_of: Callable[[RunRecord], str],
    metric: str,
    row_label: Callable[[str], str],
    col_label: Callable[[str], str],
    col_sort: Callable = str,
) -> Table:
    by_cell: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in runs:
        by_cell[(row_of(r), col_of(r))].append(r)
    rows = _ordered(paper.rows(key), (rc[0] for rc in by_cell))
    cols = _ordered(paper.columns(key), (rc[1] for rc in by_cell), col_sort)
    cells = {
        (row, col): select_cell(by_cell.get((row, col), []), metric, paper.value(key, row, col))
        for row in rows
        for col in cols
    }
    return Table(
        key,
        title,
        {r: row_label(r) for r in rows},
        {c: col_label(c) for c in cols},
        cells,
        runs,
    )


def _is_autoencoder(r: RunRecord) -> bool:
    return r.task_kind == "autoencoder"


def without_controls(runs: list[RunRecord]) -> list[RunRecord]:
    """The runs of Table 1: where a (dataset, method, mu_max) cell has runs with Table 2's
    final phase (as the paper's Table 1 runs have), its runs without it are claim (d)'s
    control and are left to Table 2."""
    with_final = {(r.dataset, r.method, r.mu_max) for r in runs if r.final_phase_updates > 0}
    return [
        r
        for r in runs
        if r.final_phase_updates > 0 or (r.dataset, r.method, r.mu_max) not in with_final
    ]


def table1(records: list[RunRecord], paper: PaperNumbers) -> Table:
    """Table 1: squared training error per (dataset, method, mu_max), best lr (SI scale 1)."""
    runs = without_controls([r for r in records if _is_autoencoder(r) and r.init_scale == 1.0])
    t = _grid_table(
        "table1",
        "Table 1: deep autoencoders, squared training error",
        runs,
        paper,
        lambda r: r.dataset,
        lambda r: column_key(r.method, r.mu_max),
        AUTOENCODER_METRIC,
        lambda k: DATASET_LABELS.get(k, k),
        lambda k: column_label(k, "table1"),
        _column_sort,
    )
    t.note = "SGD_C is Chapelle & Erhan (2011), cited by the paper, not re-run here."
    return t


def control_of(config: Config, runs: Iterable[RunRecord]) -> Config | None:
    """Claim (d)'s control of a config with the final phase: the same method, mu_max, lr
    and SI scale with the final phase off (its seeds; None if it was not run)."""
    same = [
        r
        for r in runs
        if r.final_phase_updates == 0
        and (r.method, r.mu_max, r.lr, r.init_scale)
        == (config.method, config.mu_max, config.lr, config.init_scale)
    ]
    return group_configs(same)[0] if same else None


def table2(records: list[RunRecord], paper: PaperNumbers) -> Table:
    """Table 2: NAG with mu reduced to 0.9 for the last updates: training error before ->
    after, for the best (mu_max, lr) by the final error among the configs that have a
    control (all configs if none has); and that control, the same runs without the phase."""
    nag = [
        r
        for r in records
        if _is_autoencoder(r) and r.method == "nag" and r.init_scale == 1.0 and r.mu_max
    ]
    by_row: dict[str, list[RunRecord]] = defaultdict(list)
    for r in nag:
        by_row[r.dataset].append(r)
    rows = _ordered(paper.rows("table2"), by_row)
    cells: dict[tuple[str, str], Cell] = {}
    for row in rows:
        rs = by_row.get(row, [])
        with_final = [r for r in rs if r.final_phase_updates > 0]
        controlled = [
            r for c in group_configs(with_final) if control_of(c, rs) is not None for r in c.runs
        ]
        chosen = controlled or with_final
        after = select_cell(chosen, AUTOENCODER_METRIC, paper.value("table2", row, "after"))
        before = select_cell(
            chosen,
            AUTOENCODER_METRIC,
            paper.value("table2", row, "before"),
            reported_metric=BEFORE_FINAL_PHASE_METRIC,
        )
        control = control_of(after.best, rs) if after.best is not None else None
        cells[(row, "before")] = before
        cells[(row, "after")] = after
        cells[(row, "control")] = (
            config_cell(control, AUTOENCODER_METRIC, None)
            if control is not None
            else Cell(NOT_RUN, None, None)
        )
    return Table(
        "table2",
        "Table 2: NAG, error before -> after reducing mu to 0.9 for the final updates",
        {r: DATASET_LABELS.get(r, r) for r in rows},
        {"before": "before", "after": "after", "control": "control (no final phase)"},
        cells,
        nag,
        "Best (mu_max, lr) by the error after the final phase, among the configs run with a "
        "control; the control is that config (same lr, mu_max, seeds and updates) with the "
        "final phase off, which the paper did not publish.",
    )


def table3(records: list[RunRecord], paper: PaperNumbers) -> Table:
    """Table 3: training error by the SI scale multiplier. Only the (method, mu_max) pairs run
    at more than one scale on a dataset take part; per scale, the best of their configs."""
    scale_runs = defaultdict(list)
    for r in records:
        if _is_autoencoder(r):
            scale_runs[(r.dataset, r.method, r.mu_max)].append(r)
    runs = [r for rs in scale_runs.values() if len({r.init_scale for r in rs}) > 1 for r in rs]
    t = _grid_table(
        "table3",
        "Table 3: SI scale multiplier, squared training error",
        runs,
        paper,
        lambda r: r.dataset,
        lambda r: number_key(r.init_scale),
        AUTOENCODER_METRIC,
        lambda k: DATASET_LABELS.get(k, k),
        lambda k: f"×{k}",
        float,
    )
    t.note = "Per scale, the best (method, mu_max, lr) among those run at several scales."
    return t


def table5(records: list[RunRecord], paper: PaperNumbers) -> Table:
    """Table 5: RNN zero-one loss, seeds averaged per lr, best lr per (problem, method, mu_0)."""
    runs = [r for r in records if r.task_kind == "rnn"]
    t = _grid_table(
        "table5",
        "Table 5: RNNs, zero-one loss (mean over seeds)",
        runs,
        paper,
        lambda r: rnn_row_key(r.dataset, r.seq_len),
        lambda r: column_key(r.method, r.mu_max),
        RNN_METRIC,
        rnn_row_label,
        lambda k: column_label(k, "table5"),
        _column_sort,
    )
    t.note = (
        "A problem run at another T than the paper's is a row of its own (no paper value). "
        + TASK_DEFINITIONS
    )
    return t


TASK_DEFINITIONS = (
    "The biases column is our own runs that learn only the output biases, as the paper's. "
    "Addition and multiplication are defined as in Sutskever's released code (values U[0, 1], "
    "target a + b or a b, wrong when off by more than 0.04): under it and under Hochreiter & "
    "Schmidhuber's (1997) addition, biases-only runs at T = 80 end above the paper's 0.82 "
    "(python pipelines/train.py -m experiment=rnn_biases; the numbers and the choice: "
    "src/momentum_repro/data/rnn_tasks.py)."
)


def build_tables(records: list[RunRecord], paper: PaperNumbers) -> list[Table]:
    """Tables 1, 2, 3 and 5 from deduplicated job records."""
    return [f(records, paper) for f in (table1, table2, table3, table5)]


def protocol_caption(runs: list[RunRecord], task_kind: str) -> str:
    """Profiles, update counts, schedule periods and final-phase lengths the runs used; a
    non-``paper`` profile says it is not the paper's protocol (750,000 updates, period 250,
    the last 1,000 at mu <= 0.9; RNNs 50,000 updates, mu 0.9 for 1,000 then mu_0)."""
    if not runs:
        return "No runs yet."
    paper_updates = PAPER_UPDATES[task_kind]
    parts = []
    protocols: dict[tuple, set[str]] = defaultdict(set)
    for r in runs:
        protocols[(r.profile, r.total_updates, r.schedule_period, r.final_phase_updates)].add(
            r.dataset
        )
    # where the sets ran different protocols (the cpu profile's shorter FACES), each names its sets
    by_set = len({frozenset(sets) for sets in protocols.values()}) > 1
    for (profile, updates, period, final), sets in sorted(protocols.items(), key=str):
        text = f"{profile} profile" + (f" ({', '.join(sorted(sets))})" if by_set else "") + ": "
        text += f"{updates:,} updates" if updates is not None else "unknown update count"
        if task_kind == "autoencoder":
            if period is not None:
                text += f", schedule period {period}"
            # Table 2's final phase: mu reduced to min(mu_t, 0.9) for the last updates
            text += f", final phase {final:,} updates" if final else ", no final phase"
        else:  # section 4: no eq. 5 schedule and no final phase for the RNNs
            text += ", mu 0.9 then mu_0 (no schedule period, no final phase)"
        is_paper = profile == "paper" and updates in (None, paper_updates)
        if is_paper and (task_kind != "autoencoder" or period in (None, PAPER_PERIOD)):
            text += " (the paper's protocol)"
        else:
            text += f" — not the paper's {paper_updates:,}-update protocol"
        parts.append(text)
    return "; ".join(parts) + "."


def lr_sensitivity(
    runs: Iterable[RunRecord], metric: str
) -> dict[str, list[tuple[float, float | None]]]:
    """Per column (method, mu_max): (lr, seed-averaged final metric, None where every config
    at that lr diverged or failed), sorted by lr; the data of the lr-sensitivity plot."""
    points: dict[tuple[str, float], list[float | None]] = defaultdict(list)
    for c in group_configs(runs):
        if c.lr is not None and c.outcome != RUNNING:
            points[(column_key(c.method, c.mu_max), c.lr)].append(c.mean(metric))
    out: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    for (col, lr), values in sorted(
        points.items(), key=lambda kv: (_column_sort(kv[0][0]), kv[0][1])
    ):
        finished = [v for v in values if v is not None]
        out[col].append((lr, min(finished) if finished else None))
    return dict(out)
