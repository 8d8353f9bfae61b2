"""Build a data set for training: ``python pipelines/build_data.py curves``."""

from __future__ import annotations

import argparse

from momentum_repro.data.build import build_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="data set to build (curves)")
    parser.add_argument("--params", default="params.yaml", help="DVC params file")
    args = parser.parse_args()
    build_set(args.name, args.params)


if __name__ == "__main__":
    main()
