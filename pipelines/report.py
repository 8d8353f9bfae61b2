"""Report stage: ``python pipelines/report.py [SWEEP ...] [--out reports]`` rebuilds the paper's
tables, figures and ``metrics.json`` from the MLflow runs of the sweeps ``<name>_<profile>``
(``profile`` and the names from params.yaml; no names: every sweep of its ``sweeps``).
``--sweep-name moons`` adds runs by their MLflow ``sweep_name`` tag as it is, e.g. those of
``python pipelines/train.py -m experiment=moons optimizer=ema_momentum,sgd,adam``."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from mlflow.tracking import MlflowClient

from momentum_repro.report.build import build_report
from momentum_repro.report.tuning import tuning_sweeps
from momentum_repro.tracking.mlflow_tracking import configured_store
from momentum_repro.training.sweep_plan import sweep_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="keys of params.yaml's sweeps (default: all)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports", help="report folder")
    parser.add_argument(
        "--sweep-name",
        action="append",
        default=[],
        help="an MLflow sweep_name tag to report as it is (repeatable); alone, only these",
    )
    parser.add_argument(
        "--tuned", action="store_true", help="add every experiment=tune study (tuning.md)"
    )
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    sweeps = params.get("sweeps", {})
    unknown = [n for n in args.names if n not in sweeps]
    if unknown:
        parser.error(f"no sweeps.{unknown[0]} in {args.params}; have {sorted(sweeps)}")
    named = args.names or ([] if args.sweep_name else list(sweeps))
    names = [sweep_name(n, params["profile"]) for n in named] + args.sweep_name
    uri, experiment = configured_store(Path(__file__).resolve().parents[1] / "conf")
    if args.tuned:
        names += tuning_sweeps(MlflowClient(uri), experiment)
    result = build_report(uri, experiment, names, Path(args.out))
    for kind in ("curves", "lr", "schedule"):  # DVC plots outs, present even with no runs yet
        (result.out_dir / "plots" / kind).mkdir(parents=True, exist_ok=True)
    print(f"report of {', '.join(names)} ({result.n_runs} runs) -> {result.out_dir}/index.html")


if __name__ == "__main__":
    main()
