"""Build a data set for training: ``python pipelines/build_data.py curves`` (or mnist, faces,
rnn, moons)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:  # a python without the project is told which command sets it up
    import yaml

    from momentum_repro.data.build import BUILDERS, RawDataMissingError, build_set
except ModuleNotFoundError as missing:
    from project_missing import exit_without_project

    exit_without_project(missing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(BUILDERS), help="data set to build")
    parser.add_argument("--params", default="params.yaml", help="DVC params file")
    args = parser.parse_args()
    try:
        data = (yaml.safe_load(Path(args.params).read_text()) or {}).get("data") or {}
        build_set(args.name, data)
    except RawDataMissingError as err:  # the message says what is missing and what to do
        print(f"build_data {args.name}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
