"""Figures of the report (matplotlib, Agg, no pyplot state): training curves of NAG vs CM per
mu_max (Table 1 / Table 5 best-lr runs), the lr sensitivity of each method, and the momentum
schedule of eq. (5). Each plotting function returns its Figure; :func:`save_figure` writes it."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from momentum_repro.optim.schedule import momentum_schedule

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
    """Write ``<stem>.png`` and ``<stem>.svg``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, dpi=110)
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
