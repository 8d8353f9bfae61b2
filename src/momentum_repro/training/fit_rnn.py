"""``fit_rnn``: train the tanh RNN on a long-range problem from its config (section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from momentum_repro.data.rnn_tasks import Batch, RNNTask, get_task, training_generator
from momentum_repro.models.rnn import TanhRNN, evaluate_rnn
from momentum_repro.training.loop import FitResult, result, train_for_updates
from momentum_repro.training.modules.base import MetricSink
from momentum_repro.training.modules.rnn import RNNModule, TaskStream
from momentum_repro.training.optimizers import optimizer_factory

CURVE_BATCH_SEED_OFFSET = 10_000  # the fixed training batch of the train_loss curve


@dataclass
class RNNRun:
    """What a solo RNN run is built from; a population member is built the same way."""

    model: TanhRNN
    task: RNNTask
    curve_batch: Batch  # the fixed training batch of the train_loss curve (and the bias init)
    stream: TaskStream  # the run's fresh minibatches, from its seed


def build_rnn_run(cfg: DictConfig) -> RNNRun:
    """The network (Table 4's init from ``seed``, output biases from a sample batch) and data."""
    torch.manual_seed(cfg.seed)
    task = get_task(cfg.data.task)
    T, batch_size = int(cfg.data.seq_len), int(cfg.trainer.batch_size)
    dtype = getattr(torch, cfg.trainer.precision)
    model = instantiate(cfg.model, seed=cfg.seed).to(dtype)
    init_batch = task(T, 1000, training_generator(cfg.seed + CURVE_BATCH_SEED_OFFSET))
    model.init_output_bias_(init_batch)  # Table 4: output biases = the average target
    if cfg.optimizer.get("biases_only", False):
        model.set_biases_only(True)
    return RNNRun(model, task, init_batch, TaskStream(task, T, batch_size, cfg.seed, dtype))


def fit_rnn(cfg: DictConfig, eval_set: Batch, metric_sink: MetricSink | None = None) -> FitResult:
    """Train for ``trainer.total_updates`` updates of fresh minibatches; final zero-one on
    the fixed evaluation set. ``optimizer.biases_only`` trains only the output biases."""
    run = build_rnn_run(cfg)
    model, task = run.model, run.task
    module = RNNModule(
        model,
        task,
        optimizer_factory(cfg),
        eval_set=eval_set,
        curve_batch=run.curve_batch,
        log_every=int(cfg.trainer.log_every),
        metric_sink=metric_sink,
        clip_grad_norm=cfg.trainer.get("clip_grad_norm"),
    )
    updates, seconds = train_for_updates(cfg, module, run.stream)
    return result(module, updates, seconds, lambda: final_rnn_errors(model, task, eval_set))


def final_rnn_errors(model: TanhRNN, task: RNNTask, eval_set: Batch) -> dict[str, float]:
    """The errors a finished RNN run reports: zero-one and loss on the evaluation set."""
    eval_loss, zero_one = evaluate_rnn(model.cpu(), task, eval_set)
    return {"final_zero_one": zero_one, "final_eval_loss": eval_loss}
