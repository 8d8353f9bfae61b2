"""The tanh RNN of Martens & Sutskever (2011) as initialized in Sutskever et al. (2013), Table 4.

h_t = tanh(W_ih x_t + W_hh h_{t-1} + b_h), h_{-1} = 0;  z_t = W_ho h_t + b_o  (the output
pre-activations: linear, logistic or softmax output per task). Over the left padding of a
batch (see ``momentum_repro.data.rnn_tasks``) the hidden state is held at 0, so a padded
sequence behaves exactly like the unpadded one.

Speed on a CPU. The recurrence runs in a ``torch.autograd.Function`` with a hand-written
backward through time (``implementation="bptt"``, the default): the input projection for all
steps is one matrix product, each step is one ``addmm`` + ``tanh`` into a preallocated
buffer, and the backward is one ``mm`` per step plus one matrix product for dW_hh over all
steps. ``implementation="loop"`` is the same recurrence written for autograd (the reference the
tests compare against). In float32 the backward gradients of a barely-driven network decay
into denormal numbers, several times slower on x86 CPUs: every run flushes them
(``momentum_repro.runtime``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from momentum_repro.data.rnn_tasks import Batch, RNNTask, get_task
from momentum_repro.models.init import echo_state_init_

Implementation = Literal["bptt", "loop"]
Reduction = Literal["sum", "mean"]
OUTPUT_KINDS = ("linear", "logistic", "softmax")


def steps_to_mask(valid: Tensor | None) -> int:
    """How many leading steps of a time-major ``valid`` mask (L, ...) hold padding: only
    those need the mask (left padding: few, usually none). Reads the mask on the host."""
    if valid is None:
        return 0
    padded = (valid.reshape(valid.shape[0], -1) == 0).any(dim=1).nonzero()
    return int(padded[-1]) + 1 if len(padded) else 0


class _TanhRecurrence(torch.autograd.Function):
    """hs[t] = valid[t] * tanh(drive[t] + hs[t-1] @ W_hh^T), hs[-1] = 0; time-major (L, B, H).

    Backward through time by hand: with g_t = dLoss/dh_t (from the outputs) + carry,
    dz_t = g_t * (1 - h_t^2) * valid_t, carry = dz_t @ W_hh; dW_hh = sum_t dz_t^T h_{t-1}.
    """

    @staticmethod
    def forward(ctx, drive: Tensor, weight_hh: Tensor, valid: Tensor | None) -> Tensor:
        n_steps, batch, hidden = drive.shape
        n_padded = steps_to_mask(valid)
        hs = torch.empty_like(drive)
        w_t = weight_hh.t()
        h = drive.new_zeros(batch, hidden)
        for t in range(n_steps):
            out = hs[t]
            torch.addmm(drive[t], h, w_t, out=out)
            out.tanh_()
            if t < n_padded:
                out.mul_(valid[t])
            h = out
        ctx.save_for_backward(hs, weight_hh, valid)
        return hs

    @staticmethod
    def backward(ctx, grad_hs: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        hs, weight_hh, valid = ctx.saved_tensors
        n_steps, batch, hidden = hs.shape
        slope = 1.0 - hs * hs  # tanh'(z_t), all steps at once
        if valid is not None:
            slope.mul_(valid)
        grad_drive = grad_hs * slope  # the outputs' share of dz_t, all steps at once
        carry = hs.new_zeros(batch, hidden)
        for t in range(n_steps - 1, 0, -1):
            dz = grad_drive[t]
            if t < n_steps - 1:
                dz.addcmul_(carry, slope[t])  # dz_t = (dLoss/dh_t + dz_{t+1} W_hh) * slope_t
            torch.mm(dz, weight_hh, out=carry)
        if n_steps > 1:
            grad_drive[0].addcmul_(carry, slope[0])
        grad_weight = None
        if ctx.needs_input_grad[1]:
            grad_weight = grad_drive[1:].reshape(-1, hidden).t() @ hs[:-1].reshape(-1, hidden)
        return grad_drive, grad_weight, None


def _loop_recurrence(drive: Tensor, weight_hh: Tensor, valid: Tensor | None) -> Tensor:
    """The same recurrence through autograd (``unbind`` keeps the backward linear in T)."""
    h = drive.new_zeros(drive.shape[1:])
    steps = drive.unbind(0)
    masks = valid.unbind(0) if valid is not None else [None] * len(steps)
    hs = []
    for d_t, v_t in zip(steps, masks, strict=True):
        h = torch.tanh(d_t + h @ weight_hh.t())
        if v_t is not None:
            h = h * v_t
        hs.append(h)
    return torch.stack(hs)


class TanhRNN(nn.Module):
    """100 tanh hidden units and one output layer (Sutskever et al. 2013, section 4, Table 4).

    Init: W_ih dense ``input_scale`` N(0, 1) (0.001 add/mul, 0.1 mem); W_hh ``fan_in`` = 15
    incoming connections per unit scaled to spectral radius 1.1; W_ho dense 0.1 N(0, 1);
    b_h = 0; b_o = 0 until ``init_output_bias_`` sets it from a sample batch.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        n_hidden: int = 100,
        output: str = "linear",
        input_scale: float = 0.001,
        fan_in: int = 15,
        spectral_radius: float = 1.1,
        output_scale: float = 0.1,
        seed: int | None = None,
        implementation: Implementation = "bptt",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if output not in OUTPUT_KINDS:
            raise ValueError(f"TanhRNN: output must be one of {OUTPUT_KINDS}, got {output!r}")
        if implementation not in ("bptt", "loop"):
            raise ValueError(
                f"TanhRNN: implementation must be 'bptt' or 'loop', got {implementation!r}"
            )
        if output == "logistic" and n_outputs != 1:
            raise ValueError(f"TanhRNN: a logistic output has 1 unit, got n_outputs={n_outputs}")
        for name, value in (("input_scale", input_scale), ("output_scale", output_scale)):
            if not value > 0.0:
                raise ValueError(f"TanhRNN: {name} must be > 0, got {value}")
        self.output = output
        self.implementation = implementation
        factory = {"dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(n_hidden, n_inputs, **factory))
        self.weight_hh = nn.Parameter(torch.empty(n_hidden, n_hidden, **factory))
        self.bias_h = nn.Parameter(torch.zeros(n_hidden, **factory))
        self.weight_ho = nn.Parameter(torch.empty(n_outputs, n_hidden, **factory))
        self.bias_o = nn.Parameter(torch.zeros(n_outputs, **factory))
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            w = torch.randn(n_hidden, n_inputs, generator=generator, dtype=torch.float64)
            self.weight_ih.copy_(w * input_scale)
            echo_state_init_(self.weight_hh, fan_in, spectral_radius, generator)
            w = torch.randn(n_outputs, n_hidden, generator=generator, dtype=torch.float64)
            self.weight_ho.copy_(w * output_scale)

    @classmethod
    def for_task(cls, task: str | RNNTask, **kwargs: object) -> TanhRNN:
        """The network for a registered task: its sizes, output kind and Table 4 input scale."""
        spec = get_task(task)
        kwargs.setdefault("input_scale", spec.input_scale)
        return cls(spec.n_inputs, spec.n_outputs, output=spec.output, **kwargs)  # type: ignore[arg-type]

    @property
    def n_hidden(self) -> int:
        return self.weight_hh.shape[0]

    def hidden_states(self, inputs: Tensor, valid: Tensor | None = None) -> Tensor:
        """Hidden states, time-major (length, batch, hidden), for batch-first ``inputs``."""
        if inputs.dim() != 3 or inputs.shape[-1] != self.weight_ih.shape[1]:
            raise ValueError(
                f"TanhRNN: inputs must be (batch, length, {self.weight_ih.shape[1]}), "
                f"got {tuple(inputs.shape)}"
            )
        x = inputs.transpose(0, 1)  # time-major: each step's block is contiguous below
        drive = torch.addmm(self.bias_h, x.reshape(-1, x.shape[-1]), self.weight_ih.t())
        drive = drive.view(x.shape[0], x.shape[1], -1)
        v = None
        if valid is not None:
            v = valid.transpose(0, 1).to(drive.dtype).unsqueeze(-1).contiguous()
        if self.implementation == "bptt":
            return _TanhRecurrence.apply(drive, self.weight_hh, v)
        return _loop_recurrence(drive, self.weight_hh, v)

    def forward(self, inputs: Tensor, valid: Tensor | None = None) -> Tensor:
        """Output pre-activations (batch, length, n_outputs) for inputs (batch, length, n_in).

        ``valid`` (batch, length) bool marks the real steps; None: all steps are real.
        """
        hs = self.hidden_states(inputs, valid)
        z = torch.addmm(self.bias_o, hs.reshape(-1, hs.shape[-1]), self.weight_ho.t())
        return z.view(hs.shape[0], hs.shape[1], -1).transpose(0, 1)

    @torch.no_grad()
    def init_output_bias_(self, batch: Batch) -> TanhRNN:
        """Output bias = the average target of a sample batch (Table 4), as the output's value.

        Linear: the mean target; logistic: logit of the mean; softmax: log class frequencies,
        so that with zero hidden-to-output weights the output would be the targets' average.
        """
        targets = np.asarray(batch.targets)[np.asarray(batch.mask)]
        if targets.size == 0:
            raise ValueError("TanhRNN.init_output_bias_: the batch has no target steps")
        if self.output == "linear":
            bias = np.array([targets.astype(np.float64).mean()])
        elif self.output == "logistic":
            p = np.clip(targets.astype(np.float64).mean(), 1e-6, 1 - 1e-6)
            bias = np.array([np.log(p / (1 - p))])
        else:
            counts = np.bincount(targets.astype(np.int64), minlength=self.bias_o.numel())
            bias = np.log(np.maximum(counts / counts.sum(), 1e-6))
        self.bias_o.copy_(torch.as_tensor(bias, dtype=self.bias_o.dtype))
        return self

    def set_biases_only(self, enabled: bool = True) -> TanhRNN:
        """The paper's "biases" baseline: only the output biases are trained."""
        for name, p in self.named_parameters():
            p.requires_grad_(name == "bias_o" or not enabled)
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters with ``requires_grad`` (hand these to the optimizer)."""
        return [p for p in self.parameters() if p.requires_grad]


def batch_tensors(
    batch: Batch, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """(inputs, targets, mask, valid) as tensors; valid is None when no step is padding."""
    inputs = torch.as_tensor(batch.inputs, dtype=dtype, device=device)
    target_dtype = dtype if np.issubdtype(batch.targets.dtype, np.floating) else torch.long
    targets = torch.as_tensor(batch.targets, dtype=target_dtype, device=device)
    mask = torch.as_tensor(batch.mask, device=device)
    valid_np = batch.valid
    valid = None if valid_np.all() else torch.as_tensor(valid_np, device=device)
    return inputs, targets, mask, valid


def task_loss(
    task: str | RNNTask,
    outputs: Tensor,
    targets: Tensor,
    mask: Tensor,
    reduction: Reduction = "mean",
) -> Tensor:
    """The RNN objective (section 4) on output pre-activations ``outputs`` (batch, length, n_out).

    Per target step: 1/2 (z - y)^2 for linear outputs, binary or softmax cross-entropy
    otherwise, as in Sutskever's released HF-RNN code (``opt/utils/nonlin.py``: ``Lin.loss``
    is 0.5 sum (O - XP)^2 M). A sequence's loss is the average over its target steps (that
    code's HF driver divides by the number of target outputs, ``HF._op``), so a problem with a
    target at every step (memorization) is on the scale of one with a single target (add).

    ``reduction="sum"``: summed over the sequences of the minibatch, as that code's
    ``RNN.loss`` and ``RNN.grad`` sum over the batch. This is the training objective: the
    paper's RNN learning rates {1e-3, 1e-4, 1e-5, 1e-6} are on its scale (a mean over the 100
    sequences would need learning rates 100 times larger; measured in tools/rnn_lr_scale.py).
    ``"mean"``: averaged over sequences, the reported ``train_loss`` / ``eval_loss``.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"task_loss: reduction must be 'sum' or 'mean', got {reduction!r}")
    spec = get_task(task)
    z = outputs[mask]  # only the target steps: padding and free-running steps never count
    y = targets[mask]
    if spec.output == "linear":
        per_target = 0.5 * (z[:, 0] - y).pow(2)
    elif spec.output == "logistic":
        per_target = F.binary_cross_entropy_with_logits(z[:, 0], y.to(z.dtype), reduction="none")
    else:
        per_target = F.cross_entropy(z, y, reduction="none")
    sequence = mask.nonzero()[:, 0]  # the sequence of each target step, in mask order
    summed = per_target.new_zeros(outputs.shape[0]).index_add(0, sequence, per_target)
    steps = mask.sum(dim=1).clamp(min=1).to(summed.dtype)
    total = (summed / steps).sum()
    return total if reduction == "sum" else total / outputs.shape[0]


@torch.no_grad()
def task_zero_one(task: str | RNNTask, outputs: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """The task's zero-one loss on output pre-activations (a 0-d tensor).

    A target step is wrong when: linear, |z - y| > 0.04; logistic, (z > 0) != y; softmax,
    argmax z != y. "fraction_wrong" tasks return wrong steps / target steps (one target per
    sequence: the fraction of wrong cases). "wrong_per_sequence" (memorization) returns the
    wrongly recalled symbols per sequence: only the k recall steps count, and the prediction
    is the most likely data symbol (blank, the last class, is not a candidate), so chance
    level is the paper's "biases" column: 2.5 of 5 bits (mem-5), 8 of 10 symbols (mem-20).
    A step whose output is NaN (a diverged network) is wrong.
    """
    spec = get_task(task)
    z = outputs[mask]
    y = targets[mask]
    nan = z.isnan().any(dim=1)  # a NaN output is a wrong answer, never a right one
    if spec.zero_one == "wrong_per_sequence":
        blank = spec.n_outputs - 1
        recall = y != blank
        wrong = (z[recall][:, :blank].argmax(dim=1) != y[recall]) | nan[recall]
        return wrong.sum(dtype=torch.float64) / outputs.shape[0]
    if spec.output == "linear":
        wrong = ~((z[:, 0] - y).abs() <= spec.tolerance)
    elif spec.output == "logistic":
        wrong = ((z[:, 0] > 0) != (y > 0.5)) | nan
    else:
        wrong = (z.argmax(dim=1) != y) | nan
    return wrong.sum(dtype=torch.float64) / max(int(mask.sum()), 1)


@torch.no_grad()
def evaluate_rnn(
    model: TanhRNN, task: str | RNNTask, batch: Batch, chunk_size: int = 1000
) -> tuple[float, float]:
    """(loss, zero-one) of ``model`` on a (large) batch, e.g. a ``make_eval_set`` result.

    Evaluated in chunks of sequences to bound memory; both numbers are exact averages over
    the whole batch.
    """
    spec = get_task(task)
    dtype, device = model.weight_hh.dtype, model.weight_hh.device
    inputs, targets, mask, valid = batch_tensors(batch, dtype, device)
    n = inputs.shape[0]
    loss_sum = wrong_sum = 0.0
    n_target_steps = int(mask.sum())
    for start in range(0, n, chunk_size):
        part = slice(start, start + chunk_size)
        m = mask[part]
        z = model(inputs[part], None if valid is None else valid[part])
        size = z.shape[0]
        loss_sum += float(task_loss(spec, z, targets[part], m)) * size
        zo = float(task_zero_one(spec, z, targets[part], m))
        wrong_sum += zo * (size if spec.zero_one == "wrong_per_sequence" else int(m.sum()))
    denominator = n if spec.zero_one == "wrong_per_sequence" else max(n_target_steps, 1)
    return loss_sum / n, wrong_sum / denominator


__all__ = [
    "TanhRNN",
    "batch_tensors",
    "evaluate_rnn",
    "task_loss",
    "task_zero_one",
]
