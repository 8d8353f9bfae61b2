"""The long-range RNN problems of section 4 (Tables 4 and 5) as a workload.

A run trains the tanh RNN of Martens & Sutskever (2011) (``conf/model/rnn.yaml``: Table 4's
initialization, drawn from its seed; output biases set to the average target of a sample
batch) on one problem of ``data/rnn_tasks.py`` at its length T: each update draws a fresh
minibatch of sequences from the seed's own stream and minimises the task's loss summed over
the minibatch (``models/rnn.py`` ``task_loss``: the scale of the paper's learning rates).
Every N updates the loss on a fixed training batch and the loss and zero-one on the fixed
evaluation set (built by the ``build_rnn`` stage) are measured, and at the end the zero-one
of Table 5 (``final_zero_one``). The "biases" baseline (``optimizer.biases_only``) trains
only the output biases. Its population form trains K runs of one problem as one model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from torch import Tensor

from momentum_repro.data.rnn_tasks import (
    Batch,
    RNNTask,
    get_task,
    training_generator,
    training_stream,
)
from momentum_repro.errors import ConfigError
from momentum_repro.models.rnn import TanhRNN, batch_tensors, evaluate_rnn, task_loss
from momentum_repro.models.stacked_rnn import StackedTanhRNN, member_losses, stack_batches
from momentum_repro.optim.schedule import RNNSchedule
from momentum_repro.workloads.autoencoder import by_seed, move
from momentum_repro.workloads.base import Loaded, Prepared, Run, Workload, file_digest, read_once

CURVE_BATCH_SEED_OFFSET = 10_000  # the fixed training batch of the train_loss curve


class TaskStream:
    """A run's training data: endless fresh batches of a task as tensors."""

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


def load_eval_set(path: str) -> Batch:
    """A fixed evaluation set written by the ``build_rnn`` stage (``np.savez``)."""
    try:
        with np.load(path) as arrays:
            return Batch.from_arrays(dict(arrays))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"RNN evaluation set {path} is missing: list its task and T under "
            "data.rnn.sets in params.yaml, then build it (`dvc repro build_rnn`)"
        ) from None


def final_rnn_errors(model: TanhRNN, task: RNNTask, eval_set: Batch) -> dict[str, float]:
    """The errors a finished RNN run reports: zero-one and loss on the evaluation set."""
    eval_loss, zero_one = evaluate_rnn(model.cpu(), task, eval_set)
    return {"final_zero_one": zero_one, "final_eval_loss": eval_loss}


def rnn_curve(model: TanhRNN, task: RNNTask, curve_batch: Batch, eval_set: Batch) -> dict:
    """train_loss on the fixed training batch, the evaluation set's loss and zero-one."""
    train_loss, _ = evaluate_rnn(model, task, curve_batch)
    eval_loss, eval_zero_one = evaluate_rnn(model, task, eval_set)
    return {"train_loss": train_loss, "eval_loss": eval_loss, "eval_zero_one": eval_zero_one}


class RNNWorkload(Workload):
    """The tanh RNN on one long-range problem (``experiment=rnn data=addition|...``)."""

    task_kind = "rnn"
    final_metric = "final_zero_one"

    @property
    def task(self) -> RNNTask:
        return get_task(str(self.cfg.data.task))

    def prepare(self, loaded: Loaded | None = None) -> Prepared:
        cfg = self.cfg
        model_target = str(cfg.model.get("_target_", ""))
        schedule_target = str(cfg.schedule.get("_target_", ""))
        if "TanhRNN" not in model_target or not schedule_target.endswith(RNNSchedule.__name__):
            raise ConfigError(
                "data",
                cfg.data.name,
                "an RNN problem trains with model=rnn schedule=rnn: add experiment=rnn",
            )
        path = str(cfg.data.eval_path)
        eval_set = read_once({} if loaded is None else loaded, path, load_eval_set)
        return Prepared(cfg, eval_set, {"source": "generated"}, file_digest(path))

    def tags(self) -> dict[str, str]:
        return {**super().tags(), "seq_len": str(self.cfg.data.seq_len)}

    def label(self) -> str:
        return f"{self.cfg.data.name} T={self.cfg.data.seq_len}"

    def build(self, prepared: Prepared) -> Run:
        """The network (Table 4's init from ``seed``, output biases from a sample batch), its
        stream of fresh minibatches and the fixed batches it is measured on."""
        cfg, task = self.cfg, self.task
        torch.manual_seed(cfg.seed)
        T, batch_size = int(cfg.data.seq_len), int(cfg.trainer.batch_size)
        dtype = getattr(torch, cfg.trainer.precision)
        model = instantiate(cfg.model, seed=cfg.seed).to(dtype)
        curve_batch = task(T, 1000, training_generator(cfg.seed + CURVE_BATCH_SEED_OFFSET))
        model.init_output_bias_(curve_batch)  # Table 4: output biases = the average target
        if cfg.optimizer.get("biases_only", False):
            model.set_biases_only(True)
        eval_set = prepared.data

        def objective(batch: tuple[Tensor, ...]) -> Tensor:
            inputs, targets, mask, *rest = batch
            # summed over the minibatch, the scale of the paper's learning rates (task_loss)
            outputs = model(inputs, rest[0] if rest else None)
            return task_loss(task, outputs, targets, mask, reduction="sum")

        return Run(
            model=model,
            stream=TaskStream(task, T, batch_size, int(cfg.seed), dtype),
            objective=objective,
            curve=torch.no_grad()(lambda: rnn_curve(model, task, curve_batch, eval_set)),
            final=lambda: final_rnn_errors(model, task, eval_set),
            parameters=model.trainable_parameters,
            extra={"curve_batch": curve_batch},
        )

    def population_refusal(self) -> str | None:
        if self.cfg.model.get("implementation", "bptt") != "bptt":
            return "only the hand-written BPTT network has a population form"
        return None

    def population(self, plans: list[Any], device: torch.device) -> RNNPopulation:
        return RNNPopulation(plans, device)


class RNNPopulation:
    """Tanh RNN members: one stream of fresh minibatches per distinct seed."""

    def __init__(self, plans: Sequence[Any], device: torch.device) -> None:
        self.runs = [p.workload.build(p.prepared) for p in plans]
        self.models = [r.model for r in self.runs]
        self.eval_set = plans[0].data
        self.task = plans[0].workload.task
        self.stacked = StackedTanhRNN(self.models)
        self.device = device
        move(self.stacked.parameters(), self.models, device)
        seeds, member_seed = by_seed([int(p.cfg.seed) for p in plans])
        self.member_index = torch.tensor(member_seed, device=device)
        self.first_of_seed = [member_seed.index(i) for i in range(len(seeds))]
        self.streams = [iter(self.runs[k].stream) for k in self.first_of_seed]
        self.trainable = self.stacked.trainable
        self.snapshot_at = [None] * len(self.runs)

    def skip(self, updates: int) -> None:
        """Continue after ``updates`` updates (a population resumed from its checkpoint)."""
        for k in self.first_of_seed:
            self.runs[k].stream.skip(updates)  # type: ignore[attr-defined]
        self.streams = [iter(self.runs[k].stream) for k in self.first_of_seed]

    def next_batch(self) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """(inputs, targets, mask, valid), each (K, ...): each member's minibatch (its
        seed's). The distinct minibatches go to the device once, then are indexed there."""
        distinct = stack_batches([next(s) for s in self.streams])
        index = self.member_index
        return tuple(None if t is None else t.to(self.device)[index] for t in distinct)  # type: ignore[return-value]

    def losses(self, batch: Sequence[Tensor | None]) -> Tensor:
        inputs, targets, mask, valid = batch
        assert inputs is not None and targets is not None and mask is not None
        # the solo objective per member: summed over its minibatch (models/rnn.py task_loss)
        z = self.stacked.forward(inputs, valid, scored=mask)
        return member_losses(self.task, z, targets, mask)

    def solo_model(self, k: int) -> torch.nn.Module:
        return self.stacked.copy_member_into(k, self.models[k])

    def curve(self, k: int) -> dict[str, float] | None:
        metrics = rnn_curve(
            self.solo_model(k), self.task, self.runs[k].extra["curve_batch"], self.eval_set
        )
        if not math.isfinite(metrics["train_loss"] + metrics["eval_loss"]):
            return None
        return metrics

    def snapshot(self, k: int) -> dict[str, float]:
        return {}

    def final(self, k: int) -> dict[str, float]:
        return final_rnn_errors(self.solo_model(k), self.task, self.eval_set)


def train_rnn_steps(
    model: TanhRNN,
    task: str | RNNTask,
    T: int,
    optimizer: torch.optim.Optimizer,
    n_updates: int,
    batch_size: int,
    generator: np.random.Generator,
) -> list[float]:
    """A plain loop (no Lightning): ``n_updates`` updates, each on a fresh batch; returns the
    training loss of each update, at the point the gradient was taken (NAG: its look-ahead).

    One update: draw a batch, ``optimizer.step(closure)`` where the closure zeroes the
    gradients, computes the training objective (``task_loss``, summed over the minibatch) and
    back-propagates.
    """
    spec = get_task(task)
    dtype, device = model.weight_hh.dtype, model.weight_hh.device
    losses: list[float] = []
    for _ in range(n_updates):
        inputs, targets, mask, valid = batch_tensors(spec(T, batch_size, generator), dtype, device)

        def closure(
            inputs: Tensor = inputs,
            targets: Tensor = targets,
            mask: Tensor = mask,
            valid: Tensor | None = valid,
        ) -> Tensor:
            optimizer.zero_grad()
            loss = task_loss(spec, model(inputs, valid), targets, mask, reduction="sum")
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        losses.append(float(loss.detach()) if loss is not None else float("nan"))
    return losses
