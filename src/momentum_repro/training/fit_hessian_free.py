"""``fit_hessian_free``: an autoencoder trained by Hessian-free (Martens 2010; appendix A.6)."""

from __future__ import annotations

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from momentum_repro.data.sets import DataSet
from momentum_repro.models.autoencoder import final_errors
from momentum_repro.training.batches import evenly_spaced
from momentum_repro.training.loop import FitResult, result, train_for_updates
from momentum_repro.training.modules.base import MetricSink
from momentum_repro.training.modules.hessian_free import HessianFreeModule, UpdateCounter
from momentum_repro.training.optimizers import optimizer_factory


def fit_hessian_free(
    cfg: DictConfig, data: DataSet, metric_sink: MetricSink | None = None
) -> FitResult:
    """Train the configured autoencoder with HF for ``trainer.total_updates`` updates.

    Same result as ``fit_autoencoder`` (``final_train_error``, ``final_test_error``), plus
    ``total_cg_iterations``.
    """
    torch.manual_seed(cfg.seed)
    dtype = getattr(torch, cfg.trainer.precision)
    train = torch.from_numpy(np.array(data.train)).to(dtype)
    test = torch.from_numpy(np.array(data.test)).to(dtype)
    model = instantiate(cfg.model, seed=cfg.seed).to(dtype)
    build = optimizer_factory(cfg)
    total = int(cfg.trainer.total_updates)
    module = HessianFreeModule(
        model,
        lambda params: build(params, model=model),
        train_data=train,
        curve_data=evenly_spaced(train, int(cfg.trainer.curve_cases)),
        # HF runs far fewer updates than first-order runs: at least 20 points on the curve
        log_every=max(1, min(int(cfg.trainer.log_every), total // 20)),
        metric_sink=metric_sink,
    )
    updates, seconds = train_for_updates(cfg, module, UpdateCounter(total))
    return result(
        module,
        updates,
        seconds,
        lambda: {
            **final_errors(model, train, test),
            "total_cg_iterations": float(module.hessian_free.total_cg_iterations),
        },
    )
