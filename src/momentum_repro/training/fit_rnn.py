"""``fit_rnn``: train the tanh RNN on a long-range problem from its config (section 4)."""

from __future__ import annotations

import math
import time

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from momentum_repro.data.rnn_tasks import Batch, get_task, training_generator
from momentum_repro.models.rnn import evaluate_rnn, flush_denormals
from momentum_repro.training.autoencoder_module import MetricSink
from momentum_repro.training.fit import FitResult, progress_bar_enabled, quiet_lightning
from momentum_repro.training.optimizers import optimizer_factory
from momentum_repro.training.rnn_module import RNNModule, TaskStream

CURVE_BATCH_SEED_OFFSET = 10_000  # the fixed training batch of the train_loss curve


def fit_rnn(cfg: DictConfig, eval_set: Batch, metric_sink: MetricSink | None = None) -> FitResult:
    """Train for ``trainer.total_updates`` updates of fresh minibatches; final zero-one on
    the fixed evaluation set. ``optimizer.biases_only`` trains only the output biases."""
    quiet_lightning()
    flush_denormals(True)  # float32 BPTT gradients otherwise fall into slow denormals
    torch.manual_seed(cfg.seed)
    task = get_task(cfg.data.task)
    T, batch_size = int(cfg.data.seq_len), int(cfg.trainer.batch_size)
    dtype = getattr(torch, cfg.trainer.precision)
    model = instantiate(cfg.model, seed=cfg.seed).to(dtype)
    init_batch = task(T, 1000, training_generator(cfg.seed + CURVE_BATCH_SEED_OFFSET))
    model.init_output_bias_(init_batch)  # Table 4: output biases = the average target
    if cfg.optimizer.get("biases_only", False):
        model.set_biases_only(True)
    module = RNNModule(
        model,
        task,
        optimizer_factory(cfg),
        eval_set=eval_set,
        curve_batch=init_batch,
        log_every=int(cfg.trainer.log_every),
        metric_sink=metric_sink,
        clip_grad_norm=cfg.trainer.get("clip_grad_norm"),
    )
    trainer = pl.Trainer(
        max_steps=int(cfg.trainer.total_updates),
        max_epochs=-1,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress_bar_enabled(cfg.trainer.progress_bar),
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=TaskStream(task, T, batch_size, cfg.seed, dtype))
    seconds = time.perf_counter() - start
    updates = trainer.global_step
    if module.diverged_at is not None:
        reason = f"diverged: the loss became NaN or infinite at update {module.diverged_at}"
        return FitResult(updates, seconds, True, reason)
    eval_loss, zero_one = evaluate_rnn(model.cpu(), task, eval_set)
    final = {"final_zero_one": zero_one, "final_eval_loss": eval_loss}
    if not all(math.isfinite(v) for v in final.values()):
        return FitResult(updates, seconds, True, "diverged: the final loss is not finite", final)
    return FitResult(updates_done=updates, seconds=seconds, final=final)
