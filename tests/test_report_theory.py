"""Section 2's figure and paragraph: in every report, with or without runs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from momentum_repro.analysis import quadratic
from momentum_repro.report import theory
from momentum_repro.report.build import build_report
from momentum_repro.report.plots import plot_quadratic_rates


def test_figure_has_cm_and_nag_per_mu_and_shades_only_what_exists() -> None:
    fig = plot_quadratic_rates((0.9, 0.99, 0.999))
    assert len(fig.axes) == 3
    for ax, mu in zip(fig.axes, (0.9, 0.99, 0.999), strict=True):
        lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
        assert set(lines) == {"CM", "NAG"} and ax.get_title() == f"μ = {mu:g}"
        a, nag = lines["NAG"].get_data()
        np.testing.assert_allclose(nag, quadratic.spectral_radius("nag", a, 1.0, mu))
        shaded = {c.get_label() for c in ax.collections}
        assert shaded == {"NAG faster than CM", "NAG diverges, CM converges"}  # no purple


def test_paragraph_numbers_come_from_the_analysis() -> None:
    text = " ".join(theory.paragraphs())
    assert "3.998 and 1.334 at mu = 0.999" in text  # 2 (1 + mu) and 2 (1 + mu) / (1 + 2 mu)
    assert "0.9995 at mu = 0.999" in text  # sqrt(mu): CM's factor at eps lambda = 1
    # NAG is faster from about (1 - sqrt(mu))^2 (where CM's roots turn complex) to about 4/3
    for mu in theory.MUS:
        lo, hi, excess = theory.nag_faster_interval(mu)
        assert hi == pytest.approx(4 / 3, abs=1e-3)
        assert (1 - np.sqrt(mu)) ** 2 < lo < 1.1 * (1 - np.sqrt(mu)) ** 2
        a = np.geomspace(lo / 100, lo * 0.999, 50)  # just below: NAG slower, by <= excess
        gap = quadratic.spectral_radius("nag", a, 1, mu) - quadratic.spectral_radius("cm", a, 1, mu)
        assert (gap >= 0).all() and gap.max() <= excess + 1e-12
    assert "from about 0.0028 / 2.5e-05 / 2.5e-07 up to about 1.333" in text


@pytest.mark.slow
def test_every_report_has_the_figure_and_its_paragraph(tmp_path: Path) -> None:
    report = build_report(f"sqlite:///{tmp_path}/m.db", "none", ["no_runs"], tmp_path / "r")
    assert "quadratic_rates" in report.figures and "moons_costs" not in report.figures
    html = (tmp_path / "r" / "index.html").read_text()
    assert "<h2>CM vs NAG on a quadratic (section 2)</h2>" in html
    assert "no eps lambda at which CM diverges and NAG does not" in html
    assert (tmp_path / "r" / "figures" / "quadratic_rates.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "r" / "plots" / "quadratic" / "rates.csv").open()))
    assert {r["series"] for r in rows} == {
        f"{m} mu={mu:g}" for m in ("cm", "nag") for mu in theory.MUS
    }
