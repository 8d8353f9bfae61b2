"""The stored numbers of Sutskever et al. (2013) are the published ones (literal values)."""

import pytest

from momentum_repro.report.paper import load_paper_numbers

T1_COLUMNS = [
    "sgd",
    "nag_0.9",
    "nag_0.99",
    "nag_0.995",
    "nag_0.999",
    "cm_0.9",
    "cm_0.99",
    "cm_0.995",
    "cm_0.999",
    "sgd_c",
    "hf_momentum",
    "hf",
]
TABLE1 = {
    "curves": [0.48, 0.16, 0.096, 0.091, 0.074, 0.15, 0.10, 0.10, 0.10, 0.16, 0.058, 0.11],
    "mnist": [2.1, 1.0, 0.73, 0.75, 0.80, 1.0, 0.77, 0.84, 0.90, 0.9, 0.69, 1.40],
    "faces": [36.4, 14.2, 8.5, 7.8, 7.7, 15.3, 8.7, 8.3, 9.3, None, 7.5, 12.0],
}
TABLE2 = {"curves": (0.096, 0.074), "mnist": (1.2, 0.73), "faces": (10.83, 7.7)}
TABLE3 = {"0.25": 16, "0.5": 16, "1": 0.074, "2": 0.083, "4": 0.35}
T5_COLUMNS = ["biases", "sgd", "nag_0.9", "nag_0.98", "nag_0.995", "cm_0.9", "cm_0.98", "cm_0.995"]
TABLE5 = {
    "addition_T80": [0.82, 0.39, 0.02, 0.21, 0.00025, 0.43, 0.62, 0.036],
    "multiplication_T80": [0.84, 0.48, 0.36, 0.22, 0.0013, 0.029, 0.025, 0.37],
    "mem5_T200": [2.5, 1.27, 1.02, 0.96, 0.63, 1.12, 1.09, 0.92],
    "mem20_T80": [8, 5.37, 2.77, 0.0144, 5e-05, 1.75, 0.0017, 0.053],
}


@pytest.fixture(scope="module")
def paper():
    return load_paper_numbers()


def test_citation(paper):
    assert "Sutskever" in paper.citation and "2013" in paper.citation
    assert paper.url.startswith("https://proceedings.mlr.press/v28/sutskever13")


def test_table1(paper):
    assert paper.columns("table1") == T1_COLUMNS
    assert paper.tables["table1"] == {
        row: dict(zip(T1_COLUMNS, values, strict=True)) for row, values in TABLE1.items()
    }


def test_table2(paper):
    assert paper.tables["table2"] == {
        row: {"before": b, "after": a} for row, (b, a) in TABLE2.items()
    }


def test_table3(paper):
    assert paper.tables["table3"] == {"curves": TABLE3}


def test_table5(paper):
    assert paper.columns("table5") == T5_COLUMNS
    assert paper.tables["table5"] == {
        row: dict(zip(T5_COLUMNS, values, strict=True)) for row, values in TABLE5.items()
    }


def test_value_lookup(paper):
    assert paper.value("table1", "faces", "sgd_c") is None  # printed "NA"
    assert paper.value("table5", "mem20_T80", "nag_0.995") == 5e-05
    assert paper.value("table1", "xor", "nag_0.9") is None  # not in the paper
