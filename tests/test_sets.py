"""Built sets on disk: written whole or not at all, and loaded back as written."""

from pathlib import Path

import numpy as np
import pytest

from momentum_repro.data import sets
from momentum_repro.data.sets import load_set, save_set


def test_round_trip_and_metadata(tmp_path: Path) -> None:
    train, test = np.random.rand(5, 4).astype(np.float32), np.random.rand(3, 4).astype(np.float32)
    save_set(tmp_path / "s", train, test, {"name": "s", "source": "rebuilt"})
    loaded = load_set(tmp_path / "s")
    np.testing.assert_array_equal(loaded.train, train)
    assert loaded.meta["n_train"] == 5 and loaded.meta["dim"] == 4


def test_a_failed_swap_keeps_the_old_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = np.zeros((2, 3), dtype=np.float32)
    save_set(tmp_path / "s", old, old, {"name": "s"})
    real_replace = sets.os.replace
    calls = []

    def failing_second_replace(src, dst):
        calls.append(src)
        if len(calls) == 2:  # the new folder's move into place
            raise OSError("disk gone")
        return real_replace(src, dst)

    monkeypatch.setattr(sets.os, "replace", failing_second_replace)
    with pytest.raises(OSError, match="disk gone"):
        save_set(tmp_path / "s", old + 1, old + 1, {"name": "s"})
    monkeypatch.undo()
    np.testing.assert_array_equal(load_set(tmp_path / "s").train, old)


def test_non_finite_data_is_refused_naming_it(tmp_path: Path) -> None:
    bad = np.array([[0.0, np.nan]], dtype=np.float32)
    with pytest.raises(ValueError, match="train must be a finite"):
        save_set(tmp_path / "s", bad, bad, {})
    assert not (tmp_path / "s").exists()


def test_missing_set_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"build_data\.py curves"):
        load_set(tmp_path / "curves")
