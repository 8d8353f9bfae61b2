"""The LightningModule for the long-range RNN problems (section 4 of the paper).

Each update draws a fresh minibatch from a seeded stream; the zero-one loss of Table 5 is
measured every N updates on a fixed evaluation set, at theta_t.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from momentum_repro.data.rnn_tasks import Batch, RNNTask, training_stream
from momentum_repro.models.rnn import TanhRNN, batch_tensors, evaluate_rnn, task_loss
from momentum_repro.training.modules.base import GuardedModule, MetricSink, OptimizerFactory


class TaskStream:
    """Lightning's training data: endless fresh batches of a task as tensors."""

    def __init__(self, task: RNNTask, T: int, batch_size: int, seed: int, dtype: torch.dtype):
        self.task, self.T, self.batch_size, self.seed, self.dtype = task, T, batch_size, seed, dtype
        self.skipped = 0

    def skip(self, batches: int) -> None:
        """Continue after ``batches`` batches (a resumed run): they are drawn and dropped."""
        self.skipped = batches

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        stream = training_stream(self.task, self.T, self.batch_size, self.seed)
        for _ in range(self.skipped):
            next(stream)
        for batch in stream:
            inputs, targets, mask, valid = batch_tensors(batch, self.dtype, "cpu")
            yield (inputs, targets, mask) if valid is None else (inputs, targets, mask, valid)


class RNNModule(GuardedModule):
    """Trains ``model`` on ``task``; logs train_loss (fixed training batch), eval zero-one."""

    def __init__(
        self,
        model: TanhRNN,
        task: RNNTask,
        optimizer_factory: OptimizerFactory,
        eval_set: Batch,
        curve_batch: Batch,
        log_every: int = 100,
        metric_sink: MetricSink | None = None,
        clip_grad_norm: float | None = None,
    ) -> None:
        super().__init__(model, optimizer_factory, log_every, metric_sink)
        self.task = task
        self.eval_set = eval_set
        self.curve_batch = curve_batch
        self.clip_grad_norm = clip_grad_norm

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.model.trainable_parameters())

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        inputs, targets, mask, *rest = batch
        valid = rest[0] if rest else None
        optimizer = self.optimizers()

        def closure() -> Tensor:
            optimizer.zero_grad()
            # summed over the minibatch, the scale of the paper's learning rates (task_loss)
            outputs = self.model(inputs, valid)
            loss = task_loss(self.task, outputs, targets, mask, reduction="sum")
            self.manual_backward(loss)
            if self.clip_grad_norm is not None:  # off by default: the paper mentions none
                torch.nn.utils.clip_grad_norm_(
                    self.model.trainable_parameters(), self.clip_grad_norm
                )
            return loss

        return optimizer.step(closure=closure)

    @torch.no_grad()
    def log_curve(self, updates: int) -> None:
        """train_loss on the fixed training batch and the eval set's loss and zero-one, at theta_t."""
        train_loss, _ = evaluate_rnn(self.model, self.task, self.curve_batch)
        eval_loss, eval_zero_one = evaluate_rnn(self.model, self.task, self.eval_set)
        if self.stop_if_not_finite(train_loss + eval_loss, updates):
            return
        optimizer = self.trainer.optimizers[0]
        metrics = {
            "train_loss": train_loss,
            "eval_loss": eval_loss,
            "eval_zero_one": eval_zero_one,
            "lr": float(optimizer.param_groups[0]["lr"]),
        }
        if hasattr(optimizer, "last_mu"):
            metrics["mu"] = float(optimizer.last_mu)
        self.report(metrics, updates)


def load_eval_set(path: str) -> Batch:
    """A fixed evaluation set written by the ``build_rnn`` stage (``np.savez``)."""
    try:
        with np.load(path) as arrays:
            return Batch.from_arrays(dict(arrays))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"RNN evaluation set {path} is missing: build it first "
            "(`dvc repro` or `python pipelines/build_data.py rnn`)"
        ) from None
