"""DVC sweep stage: ``python pipelines/sweep.py curves rnn`` runs the grids of params.yaml's
``sweeps.curves`` and ``sweeps.rnn`` with Hydra multirun (pipelines/train.py -m) and writes
each sweep's summary.

Several sweeps under one launcher run as one multirun: one pool of workers takes their jobs
in the order named (name the sweep of longest runs first), so no core idles while one sweep's
last runs end. Each sweep keeps its own MLflow parent run, run names and summary."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from momentum_repro.tracking.mlflow_tracking import configured_store
from momentum_repro.training.sweep_plan import planned_multiruns, sweep_name, write_summary

TRAIN = Path(__file__).with_name("train.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+", help="keys of params.yaml's sweeps section")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", help="summary JSON of a single sweep (default: see --out-dir)")
    parser.add_argument("--out-dir", default="results/sweeps", help="writes <name>.json there")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    sweeps = params.get("sweeps", {})
    unknown = [name for name in args.names if name not in sweeps]
    if unknown:
        parser.error(f"no sweeps.{unknown[0]} in {args.params}; have {sorted(sweeps)}")
    if args.out and len(args.names) > 1:
        parser.error("--out names one summary; with several sweeps use --out-dir")
    profile, launcher = params["profile"], params.get("launcher", "basic")
    failed = False
    for overrides in planned_multiruns(args.names, sweeps, profile, launcher):
        line = " ".join(shlex.quote(o) for o in overrides)
        print(f"+ python pipelines/train.py -m {line}", flush=True)
        failed |= subprocess.run([sys.executable, str(TRAIN), "-m", *overrides]).returncode != 0
    uri, experiment = configured_store(TRAIN.parents[1] / "conf")  # what train.py logs to
    crashed = False
    for name in args.names:
        out = args.out or f"{args.out_dir}/{name}.json"
        summary = write_summary(uri, experiment, sweep_name(name, profile), out)
        print(f"sweep {summary['sweep_name']}: {summary['counts']} -> {out}")
        crashed |= any(r["status"] == "FAILED" and not r["diverged"] for r in summary["runs"])
    return 1 if failed or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
