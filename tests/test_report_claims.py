"""The claims page's rules (a)-(g) on hand-made run records with seeds: reproduced, not
reproduced, inconclusive, not run; a diverged cell; claim (d)'s control; and every rule on the
paper's own published numbers, where each must hold."""

from __future__ import annotations

import math

import pytest

from momentum_repro.report.claims import (
    CLAIMS,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    VERDICT_INCONCLUSIVE,
    check_claims,
    markdown,
    metrics,
    reached_mu,
)
from momentum_repro.report.paper import load_paper_numbers
from momentum_repro.report.runs import RunRecord
from momentum_repro.report.stats import FAILS, HOLDS, INCONCLUSIVE
from momentum_repro.report.tables import build_tables

PAPER = load_paper_numbers()
_ids = iter(range(100_000))
JITTER = (1.0, 1.02, 0.98)  # three seeds, 2% apart: an error of 0.3 is 0.3, 0.306, 0.294


def ae(method: str, mu: float | None, error: float | None, **kw: object) -> list[RunRecord]:
    """Three seeds of an autoencoder cell on CURVES (error None: every seed diverged)."""
    extra = kw.pop("extra", {})
    diverged = error is None
    seeds = kw.pop("seeds", JITTER)
    out = []
    for seed, jitter in enumerate(seeds, start=1):  # type: ignore[arg-type]
        metrics = {} if error is None else {"final_train_error": error * jitter}
        metrics |= {k: v * jitter for k, v in extra.items()}  # type: ignore[attr-defined]
        out.append(
            RunRecord(
                run_id=f"run{next(_ids):05d}",
                sweep_name="s",
                status="FAILED" if diverged else "FINISHED",
                start_time=0,
                task_kind="autoencoder",
                dataset=str(kw.get("dataset", "curves")),
                method=method,
                mu_max=mu,
                lr=float(kw.get("lr", 0.01)),  # type: ignore[arg-type]
                seed=seed,
                diverged=diverged,
                metrics=metrics,
                init_scale=float(kw.get("init_scale", 1.0)),  # type: ignore[arg-type]
                final_phase_updates=int(kw.get("final_phase_updates", 0)),  # type: ignore[arg-type]
                profile="quick",
                total_updates=1200,
                schedule_period=10,
                data_source="rebuilt",
            )
        )
    return out


def rnn(dataset: str, method: str, mu: float | None, zero_one: float) -> list[RunRecord]:
    return [
        RunRecord(
            run_id=f"run{next(_ids):05d}",
            sweep_name="r",
            status="FINISHED",
            start_time=0,
            task_kind="rnn",
            dataset=dataset,
            method=method,
            mu_max=mu,
            lr=1e-4,
            seed=seed,
            seq_len=30,
            metrics={"final_zero_one": zero_one * jitter},
        )
        for seed, jitter in enumerate(JITTER, start=1)
    ]


def results(records: list[RunRecord]) -> dict:
    tables = {t.key: t for t in build_tables(records, PAPER)}
    return {r.claim.key: r for r in check_claims(tables, PAPER)}


def verdicts(records: list[RunRecord]) -> dict[str, str]:
    """Our verdict per claim key, from tables built of ``records``."""
    return {k: r.ours.verdict for k, r in results(records).items()}


def final_phase(before: float, after: float, control: float) -> list[RunRecord]:
    """NAG 0.99 with the final phase (before -> after) and its control without it."""
    with_phase = ae(
        "nag", 0.99, after, final_phase_updates=120,
        extra={"train_error_before_final_phase": before},
    )  # fmt: skip
    return with_phase + ae("nag", 0.99, control, final_phase_updates=0)


# Each claim: records under which it is reproduced, records under which it is not.
CASES = {
    "a": (
        [*ae("sgd", 0.0, 1.0), *ae("nag", 0.99, 0.3), *ae("cm", 0.99, 0.4), *ae("nag", 0.9, 0.9)],
        [*ae("sgd", 0.0, 1.0), *ae("nag", 0.99, 0.3), *ae("cm", 0.99, 0.6)],  # CM only 1.7x
    ),
    "b": (
        [*ae("nag", 0.99, 0.3), *ae("cm", 0.99, 0.4), *ae("nag", 0.9, 0.2), *ae("cm", 0.9, 0.1)],
        [*ae("nag", 0.99, 0.5), *ae("cm", 0.99, 0.4)],
    ),
    "c": (
        [*ae("nag", 0.9, 0.5), *ae("nag", 0.99, 0.3), *ae("nag", 0.999, 0.4)],
        [*ae("nag", 0.9, 0.5), *ae("nag", 0.99, 0.3), *ae("nag", 0.999, 0.6)],  # not every mu
    ),
    # after below the control; then the final phase lowers the error from before, but no
    # more than the same updates without it do: the control catches it
    "d": (final_phase(0.4, 0.3, 0.36), final_phase(0.4, 0.3, 0.25)),
    "e": (
        [
            *ae("nag", 0.999, 0.3, init_scale=1.0),
            *ae("nag", 0.999, 0.5, init_scale=2.0),
            *ae("nag", 0.999, None, init_scale=0.5),  # diverged: the worst
        ],
        [*ae("nag", 0.999, 0.3, init_scale=1.0), *ae("nag", 0.999, 0.2, init_scale=2.0)],
    ),
    "f": (
        [
            *rnn("addition", "nag", 0.995, 0.1),
            *rnn("addition", "nag", 0.0, 0.5),
            *rnn("addition", "biases", 0.9, 0.85),
        ],
        [*rnn("addition", "nag", 0.995, 0.6), *rnn("addition", "nag", 0.0, 0.5)],
    ),
    "g": (
        [
            *rnn("addition", "cm", 0.995, 0.5),
            *rnn("addition", "nag", 0.995, 0.1),
            *rnn("multiplication", "cm", 0.995, 0.2),
            *rnn("multiplication", "nag", 0.995, 0.1),
        ],
        [*rnn("addition", "cm", 0.995, 0.05), *rnn("addition", "nag", 0.995, 0.1)],
    ),
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_each_rule_reproduced_not_reproduced_and_not_run(key: str) -> None:
    good, bad = CASES[key]
    assert verdicts(good)[key] == REPRODUCED
    assert verdicts(bad)[key] == NOT_REPRODUCED
    # records that do not reach the claim's table: not run
    other = rnn("addition", "nag", 0.9, 0.5) if key < "f" else ae("nag", 0.9, 0.5)
    assert verdicts(other)[key] == NOT_RUN
    assert verdicts([])[key] == NOT_RUN


def test_a_difference_inside_the_seeds_spread_is_inconclusive() -> None:
    """NAG 3% below CM, with seeds 10% apart: no verdict either way."""
    wide = (1.0, 1.1, 0.9)
    records = [*ae("nag", 0.99, 0.97, seeds=wide), *ae("cm", 0.99, 1.0, seeds=wide)]
    found = results(records)["b"]
    assert found.ours.verdict == VERDICT_INCONCLUSIVE
    assert found.ours.counts() == {HOLDS: 0, FAILS: 0, INCONCLUSIVE: 1}
    one_seed = [*ae("nag", 0.99, 0.3, seeds=(1.0,)), *ae("cm", 0.99, 1.0, seeds=(1.0,))]
    assert verdicts(one_seed)["b"] == VERDICT_INCONCLUSIVE  # one run per cell: no interval


def test_claim_d_is_paired_with_its_control_and_untested_without_one() -> None:
    found = results(CASES["d"][0])["d"]
    (comparison,) = found.ours.comparisons
    assert comparison.interval is not None and comparison.interval.method == "paired"
    assert comparison.b.label == "control"
    no_control = ae(
        "nag", 0.99, 0.3, final_phase_updates=120,
        extra={"train_error_before_final_phase": 0.4},
    )  # fmt: skip
    assert verdicts(no_control)["d"] == NOT_RUN
    # Table 1 reads the runs with the final phase: the control is Table 2's alone
    table1 = results(CASES["d"][0])["c"]
    assert table1.ours.verdict == NOT_RUN


def test_a_control_is_paired_by_seed_on_the_seeds_both_cells_have() -> None:
    records = final_phase(0.4, 0.3, 0.36)
    records = [r for r in records if not (r.final_phase_updates == 0 and r.seed == 2)]
    (comparison,) = results(records)["d"].ours.comparisons
    assert comparison.interval is not None and comparison.interval.method == "paired"
    assert (comparison.interval.n_a, comparison.interval.n_b) == (2, 2)  # seeds 1 and 3


def test_every_rule_holds_on_the_papers_own_numbers() -> None:
    """A rule the paper's own tables fail would be a wrongly stated claim."""
    found = check_claims({}, PAPER)
    assert [r.claim.key for r in found] == list("abcdefg")
    for r in found:
        assert r.paper.verdict == REPRODUCED, r.claim.key
        assert all(c.outcome == HOLDS for c in r.paper.comparisons), r.claim.key
        assert r.paper.untested == (), r.claim.key  # every row of the paper's table is tested
    counts = {r.claim.key: len(r.paper.comparisons) for r in found}
    # (a): 3 sets x 2 methods x 3 mu_max; (b), (c): 3 x 3; (d) 3 rows; (e) 4 other scales;
    # (f): 4 problems x (the "0" column, biases); (g): one per problem
    assert counts == {"a": 18, "b": 9, "c": 9, "d": 3, "e": 4, "f": 8, "g": 4}


def test_a_diverged_cell_decides_its_comparison_and_is_counted_apart() -> None:
    cm_diverged = [*ae("sgd", 0.0, 1.0), *ae("nag", 0.99, 0.3), *ae("cm", 0.99, None)]
    found = results(cm_diverged)["a"]
    assert found.ours.verdict == NOT_REPRODUCED
    assert found.ours.counts() == {HOLDS: 1, FAILS: 0, INCONCLUSIVE: 0}
    assert found.ours.counts(by_divergence=True) == {HOLDS: 0, FAILS: 1, INCONCLUSIVE: 0}
    sgd_diverged = results([*ae("sgd", 0.0, None), *ae("nag", 0.99, 0.3)])["a"]
    assert sgd_diverged.ours.verdict == REPRODUCED
    (comparison,) = sgd_diverged.ours.comparisons
    assert comparison.decided_by == "SGD diverged at every lr"
    assert "1 decided by a divergence" in sgd_diverged.ours.tally


def test_most_problems_for_claim_g() -> None:
    good = CASES["g"][0]
    third = [*rnn("mem5", "cm", 0.995, 0.5), *rnn("mem5", "nag", 0.995, 0.9)]  # CM wins
    assert verdicts(good + third)["g"] == REPRODUCED  # 2 of 3
    one_of_three = CASES["g"][1] + good[6:] + third  # add fails, mul holds, mem5 fails
    assert verdicts(one_of_three)["g"] == NOT_REPRODUCED
    wide = [
        *rnn("mem5", "cm", 0.995, 0.5),
        *rnn("mem5", "nag", 0.995, 0.5),
    ]  # one row holds, one inconclusive: "most" (more than half) is not yet shown
    assert verdicts(good[6:] + wide)["g"] == VERDICT_INCONCLUSIVE


def test_the_mu_a_column_reached_is_the_schedules_last_value_before_the_final_phase() -> None:
    (run, *_) = ae("nag", 0.999, 0.3, final_phase_updates=500)
    cpu = RunRecord(**{**run.__dict__, "total_updates": 5000, "schedule_period": 25})
    # 4,499 updates of a period of 25: floor(4499 / 25) = 179, 1 - 1 / 360
    assert reached_mu(cpu) == pytest.approx(1 - 1 / 360)
    assert reached_mu(RunRecord(**{**run.__dict__, "mu_max": 0.9})) == 0.9


def test_verdict_names_tested_rows_its_basis_and_the_runs() -> None:
    records = CASES["a"][0]
    tables = {t.key: t for t in build_tables(records, PAPER)}
    result = next(r for r in check_claims(tables, PAPER) if r.claim.key == "a")
    assert result.ours.text == "reproduced (tested: Curves; not run: Mnist, Faces)"
    nag = next(c for c in result.ours.comparisons if c.a.label == "NAG 0.99")
    assert nag.outcome == HOLDS and nag.interval is not None
    assert nag.interval.ratio == pytest.approx(0.3, rel=1e-3)  # geometric means, same jitter
    assert "needs A/B < 0.5" in nag.text
    used = {r.run_id for r in records if r.method in ("sgd", "nag") and r.mu_max != 0.9}
    assert set(nag.runs) == used  # the runs behind the comparison
    basis = result.basis.text()
    for part in ("profile quick", "1,200 updates", "schedule period 10", "data rebuilt"):
        assert part in basis
    assert "3 seeds per cell" in basis and "NAG 0.99 (reached 0.99)" in basis
    md = markdown(check_claims(tables, PAPER), ["Autoencoders: quick profile."])
    assert "| (a) On every autoencoder" in md and "Autoencoders: quick profile." in md
    assert "- Curves: NAG 0.99 0.3 (n=3) at least 2x below SGD 1 (n=3): A/B = 0.3 [" in md
    m = metrics(check_claims(tables, PAPER))
    assert m["a"]["ours"] == REPRODUCED and m["a"]["paper"] == REPRODUCED
    assert (m["a"]["holds"], m["a"]["fails"], m["a"]["inconclusive"]) == (2, 0, 0)
    assert m["a"]["rows_tested"] == ["Curves"] and m["a"]["rows_not_tested"] == ["Mnist", "Faces"]
    assert m["a"]["rests_on"]["seeds_per_cell"] == [3]
    low, high = m["a"]["comparisons"][0]["interval"]
    assert low < m["a"]["comparisons"][0]["log_ratio"] < high < -math.log(2)
    assert m["e"]["ours"] == NOT_RUN and len(m) == len(CLAIMS)
