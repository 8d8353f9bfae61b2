"""DVC sweep stage: ``python pipelines/sweep.py curves`` runs the grid of params.yaml's
``sweeps.curves`` with Hydra multirun (pipelines/train.py -m) and writes its summary."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from momentum_repro.tracking.mlflow_tracking import configured_store
from momentum_repro.training.sweep_plan import multirun_overrides, sweep_name, write_summary

TRAIN = Path(__file__).with_name("train.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="a key of params.yaml's sweeps section")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", help="summary JSON (default results/sweeps/<name>.json)")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    if args.name not in params.get("sweeps", {}):
        parser.error(f"no sweeps.{args.name} in {args.params}; have {sorted(params['sweeps'])}")
    profile, launcher = params["profile"], params.get("launcher", "basic")
    overrides = multirun_overrides(args.name, params["sweeps"][args.name], profile, launcher)
    print(
        "+ python pipelines/train.py -m " + " ".join(shlex.quote(o) for o in overrides), flush=True
    )
    failed = subprocess.run([sys.executable, str(TRAIN), "-m", *overrides]).returncode != 0
    name = sweep_name(args.name, profile)
    out = args.out or f"results/sweeps/{args.name}.json"
    uri, experiment = configured_store(TRAIN.parents[1] / "conf")  # what train.py logs to
    summary = write_summary(uri, experiment, name, out)
    print(f"sweep {name}: {summary['counts']} -> {out}")
    crashed = [r for r in summary["runs"] if r["status"] == "FAILED" and not r["diverged"]]
    return 1 if failed or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
