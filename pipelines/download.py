"""Download stage: ``python pipelines/download.py`` fetches the raw files of the manifest
(``src/momentum_repro/data/manifest.yaml``) into ``data/raw/`` and checks their sha256.

A mirror (``MOMENTUM_REPRO_MIRROR``: a folder, ``file://`` or ``http(s)://`` base, e.g.
``/path/to/mirror``) is tried before the upstream URLs. The paper's own prepared files are
optional: when they cannot be had, ``data/raw/fetch_report.json`` lists them as unavailable and
only ``data.source: paper`` builds fail (with that reason).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

try:  # a python without the project is told which command sets it up
    from momentum_repro.data.build import FETCH_REPORT
    from momentum_repro.data.download import MIRROR_ENV, PINS_FILENAME, DownloadError, fetch_all
except ModuleNotFoundError as missing:
    from project_missing import exit_without_project

    exit_without_project(missing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/raw", help="raw data folder")
    parser.add_argument("--mirror", help="overrides the MOMENTUM_REPRO_MIRROR variable")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    out = Path(args.out)
    try:
        report = fetch_all(None, out, args.mirror)
    except DownloadError as err:
        print(f"download stage failed:\n{err}", file=sys.stderr)
        return 1
    pins = out / PINS_FILENAME
    if not pins.exists():  # a DVC out: exists even when no file needed pinning
        pins.write_text("{}\n")
    summary = report.to_json()
    # keep the report free of this machine's mirror path: another mirror, same data, no rebuild
    mirror = args.mirror or os.environ.get(MIRROR_ENV)
    if mirror:
        for name, why in summary["unavailable"].items():
            for form in {mirror, str(Path(mirror).resolve()), Path(mirror).resolve().as_uri()}:
                why = why.replace(form, f"${MIRROR_ENV}")
            summary["unavailable"][name] = why
    (out / FETCH_REPORT).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"fetched {len(summary['fetched'])} file(s) into {out}")
    for name, why in summary["unavailable"].items():
        print(f"unavailable (optional): {name}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
