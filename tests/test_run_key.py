"""The resume key: same config, data and code -> same run; any of them changed -> a new run."""

from conftest import compose_config, with_values
from momentum_repro.tracking import mlflow_tracking
from momentum_repro.tracking.mlflow_tracking import run_key


def test_key_depends_on_what_the_run_computes_only(monkeypatch) -> None:
    cfg = compose_config(["profile=quick"])
    key = run_key(cfg, "data-a")
    assert run_key(cfg, "data-a") == key
    assert run_key(cfg, "data-b") != key  # rebuilt data: the run is redone
    assert run_key(with_values(cfg, optimizer__lr=0.123), "data-a") != key
    # runtime-only settings and profile entries this run does not use change nothing
    assert (
        run_key(with_values(cfg, trainer__threads=1, trainer__progress_bar=False), "data-a") == key
    )
    assert run_key(with_values(cfg, updates__hessian_free=7, rnn_warmup_updates=3), "data-a") == key
    assert run_key(with_values(cfg, updates__autoencoder=5), "data-a") != key  # total_updates
    monkeypatch.setattr(mlflow_tracking, "library_digest", lambda: "other code")
    assert run_key(cfg, "data-a") != key  # changed library code: the run is redone
