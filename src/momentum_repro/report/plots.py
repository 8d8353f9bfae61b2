"""Figures of the report (matplotlib, Agg, no pyplot state): training curves of NAG vs CM per
mu_max (Table 1 / Table 5 best-lr runs), the lr sensitivity of each method, the momentum
schedule of eq. (5), the worked example's cost curves and decision boundaries, and the
convergence factors of CM and NAG on a quadratic (section 2). Each plotting function returns
its Figure; :func:`save_figure` writes it."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from momentum_repro.analysis import quadratic
from momentum_repro.optim.schedule import momentum_schedule
from momentum_repro.report.boundary import DecisionBoundary

Points = list[tuple[float, float]]
LINESTYLE = {"nag": "-", "cm": "--"}


def _split(key: str) -> tuple[str, str]:
    """``nag_0.99`` -> (``nag``, ``0.99``); ``hf`` -> (``hf``, ``""``)."""
    method, _, mu = key.rpartition("_")
    return (method, mu) if method else (key, "")


def _color_key(key: str) -> str:
    method, mu = _split(key)
    return mu if method in LINESTYLE else key


def _colors(keys: Iterable[str]) -> dict[str, str]:
    """Column key -> colour: one per mu_max, so NAG and CM at the same mu_max share it; one per
    other method."""
    groups = sorted({_color_key(k) for k in keys})
    return {k: f"C{groups.index(_color_key(k)) % 10}" for k in keys}


def _figure(title: str) -> tuple[Figure, object]:
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def plot_training_curves(
    title: str, series: dict[str, Points], labels: dict[str, str], ylabel: str
) -> Figure:
    """One line per column key (``nag_0.99``, ``cm_0.99``...): NAG solid, CM dashed, one
    colour per mu_max; log y axis."""
    fig, ax = _figure(title)
    colors = _colors(series)
    for key, points in series.items():
        if not points:
            continue
        method = _split(key)[0]
        steps, values = zip(*points, strict=True)
        ax.plot(
            steps,
            values,
            LINESTYLE.get(method, ":"),
            color=colors[key],
            label=labels.get(key, key),
            linewidth=1.2,
        )
    ax.set_xlabel("update t")
    ax.set_ylabel(ylabel)
    if all(v > 0 for pts in series.values() for _, v in pts):
        ax.set_yscale("log")
    if ax.lines:
        ax.legend(fontsize=7, ncol=2)
    return fig


def plot_lr_sensitivity(
    title: str,
    points: dict[str, list[tuple[float, float | None]]],
    labels: dict[str, str],
    ylabel: str,
) -> Figure:
    """Final error vs learning rate (log-log), one line per column key; learning rates whose
    runs diverged are marked x along the top of the axes (None values)."""
    fig, ax = _figure(title)
    colors = _colors(points)
    for key, pts in points.items():
        method = _split(key)[0]
        done = [(lr, v) for lr, v in pts if v is not None and v > 0]
        if done:
            ax.plot(
                *zip(*done, strict=True),
                LINESTYLE.get(method, ":"),
                marker="o",
                markersize=3,
                color=colors[key],
                label=labels.get(key, key),
            )
        failed = [lr for lr, v in pts if v is None]
        if failed:
            ax.scatter(
                failed,
                [0.97] * len(failed),
                marker="x",
                color=colors[key],
                label=None if done else f"{labels.get(key, key)} (diverged)",
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
    ax.set_xscale("log")
    if ax.lines:
        ax.set_yscale("log")
    if points:
        ax.legend(fontsize=7, ncol=2)
    ax.set_xlabel("learning rate (x: diverged)")
    ax.set_ylabel(ylabel)
    return fig


def schedule_points(
    mu_max: float, total_updates: int, period: int, final_phase_updates: int = 0
) -> Points:
    """(t, mu_t) of eq. (5) on a log-spaced grid of updates, with the final phase."""
    ts = np.unique(np.geomspace(1, max(total_updates, 2), 600).astype(int)) - 1
    ts = np.unique(np.concatenate([ts, [max(total_updates - final_phase_updates - 1, 0)]]))
    return [
        (
            int(t),
            momentum_schedule(
                int(t),
                mu_max,
                period=period,
                total_updates=total_updates,
                final_phase_updates=final_phase_updates,
            ),
        )
        for t in ts
        if t < total_updates
    ]


def plot_momentum_schedule(
    mu_maxes: Sequence[float], total_updates: int, period: int, final_phase_updates: int = 0
) -> Figure:
    """The momentum schedule mu_t of eq. (5) for each mu_max (log t axis)."""
    fig, ax = _figure(
        f"momentum schedule, eq. (5): period {period}, {total_updates:,} updates"
        + (f", final phase {final_phase_updates:,}" if final_phase_updates else "")
    )
    # largest mu_max first and widest, so the curves it shares with smaller caps stay visible
    for i, mu_max in enumerate(sorted(mu_maxes, reverse=True)):
        pts = schedule_points(mu_max, total_updates, period, final_phase_updates)
        steps, mus = zip(*pts, strict=True)
        ax.step(
            np.asarray(steps) + 1,
            mus,
            where="post",
            color=f"C{i}",
            linewidth=max(3.0 - 0.6 * i, 1.0),
            label=f"μmax={mu_max:g}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("update t + 1")
    ax.set_ylabel("μ_t")
    ax.legend(fontsize=7)
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg``, both with the layout the PNG's save computed
    (a layout engine lays out every save again, and that is most of a save's time)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    engine = fig.get_layout_engine()
    for path in paths:
        fig.savefig(path, dpi=110)
        fig.set_layout_engine("none")  # the axes keep the positions just laid out
    fig.set_layout_engine(engine)
    return paths


def write_series_csv(path: Path, x_name: str, series: dict[str, Sequence[tuple]]) -> Path:
    """Long-format plot data for ``dvc plots``: columns ``<x_name>, series, value``; points
    without a finite value (diverged) are left out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([x_name, "series", "value"])
        for name, pts in series.items():
            for x, v in pts:
                if v is not None and math.isfinite(v):
                    w.writerow([x, name, v])
    return path


# -- the worked example (two moons) and the quadratic analysis of section 2 ------------------

# GD wide and EMA momentum dashed on top: at the exercise's lr their curves coincide
MOONS_STYLES = {
    "sgd": ("C0", "-", 2.8),
    "ema_momentum": ("C1", "--", 1.4),
    "adam": ("C2", "-", 1.4),
}


def plot_moons_costs(series: dict[str, Points], labels: dict[str, str]) -> Figure:
    """The cost (mean cross-entropy on the training set) against epochs, one line per method
    (keys: method names)."""
    fig, ax = _figure("two moons: training cost per epoch, GD vs EMA momentum vs Adam")
    for i, (method, points) in enumerate(series.items()):
        if points:
            epochs, costs = zip(*points, strict=True)
            color, style, width = MOONS_STYLES.get(method, (f"C{3 + i}", ":", 1.4))
            label = labels.get(method, method)
            ax.plot(epochs, costs, style, color=color, label=label, linewidth=width)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost (cross-entropy)")
    if ax.lines:
        ax.legend(fontsize=8)
    return fig


def plot_decision_boundaries(
    boundaries: dict[str, DecisionBoundary], titles: dict[str, str]
) -> Figure:
    """One panel per method: where the classifier says label 1 (shaded) over the training
    points (coloured by their label)."""
    n = max(len(boundaries), 1)
    fig = Figure(figsize=(4.2 * n, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (method, b) in zip(axes, boundaries.items(), strict=False):
        predicted = (b.probability > 0.5).astype(float)
        ax.contourf(
            b.grid_x, b.grid_y, predicted, levels=[-0.5, 0.5, 1.5], colors=["#f4c7a1", "#a9c8e8"]
        )
        ax.contour(b.grid_x, b.grid_y, b.probability, levels=[0.5], colors="k", linewidths=0.8)
        for label, color in ((0, "#d95f02"), (1, "#1f5fa8")):
            pts = b.points[b.labels == label]
            ax.scatter(pts[:, 0], pts[:, 1], s=9, color=color, edgecolors="white", linewidths=0.3)
        ax.set_title(titles.get(method, method), fontsize=10)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.suptitle("two moons: decision boundaries after training (shaded: predicted label 1)")
    return fig


def plot_quadratic_rates(mus: Sequence[float] = (0.9, 0.99, 0.999), a_max: float = 4.2) -> Figure:
    """Convergence factor per update (the spectral radius of the 2x2 iteration matrix)
    against eps lambda, CM dashed and NAG solid, one panel per mu. Shaded: where NAG contracts
    faster than CM (green) and where NAG diverges but CM converges (red). Where CM diverges
    and NAG converges would be shaded too, but there is no such eps lambda (see
    momentum_repro.analysis.quadratic)."""
    a = np.linspace(0.0, a_max, 2101)
    fig = Figure(figsize=(4.3 * len(mus), 3.9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(mus), sharey=True, squeeze=False)[0]
    for ax, mu in zip(axes, mus, strict=True):
        cm = quadratic.spectral_radius("cm", a, 1.0, mu)
        nag = quadratic.spectral_radius("nag", a, 1.0, mu)
        spans = (
            ((nag < cm - 1e-12) & (nag < 1), "#2ca02c", "NAG faster than CM"),
            ((nag >= 1) & (cm < 1), "#d62728", "NAG diverges, CM converges"),
            ((cm >= 1) & (nag < 1), "#9467bd", "CM diverges, NAG converges"),
        )
        for mask, color, label in spans:
            if mask.any():
                ax.fill_between(
                    a,
                    0,
                    1,
                    where=mask,
                    color=color,
                    alpha=0.15,
                    label=label,
                    linewidth=0,
                    transform=ax.get_xaxis_transform(),
                )
        ax.plot(a, cm, "--", color="C3", label="CM", linewidth=1.3)
        ax.plot(a, nag, "-", color="C0", label="NAG", linewidth=1.3)
        ax.axhline(1.0, color="k", linewidth=0.7)
        for method, style in (("cm", "--"), ("nag", "-")):
            limit = float(quadratic.stability_limit(method, mu))
            ax.axvline(limit, color="grey", linestyle=style, linewidth=0.7)
        ax.set_ylim(0.0, 1.5)
        ax.set_xlim(0.0, a_max)
        ax.set_title(f"μ = {mu:g}", fontsize=10)
        ax.set_xlabel("ε λ")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("convergence factor per update")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "CM vs NAG on a quadratic, per eigenvalue (section 2): spectral radius of the "
        "iteration; no ε λ has CM diverging and NAG converging",
        fontsize=10,
    )
    return fig


OUTCOME_COLOR = {"holds": "#1a7f37", "fails": "#cf222e", "inconclusive": "#9a6700"}


def plot_comparisons(
    title: str,
    rows: Sequence[tuple[str, float, float, float, Sequence[float], str, float]],
) -> Figure:
    """A claim's comparisons, one row each: (label, ratio A/B, interval low, interval high,
    per-seed ratios, outcome, threshold). The interval is a bar, the estimate a diamond and
    each seed of A (against B's geometric mean, or its own seed of B when paired) a point;
    the dotted line is the threshold the claim needs the whole bar to be left of."""
    height = 1.2 + 0.45 * len(rows)
    fig = Figure(figsize=(7.2, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.set_xscale("log")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    for y, (_, ratio, low, high, seeds, outcome, threshold) in enumerate(reversed(rows)):
        color = OUTCOME_COLOR.get(outcome, "0.4")
        if math.isfinite(low) and math.isfinite(high):
            ax.plot([low, high], [y, y], color=color, linewidth=4, alpha=0.6, solid_capstyle="butt")
        ax.plot([ratio], [y], marker="D", color=color, markersize=6)
        if seeds:
            ax.plot(list(seeds), [y + 0.18] * len(seeds), "o", color="0.3", markersize=3.5)
        ax.axvline(threshold, color="0.2", linestyle=":", linewidth=1)
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)], fontsize=8)
    plain = FuncFormatter(lambda v, _: f"{v:.3g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("A / B (below the dotted line: A better by the claim's factor)")
    return fig
