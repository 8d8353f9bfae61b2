"""``fit_rnn``: train the tanh RNN on a long-range problem from its config (section 4)."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from momentum_repro.data.rnn_tasks import Batch, get_task, training_generator
from momentum_repro.models.rnn import evaluate_rnn
from momentum_repro.training.loop import FitResult, result, train_for_updates
from momentum_repro.training.modules.base import MetricSink
from momentum_repro.training.modules.rnn import RNNModule, TaskStream
from momentum_repro.training.optimizers import optimizer_factory

CURVE_BATCH_SEED_OFFSET = 10_000  # the fixed training batch of the train_loss curve


def fit_rnn(cfg: DictConfig, eval_set: Batch, metric_sink: MetricSink | None = None) -> FitResult:
    """Train for ``trainer.total_updates`` updates of fresh minibatches; final zero-one on
    the fixed evaluation set. ``optimizer.biases_only`` trains only the output biases."""
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
    stream = TaskStream(task, T, batch_size, cfg.seed, dtype)
    updates, seconds = train_for_updates(cfg, module, stream)

    def final() -> dict[str, float]:
        eval_loss, zero_one = evaluate_rnn(model.cpu(), task, eval_set)
        return {"final_zero_one": zero_one, "final_eval_loss": eval_loss}

    return result(module, updates, seconds, final)
