"""The claims page's rules (a)-(g) on hand-made run records: reproduced, not reproduced, not
run; and every rule on the paper's own published numbers, where each must hold."""

from __future__ import annotations

import pytest

from momentum_repro.report.claims import (
    CLAIMS,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    check_claims,
    markdown,
    metrics,
)
from momentum_repro.report.paper import load_paper_numbers
from momentum_repro.report.runs import RunRecord
from momentum_repro.report.tables import build_tables

PAPER = load_paper_numbers()
_ids = iter(range(100_000))


def ae(method: str, mu: float | None, error: float | None, **kw: object) -> RunRecord:
    """An autoencoder run on CURVES (error None with diverged=True: a diverged run)."""
    metrics = {} if error is None else {"final_train_error": error}
    metrics |= kw.pop("extra", {})  # type: ignore[arg-type]
    diverged = bool(kw.pop("diverged", False))
    return RunRecord(
        run_id=f"run{next(_ids):05d}",
        sweep_name="s",
        status="FAILED" if diverged else "FINISHED",
        start_time=0,
        task_kind="autoencoder",
        dataset=str(kw.pop("dataset", "curves")),
        method=method,
        mu_max=mu,
        lr=float(kw.pop("lr", 0.01)),  # type: ignore[arg-type]
        diverged=diverged,
        metrics=metrics,
        **kw,  # type: ignore[arg-type]
    )


def rnn(dataset: str, method: str, mu: float | None, zero_one: float) -> RunRecord:
    return RunRecord(
        run_id=f"run{next(_ids):05d}",
        sweep_name="r",
        status="FINISHED",
        start_time=0,
        task_kind="rnn",
        dataset=dataset,
        method=method,
        mu_max=mu,
        lr=1e-4,
        seq_len=30,
        metrics={"final_zero_one": zero_one},
    )


def verdicts(records: list[RunRecord]) -> dict[str, str]:
    """Our verdict per claim key, from tables built of ``records``."""
    tables = {t.key: t for t in build_tables(records, PAPER)}
    return {r.claim.key: r.ours.verdict for r in check_claims(tables, PAPER)}


def final_phase(before: float, after: float) -> RunRecord:
    return ae(
        "nag", 0.99, after, final_phase_updates=300,
        extra={"train_error_before_final_phase": before},
    )  # fmt: skip


# Each claim: records under which it is reproduced, records under which it is not.
CASES = {
    "a": (
        [ae("sgd", 0.0, 1.0), ae("nag", 0.99, 0.3), ae("cm", 0.99, 0.4), ae("nag", 0.9, 0.9)],
        [ae("sgd", 0.0, 1.0), ae("nag", 0.99, 0.3), ae("cm", 0.99, 0.6)],  # CM only 1.7x
    ),
    "b": (
        [ae("nag", 0.99, 0.3), ae("cm", 0.99, 0.4), ae("nag", 0.9, 0.2), ae("cm", 0.9, 0.1)],
        [ae("nag", 0.99, 0.5), ae("cm", 0.99, 0.4)],
    ),
    "c": (
        [ae("nag", 0.9, 0.5), ae("nag", 0.99, 0.3), ae("nag", 0.999, 0.4)],
        [ae("nag", 0.9, 0.5), ae("nag", 0.99, 0.3), ae("nag", 0.999, 0.6)],  # not every mu
    ),
    "d": ([final_phase(0.4, 0.3)], [final_phase(0.3, 0.35)]),
    "e": (
        [
            ae("nag", 0.999, 0.3, init_scale=1.0),
            ae("nag", 0.999, 0.5, init_scale=2.0),
            ae("nag", 0.999, None, init_scale=0.5, diverged=True),  # diverged: the worst
        ],
        [ae("nag", 0.999, 0.3, init_scale=1.0), ae("nag", 0.999, 0.2, init_scale=2.0)],
    ),
    "f": (
        [
            rnn("addition", "nag", 0.995, 0.1),
            rnn("addition", "nag", 0.0, 0.5),
            rnn("addition", "biases", 0.9, 0.85),
        ],
        [rnn("addition", "nag", 0.995, 0.6), rnn("addition", "nag", 0.0, 0.5)],
    ),
    "g": (
        [
            # add: CM is best at 0.9; mul: CM is best at 0.995 but NAG beats it there
            rnn("addition", "cm", 0.9, 0.3),
            rnn("addition", "cm", 0.995, 0.5),
            rnn("addition", "nag", 0.995, 0.1),
            rnn("multiplication", "cm", 0.9, 0.4),
            rnn("multiplication", "cm", 0.995, 0.2),
            rnn("multiplication", "nag", 0.995, 0.1),
        ],
        [
            rnn("addition", "cm", 0.9, 0.3),
            rnn("addition", "cm", 0.995, 0.05),
            rnn("addition", "nag", 0.995, 0.1),
        ],
    ),
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_each_rule_reproduced_not_reproduced_and_not_run(key: str) -> None:
    good, bad = CASES[key]
    assert verdicts(good)[key] == REPRODUCED
    assert verdicts(bad)[key] == NOT_REPRODUCED
    # records that do not reach the claim's table: not run
    other = [rnn("addition", "nag", 0.9, 0.5)] if key < "f" else [ae("nag", 0.9, 0.5)]
    assert verdicts(other)[key] == NOT_RUN
    assert verdicts([])[key] == NOT_RUN


def test_every_rule_holds_on_the_papers_own_numbers() -> None:
    """A rule the paper's own tables fail would be a wrongly stated claim."""
    results = check_claims({}, PAPER)
    assert [r.claim.key for r in results] == list("abcdefg")
    for r in results:
        assert r.paper.verdict == REPRODUCED, r.claim.key
        assert r.paper.comparisons and all(c.holds for c in r.paper.comparisons), r.claim.key
        assert r.paper.untested == (), r.claim.key  # every row of the paper's table is tested
    counts = {r.claim.key: len(r.paper.comparisons) for r in results}
    # (a): 3 sets x 2 methods x 3 mu_max; (b), (c): 3 x 3; (d) 3 rows; (e) 4 other scales;
    # (f): 4 problems x (the "0" column, biases); (g): one per problem
    assert counts == {"a": 18, "b": 9, "c": 9, "d": 3, "e": 4, "f": 8, "g": 4}


def test_a_diverged_momentum_cell_loses_and_a_diverged_sgd_cell_is_beaten() -> None:
    cm_diverged = [ae("sgd", 0.0, 1.0), ae("nag", 0.99, 0.3), ae("cm", 0.99, None, diverged=True)]
    assert verdicts(cm_diverged)["a"] == NOT_REPRODUCED
    sgd_diverged = [ae("sgd", 0.0, None, diverged=True), ae("nag", 0.99, 0.3)]
    assert verdicts(sgd_diverged)["a"] == REPRODUCED


def test_most_problems_for_claim_g() -> None:
    rows = CASES["g"][0] + [  # a third problem where CM at 0.995 is best and beats NAG
        rnn("mem5", "cm", 0.9, 2.0),
        rnn("mem5", "cm", 0.995, 0.5),
        rnn("mem5", "nag", 0.995, 0.9),
    ]
    assert verdicts(rows)["g"] == REPRODUCED  # 2 of 3
    one_of_three = CASES["g"][1] + rows[3:]  # add fails, mul holds, mem5 fails
    assert verdicts(one_of_three)["g"] == NOT_REPRODUCED


def test_verdict_names_tested_and_untested_rows_and_the_runs() -> None:
    records = CASES["a"][0]
    tables = {t.key: t for t in build_tables(records, PAPER)}
    result = next(r for r in check_claims(tables, PAPER) if r.claim.key == "a")
    assert result.ours.text == "reproduced (tested: Curves; not run: Mnist, Faces)"
    nag = next(c for c in result.ours.comparisons if c.text.startswith("NAG 0.99"))
    assert nag.holds and "3.33x" in nag.text and "lr 0.01" in nag.text
    used = {r.run_id for r in records if r.method in ("sgd", "nag") and r.mu_max != 0.9}
    assert set(nag.runs) == used  # the runs behind the comparison
    md = markdown(check_claims(tables, PAPER), ["Autoencoders: quick profile."])
    assert "| (a) On every autoencoder" in md and "Autoencoders: quick profile." in md
    assert "- Curves: NAG 0.99 0.3 vs SGD 1: 3.33x, needs >= 2x (NAG 0.99: lr 0.01;" in md
    m = metrics(check_claims(tables, PAPER))
    assert m["a"] == {"ours": REPRODUCED, "paper": REPRODUCED, "comparisons": 2, "held": 2}
    assert m["e"]["ours"] == NOT_RUN and len(m) == len(CLAIMS)
