"""Report stage: ``python pipelines/report.py [SWEEP ...]`` checks the paper's claims and rebuilds
its tables, figures and ``metrics.json`` into ``reports/`` from the current runs of the named
sweeps: those each sweep's summary (``results/sweeps/<SWEEP>.json``, its last multirun) lists.

No SWEEP: the default pipeline's sweeps at params.yaml's profile (``claims_curves_<profile>``,
``claims_rnn_<profile>``). ``--add NAME`` reports a sweep of your own beside them (a run
prints its sweep's name); ``--tuned`` adds the ``experiment=tune`` studies at the profile as
a section of their own."""

from __future__ import annotations

import argparse
from pathlib import Path

try:  # a python without the project is told which command sets it up
    import yaml
    from mlflow.tracking import MlflowClient

    from momentum_repro.report.build import build_report
    from momentum_repro.report.tuning import tuning_sweeps
    from momentum_repro.tracking.mlflow_tracking import configured_store
except ModuleNotFoundError as missing:
    from project_missing import exit_without_project

    exit_without_project(missing)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SWEEPS = ("claims_curves_{profile}", "claims_rnn_{profile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="sweep names (default: the pipeline's)")
    parser.add_argument("--add", action="append", default=[], help="a sweep to add (repeatable)")
    parser.add_argument("--params", default="params.yaml", help="where the profile is set")
    parser.add_argument("--profile", help="the profile (default: params.yaml's)")
    parser.add_argument("--summaries", help="the sweeps' summary folder (default: tracking's)")
    parser.add_argument("--out", default="reports", help="report folder")
    parser.add_argument(
        "--tuned", action="store_true", help="add the experiment=tune studies at the profile"
    )
    args = parser.parse_args()
    profile = args.profile or yaml.safe_load(Path(args.params).read_text())["profile"]
    names = args.names or [name.format(profile=profile) for name in DEFAULT_SWEEPS]
    names += [name for name in args.add if name not in names]
    uri, experiment, summary_dir = configured_store(ROOT / "conf")
    summaries = Path(args.summaries) if args.summaries else summary_dir
    tuned = tuning_sweeps(MlflowClient(uri), experiment) if args.tuned else []
    result = build_report(
        uri,
        experiment,
        names,
        Path(args.out),
        summary_dir=summaries,
        tuned_sweeps=tuned,
        profile=profile,
    )
    for kind in ("curves", "lr", "schedule"):  # DVC plots outs, present even with no runs yet
        (result.out_dir / "plots" / kind).mkdir(parents=True, exist_ok=True)
    print(f"report of {', '.join(names)} ({result.n_runs} runs) -> {result.out_dir}/index.html")
    if result.left_out:
        print(f"left out: {result.left_out}")


if __name__ == "__main__":
    main()
