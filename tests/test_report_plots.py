"""Plotting functions: one line per series, diverged lrs as markers, valid PNG and SVG files."""

import csv
import xml.etree.ElementTree as ET

from momentum_repro.report.plots import (
    plot_lr_sensitivity,
    plot_momentum_schedule,
    plot_training_curves,
    save_figure,
    schedule_points,
    write_series_csv,
)


def test_training_curves_one_line_per_series(tmp_path):
    series = {
        "nag_0.99": [(0, 5.0), (10, 1.0)],
        "cm_0.99": [(0, 5.0), (10, 2.0)],
        "nag_0.9": [(0, 5.0), (10, 3.0)],
        "cm_0.9": [],  # no finished run: no line
    }
    fig = plot_training_curves("t", series, {"nag_0.99": "0.99N"}, "train_error")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    assert [ln.get_linestyle() for ln in lines] == ["-", "--", "-"]
    assert lines[0].get_color() == lines[1].get_color()  # same mu_max, same colour
    png, svg = save_figure(fig, tmp_path / "curves")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # each curve is a <path> inside a "line2d_*" group of matplotlib's SVG
    groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "")]
    curves = [g for g in groups if g.get("id").startswith("line2d_") and g.find("*") is not None]
    assert len([g for g in curves if len(g.find("*").get("d", "")) > 20]) >= 3


def test_lr_sensitivity_lines_and_diverged_markers():
    points = {
        "nag_0.99": [(1e-3, 0.2), (1e-2, 0.1), (5e-2, None)],
        "cm_0.99": [(1e-2, None)],  # every lr diverged: markers only
        "sgd": [(1e-3, 0.9), (1e-2, 0.5)],
    }
    fig = plot_lr_sensitivity("t", points, {}, "final_train_error")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    assert len(ax.collections) == 2  # x markers of nag_0.99 and cm_0.99
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_momentum_schedule_lines_and_points():
    fig = plot_momentum_schedule([0.9, 0.99, 0.999], 3000, 25, final_phase_updates=100)
    assert len(fig.axes[0].get_lines()) == 3
    pts = dict(schedule_points(0.99, 3000, 25, final_phase_updates=100))
    assert pts[0] == 0.5 and pts[2899] == 0.99 and pts[2999] == 0.9
    assert max(pts) == 2999


def test_series_csv_long_format(tmp_path):
    path = write_series_csv(tmp_path / "d" / "x.csv", "lr", {"a": [(0.1, 1.0), (1.0, None)]})
    assert list(csv.DictReader(path.open())) == [{"lr": "0.1", "series": "a", "value": "1.0"}]
