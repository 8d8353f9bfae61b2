"""Flushing float32 denormals: set for every run from ``trainer.flush_denormal``, recorded as
a tag, and harmless to the results (the values it zeroes are below 1.2e-38)."""

from __future__ import annotations

import mlflow
import pytest
import torch
from omegaconf import DictConfig

from conftest import train, with_values
from momentum_repro.runtime import flush_denormals, on_every_openmp_thread
from momentum_repro.training.run import run_job

SMALLEST_NORMAL = torch.finfo(torch.float32).tiny  # 1.1754944e-38


@pytest.fixture(autouse=True)
def _restore_mode():
    yield
    flush_denormals(False)


def test_flushing_zeroes_exactly_the_denormals() -> None:
    flush_denormals(False)
    x = torch.tensor([SMALLEST_NORMAL / 4, SMALLEST_NORMAL, 1e-3], dtype=torch.float32)
    if not flush_denormals(True):
        pytest.skip("this CPU has no flush-to-zero mode")
    flushed = (x * 1.0).tolist()
    flush_denormals(False)
    kept = (x * 1.0).tolist()
    assert kept[0] == pytest.approx(SMALLEST_NORMAL / 4)  # a denormal survives by default
    assert flushed == [0.0, kept[1], kept[2]]


def test_flushing_reaches_the_threads_of_a_pool_started_before() -> None:
    """torch's OpenMP workers copy the mode when they start: a pool started while denormals
    were kept must flush them too once the mode is set (a parallel op over 2 threads)."""
    pytest.importorskip("sklearn")  # loads a libgomp of its own, which must not be the one used
    if not on_every_openmp_thread(lambda: None):
        pytest.skip("torch's OpenMP runtime is not GNU's")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        flush_denormals(False)
        x = torch.full((1 << 20,), SMALLEST_NORMAL / 4, dtype=torch.float32)
        assert bool((x * 1.0).all())  # the pool's threads start, keeping denormals
        if not flush_denormals(True):
            pytest.skip("this CPU has no flush-to-zero mode")
        assert not bool((x * 1.0).any())  # both halves of the op: flushed on every thread
        flush_denormals(False)
        assert bool((x * 1.0).all())
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("flush", [True, False])
def test_every_run_sets_the_mode_from_its_config(tiny_cfg: DictConfig, flush: bool) -> None:
    flush_denormals(False)
    x = torch.tensor([SMALLEST_NORMAL / 4])  # made while denormals are kept
    flush_denormals(not flush)
    cfg = with_values(tiny_cfg, trainer__flush_denormal=flush, trainer__total_updates=2)
    outcome = run_job(cfg)
    assert (float((x * 1.0)[0]) == 0.0) == flush  # the mode the run left in force
    mlflow.set_tracking_uri(cfg.tracking.uri)
    run = mlflow.get_run(outcome["run_id"])
    assert run.data.tags["flush_denormal"] == str(flush).lower()


@pytest.mark.slow
def test_flushing_does_not_change_the_final_errors(tiny_cfg: DictConfig) -> None:
    flushed = train(with_values(tiny_cfg, trainer__flush_denormal=True)).final
    kept = train(with_values(tiny_cfg, trainer__flush_denormal=False)).final
    assert flushed.keys() == kept.keys()
    for name, value in kept.items():
        assert flushed[name] == pytest.approx(value, rel=1e-4), name
