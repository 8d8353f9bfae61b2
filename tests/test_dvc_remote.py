"""Built data sets through a DVC remote: ``dvc push`` from the machine that
built them, ``dvc pull`` into a fresh clone, whose build stages are then up to date."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_dvc_pipeline import copy_repo, dvc, tiny_params

pytestmark = pytest.mark.slow

BUILD_STAGES = ("build_curves", "build_rnn")


def git(repo: Path, *args: str) -> None:
    who = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", *who, *args], cwd=repo, check=True, capture_output=True, timeout=60)


def built_files(repo: Path) -> dict[str, bytes]:
    sets = repo / "data" / "sets"
    return {str(p.relative_to(sets)): p.read_bytes() for p in sets.rglob("*") if p.is_file()}


def test_built_sets_pushed_to_a_remote_are_pulled_into_a_clone_without_rebuilding(
    tmp_path: Path,
) -> None:
    repo, clone, remote = tmp_path / "repo", tmp_path / "clone", tmp_path / "remote"
    copy_repo(repo)
    tiny_params(repo / "params.yaml")
    # the project's remote, as the README sets it up (a local folder here; s3://... on a team)
    added = dvc(repo, "remote", "add", "-d", "store", str(remote))
    assert added.returncode == 0, added.stderr
    built = dvc(repo, "repro", *BUILD_STAGES)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    pushed = dvc(repo, "push", *BUILD_STAGES)
    assert pushed.returncode == 0, pushed.stdout[-3000:] + pushed.stderr[-3000:]
    assert any(p.is_file() for p in remote.rglob("*"))

    # what another machine gets: git (dvc.lock, .dvc/config, params.yaml), no data, no cache
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "built sets")
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / "data").exists()
    pulled = dvc(clone, "pull", *BUILD_STAGES)
    assert pulled.returncode == 0, pulled.stdout[-3000:] + pulled.stderr[-3000:]
    assert built_files(clone) == built_files(repo)

    status = dvc(clone, "status", *BUILD_STAGES)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    again = dvc(clone, "repro", *BUILD_STAGES)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Running stage" not in again.stdout, again.stdout
