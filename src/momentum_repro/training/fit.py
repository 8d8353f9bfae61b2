"""``fit``: train one run of a workload under the one Lightning loop (``loop.py``).

The workload builds the run (model, minibatches, objective, curves, final metrics); the
optimizer is the config's (``optimizers.py``). A first-order optimizer trains it through
``WorkloadModule``; Hessian-free (Martens 2010; appendix A.6), which picks its own batches
from the whole training set, through ``HessianFreeModule``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from momentum_repro.training.loop import FitResult, result, train_for_updates
from momentum_repro.training.modules.base import MetricSink
from momentum_repro.training.modules.hessian_free import HessianFreeModule, UpdateCounter
from momentum_repro.training.modules.workload import WorkloadModule
from momentum_repro.training.optimizers import builds_hessian_free, optimizer_factory
from momentum_repro.workloads.base import Prepared, Workload

ArtifactSink = Callable[[Path], None]


def fit(
    workload: Workload,
    prepared: Prepared,
    metric_sink: MetricSink | None = None,
    artifact_sink: ArtifactSink | None = None,
) -> FitResult:
    """Train the run for ``trainer.total_updates`` updates; its final metrics (and the
    error snapshot before the final phase), its artifacts to ``artifact_sink``."""
    cfg: DictConfig = prepared.cfg
    run = workload.build(prepared)
    build = optimizer_factory(cfg)
    log_every = int(cfg.trainer.log_every)
    total = int(cfg.trainer.total_updates)
    if builds_hessian_free(cfg):
        module = HessianFreeModule(
            run,
            lambda params: build(params, model=run.model),
            # HF runs far fewer updates than first-order runs: at least 20 points on the curve
            log_every=max(1, min(log_every, total // 20)),
            metric_sink=metric_sink,
        )
        stream = UpdateCounter(total)

        def final() -> dict[str, float]:
            assert module.hessian_free is not None
            cg = float(module.hessian_free.total_cg_iterations)
            return {**run.final(), "total_cg_iterations": cg}
    else:
        module = WorkloadModule(
            run, build, log_every, metric_sink, cfg.trainer.get("clip_grad_norm")
        )
        stream = run.stream

        def final() -> dict[str, float]:
            return {**run.final(), **module.snapshots}

    updates, seconds = train_for_updates(cfg, module, stream, workload.run_name())
    fitted = result(module, updates, seconds, final)
    if artifact_sink is not None and not fitted.diverged:
        with tempfile.TemporaryDirectory() as tmp:
            for path in run.artifacts(Path(tmp)):
                artifact_sink(path)
    return fitted
