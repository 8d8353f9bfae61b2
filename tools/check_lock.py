"""Check that requirements.lock was made from pyproject.toml's current dependencies.

``make lock`` writes the lock with ``uv pip compile`` and records, in its header, a digest of
the dependency lists it was compiled from. This check fails, naming what disagrees, when
pyproject.toml's dependencies (or its ``dev`` extra) changed since, or when a locked version
does not satisfy a requirement. It needs no network: CI runs it before the tests.

    python tools/check_lock.py [--pyproject pyproject.toml] [--lock requirements.lock]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

DIGEST_LINE = "# pyproject-dependencies-sha256: "


def dependency_digest(pyproject: dict) -> str:
    """sha256 of the dependency lists the lock is compiled from (order-independent)."""
    project = pyproject["project"]
    wanted = {
        "dependencies": sorted(project.get("dependencies", [])),
        "dev": sorted(project.get("optional-dependencies", {}).get("dev", [])),
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def locked_versions(lock_text: str) -> dict:
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock_text, flags=re.MULTILINE)
    return {canonicalize_name(name): Version(version) for name, version in pins}


def problems(pyproject_path: Path, lock_path: Path) -> list[str]:
    # packaging is imported here: --print-digest runs before the venv has it
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if not lock_path.exists():
        return [f"{lock_path} is missing: run `make lock`"]
    pyproject = tomllib.loads(pyproject_path.read_text())
    lock_text = lock_path.read_text()
    found = [
        ln[len(DIGEST_LINE) :].strip()
        for ln in lock_text.splitlines()
        if ln.startswith(DIGEST_LINE)
    ]
    errors = []
    expected = dependency_digest(pyproject)
    if found != [expected]:
        errors.append(
            f"{lock_path} was not compiled from {pyproject_path}'s current dependencies "
            f"(digest {found[0][:12] if found else 'missing'}, expected {expected[:12]}): run `make lock`"
        )
    pins = locked_versions(lock_text)
    project = pyproject["project"]
    for spec in [
        *project.get("dependencies", []),
        *project["optional-dependencies"].get("dev", []),
    ]:
        req = Requirement(spec)
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            errors.append(f"{req.name} ({spec}) is not in {lock_path}: run `make lock`")
        elif not req.specifier.contains(version, prereleases=True):
            errors.append(f"{req.name}=={version} in {lock_path} does not satisfy {spec!r}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--print-digest", action="store_true", help="print the header line")
    args = parser.parse_args()
    if args.print_digest:
        print(DIGEST_LINE + dependency_digest(tomllib.loads(args.pyproject.read_text())))
        return 0
    errors = problems(args.pyproject, args.lock)
    for error in errors:
        print(f"lock check: {error}", file=sys.stderr)
    if not errors:
        print(f"lock check: {args.lock} matches {args.pyproject}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
