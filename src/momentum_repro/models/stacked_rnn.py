"""K tanh RNNs as one model: the hand-written backward through time of ``models/rnn.py``,
batched over a leading member axis.

Member k computes exactly its solo ``TanhRNN`` (``implementation="bptt"``) on its own
minibatch: each step is one ``baddbmm`` + ``tanh`` for all members where the solo network
does one ``addmm`` + ``tanh``, and the backward is one ``bmm`` per step. Minibatches of
different lengths (members with different seeds) are left-padded to a common length: the
padding holds the hidden state at 0, exactly as the solo network's own left padding does.

Two forms of the same network, chosen by device (``StackedTanhRNN.forward``):
- on a CPU, ``_StackedTanhSteps``: the input projection, the recurrence and the output
  projection all step by step, so that every product reads and writes one (K, B, H) block
  that stays in cache. Whole-sequence products over (L, K, B, H) are K times a solo run's
  tensors: profiled on 2 cores they took about a third of a K = 16 update (the input
  projection alone, a batch of L K products of inner size n_in, about a twelfth).
- on a GPU, ``_StackedTanhRecurrence`` with the projections as whole-sequence products:
  few large kernels, and no host read, so that a CUDA graph can capture the update.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from momentum_repro.data.rnn_tasks import RNNTask, get_task
from momentum_repro.models.rnn import TanhRNN, steps_to_mask

PARAMETERS = ("weight_ih", "weight_hh", "bias_h", "weight_ho", "bias_o")
# The CPU form steps blocks of members whose (k, B, H) states hold at most this many numbers,
# and at least one member (8 members of the paper's 100 cases x 100 units): a step's blocks
# then stay in cache. On 2 cores (a working tree, benchmarks/population_throughput.py),
# K = 16 as one block ran at 1.64-1.70x the solo loop and K = 8 at 1.92-1.94x; in blocks of
# 8, K = 16 runs as K = 8 does.
STEP_BLOCK_NUMBERS = 80_000


class _StackedTanhRecurrence(torch.autograd.Function):
    """hs[t, k] = valid[t, k] * tanh(drive[t, k] + hs[t-1, k] @ W_hh[k]^T); (L, K, B, H).

    The GPU form (``StackedTanhRNN.forward``): the input and output projections are
    whole-sequence products around it, few large kernels, and nothing is read on the host,
    so that a CUDA graph can capture it. The backward accumulates dW_hh step by step (the
    solo network: one product over all steps; the same sum in another order).
    """

    @staticmethod
    def forward(ctx, drive: Tensor, weight_hh: Tensor, valid: Tensor | None) -> Tensor:
        # hs is written over drive, in place (a buffer the caller made for it): a baddbmm
        # into a fresh output would first copy drive[t] there, every step
        hs = drive
        w_t = weight_hh.transpose(1, 2).contiguous()  # bmm would copy a transposed batch
        for t in range(hs.shape[0]):
            out = hs[t]
            if t > 0:
                out.baddbmm_(hs[t - 1], w_t)  # h_{-1} = 0: step 0 is drive[0] alone
            out.tanh_()
            if valid is not None:
                out.mul_(valid[t])
        ctx.mark_dirty(hs)
        ctx.save_for_backward(hs, weight_hh, valid)
        return hs

    @staticmethod
    def backward(ctx, grad_hs: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        hs, weight_hh, valid = ctx.saved_tensors
        n_steps = hs.shape[0]
        grad_drive = torch.empty_like(hs)
        carry = None  # dz_{t+1} @ W_hh
        grad_weight = torch.zeros_like(weight_hh) if ctx.needs_input_grad[1] else None
        for t in range(n_steps - 1, -1, -1):
            h = hs[t]
            slope = torch.addcmul(torch.ones_like(h), h, h, value=-1.0)  # tanh' = 1 - h^2
            if valid is not None:
                slope.mul_(valid[t])
            dz = grad_drive[t]
            if carry is None:
                torch.mul(grad_hs[t], slope, out=dz)
            else:
                torch.add(grad_hs[t], carry, out=dz).mul_(slope)
            if t > 0:
                carry = torch.bmm(dz, weight_hh, out=carry)
                if grad_weight is not None:
                    grad_weight.baddbmm_(dz.transpose(1, 2), hs[t - 1])
        return grad_drive, grad_weight, None


class _StackedTanhSteps(torch.autograd.Function):
    """The whole network, step by step: hs[t] = valid[t] * tanh(x[t] W_ih^T + b_h +
    hs[t-1] W_hh^T), z[t] = hs[t] W_ho^T + b_o; time-major x (L, K, B, n_in) -> z (L, K, B,
    n_out). The backward keeps one (K, B, H) block per step: dL/dh_t = dL/dz_t W_ho + carry,
    dz_t = dL/dh_t (1 - h_t^2) valid_t, carry = dz_t W_hh, and every weight's gradient is
    summed over the steps as it goes (the solo network: one product over all steps; the same
    sums in another order).

    ``outputs`` (L bools, or None: every step): the steps whose output is computed; z is 0
    at the others, and the backward skips their output products. The paper's tasks score
    the last step or the last few (the addition's loss reads 1 step of 80): the output
    products of the others, of inner or outer size n_out, took about a tenth of an update.
    """

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        weight_ih: Tensor,
        bias_h: Tensor,
        weight_hh: Tensor,
        weight_ho: Tensor,
        bias_o: Tensor,
        valid: Tensor | None,
        outputs: Sequence[bool] | None = None,
    ) -> Tensor:
        n_steps, size, batch, _ = x.shape
        hidden, n_out = weight_hh.shape[1], weight_ho.shape[1]
        hs = x.new_empty(n_steps, size, batch, hidden)
        z = (
            x.new_empty(n_steps, size, batch, n_out)
            if outputs is None
            else x.new_zeros(n_steps, size, batch, n_out)
        )
        # the input's projection and the hidden bias as one product: x with a column of ones
        # times [W_ih^T; b_h] (a product into a block needs no copy of a bias into it first)
        x = torch.cat([x, x.new_ones(n_steps, size, batch, 1)], dim=3)
        w_in = torch.cat([weight_ih.transpose(1, 2), bias_h.unsqueeze(1)], dim=1)
        # bmm would copy a transposed batch at every step
        w_hh, w_ho = (w.transpose(1, 2).contiguous() for w in (weight_hh, weight_ho))
        b_o = bias_o.unsqueeze(1)
        n_padded = steps_to_mask(valid)
        xs, outs, zs = x.unbind(0), hs.unbind(0), z.unbind(0)  # the steps' views, made once
        for t in range(n_steps):
            out = outs[t]
            torch.bmm(xs[t], w_in, out=out)
            if t > 0:
                out.baddbmm_(outs[t - 1], w_hh)  # h_{-1} = 0
            out.tanh_()
            if t < n_padded:
                out.mul_(valid[t])
            if outputs is None or outputs[t]:
                torch.baddbmm(b_o, out, w_ho, out=zs[t])
        ctx.n_padded, ctx.outputs = n_padded, outputs
        ctx.save_for_backward(x, hs, weight_ih, weight_hh, weight_ho, valid)
        return z

    @staticmethod
    def backward(ctx, grad_z: Tensor) -> tuple[Tensor | None, ...]:
        x, hs, weight_ih, weight_hh, weight_ho, valid = ctx.saved_tensors
        n_steps, size, _, hidden = hs.shape
        # W_ih's and W_hh's gradients are summed transposed, (K, in, out): h^T dz reads both
        # operands along their rows, about twice as fast here as dz^T h
        grad_in = x.new_zeros(size, x.shape[3], hidden)  # [W_ih^T; b_h]
        grad_hh_t = torch.zeros_like(weight_hh)
        grad_ho = torch.zeros_like(weight_ho)
        dz, carry, slope = (torch.empty_like(hs[0]) for _ in range(3))
        one = hs.new_ones(())
        # the inputs' gradient, dz_t W_ih, only where asked for (a minibatch needs none)
        grad_x = torch.empty_like(x[..., :-1]) if ctx.needs_input_grad[0] else None
        xs, outs, grads = x.unbind(0), hs.unbind(0), grad_z.unbind(0)
        outputs = ctx.outputs
        for t in range(n_steps - 1, -1, -1):
            h, g = outs[t], grads[t]
            scored = outputs is None or outputs[t]
            if not scored:  # z_t is 0: dL/dh_t is the carry alone
                if t == n_steps - 1:
                    dz.zero_()
                else:
                    dz, carry = carry, dz
            elif t == n_steps - 1:
                torch.bmm(g, weight_ho, out=dz)
            else:
                torch.baddbmm(carry, g, weight_ho, out=dz)  # dL/dh_t
            # times tanh' = 1 - h^2, formed first as the solo network does: dz - dz h^2
            # would lose digits where a unit saturates (h^2 near 1)
            torch.addcmul(one, h, h, value=-1.0, out=slope)
            dz.mul_(slope)
            if t < ctx.n_padded:
                dz.mul_(valid[t])
            if scored:
                grad_ho.baddbmm_(g.transpose(1, 2), h)
            grad_in.baddbmm_(xs[t].transpose(1, 2), dz)
            if grad_x is not None:
                torch.bmm(dz, weight_ih, out=grad_x[t])
            if t > 0:
                grad_hh_t.baddbmm_(outs[t - 1].transpose(1, 2), dz)
                torch.bmm(dz, weight_hh, out=carry)
        return (
            grad_x,
            grad_in[:, :-1].transpose(1, 2).contiguous(),
            grad_in[:, -1].contiguous(),
            grad_hh_t.transpose(1, 2).contiguous(),
            grad_ho,
            (
                grad_z if outputs is None else grad_z[torch.tensor(outputs, device=grad_z.device)]
            ).sum(dim=(0, 2)),
            None,
            None,
        )


def _time_major_mask(valid: Tensor, dtype: torch.dtype) -> Tensor:
    """A (K, B, L) bool mask of real steps as (L, K, B, 1) numbers, to scale states by."""
    return valid.permute(2, 0, 1).to(dtype).unsqueeze(-1).contiguous()


class StackedTanhRNN:
    """The members' parameters as leaf tensors with a leading member axis (``PARAMETERS``)."""

    def __init__(self, members: Sequence[TanhRNN]) -> None:
        first = members[0]
        shapes = [tuple(p.shape) for p in first.parameters()]
        for model in members:
            if [
                tuple(p.shape) for p in model.parameters()
            ] != shapes or model.output != first.output:
                raise ValueError("StackedTanhRNN: members must share sizes and output kind")
            if model.implementation != "bptt":
                raise ValueError("StackedTanhRNN: members must use implementation='bptt'")
        self.output = first.output
        with torch.no_grad():
            self.tensors = {
                name: torch.stack([getattr(m, name) for m in members]).requires_grad_()
                for name in PARAMETERS
            }
        # which member trains which parameter: the "biases" baseline trains only bias_o
        self.trainable = [
            torch.tensor([getattr(m, name).requires_grad for m in members]) for name in PARAMETERS
        ]

    @property
    def size(self) -> int:
        return self.tensors["weight_hh"].shape[0]

    def parameters(self) -> list[Tensor]:
        return [self.tensors[name] for name in PARAMETERS]

    def forward(
        self,
        inputs: Tensor,
        valid: Tensor | None = None,
        step_by_step: bool | None = None,
        scored: Tensor | None = None,
    ) -> Tensor:
        """Output pre-activations (K, batch, length, n_out) for inputs (K, batch, length, n_in).

        ``valid`` (K, batch, length) bool marks the real steps; None: all are real.
        ``step_by_step``: the CPU form (module docstring); None: on a CPU only. The CPU
        form reads the padding on the host, so a CUDA graph cannot capture it.
        ``scored`` (K, batch, length) bool: the outputs a loss reads (a task's mask). The
        CPU form then computes the output only at steps some member's case scores, and
        gives 0 at the others; None: every step's output."""
        p = self.tensors
        if step_by_step is None:
            step_by_step = inputs.device.type == "cpu"
        if step_by_step:
            size, batch, hidden = inputs.shape[0], inputs.shape[1], p["weight_hh"].shape[1]
            block = max(1, STEP_BLOCK_NUMBERS // (batch * hidden))
            whole = block >= size  # one block: the parameters themselves, not slices
            names = ("weight_ih", "bias_h", "weight_hh", "weight_ho", "bias_o")
            parts = []
            for start in range(0, size, block):
                members = slice(start, start + block)
                x = inputs[members].permute(2, 0, 1, 3).contiguous()  # time-major (L, k, B, n_in)
                v = None if valid is None else _time_major_mask(valid[members], x.dtype)
                weights = (p[n] if whole else p[n][members] for n in names)
                outputs = None if scored is None else scored[members].any(dim=(0, 1)).tolist()
                parts.append(_StackedTanhSteps.apply(x, *weights, v, outputs))
            z = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            return z.permute(1, 2, 0, 3)  # (K, B, L, n_out)
        x = inputs.permute(2, 0, 1, 3)  # time-major (L, K, B, n_in): few inputs, a small copy
        # the input projection of every step: one product per member, broadcast over time
        drive = torch.matmul(x, p["weight_ih"].transpose(1, 2)) + p["bias_h"].unsqueeze(1)
        v = None if valid is None else _time_major_mask(valid, drive.dtype)
        hs = _StackedTanhRecurrence.apply(drive, p["weight_hh"], v)
        z = torch.matmul(hs, p["weight_ho"].transpose(1, 2)) + p["bias_o"].unsqueeze(1)
        return z.permute(1, 2, 0, 3)  # (K, B, L, n_out)

    @torch.no_grad()
    def copy_member_into(self, k: int, model: TanhRNN) -> TanhRNN:
        """Member ``k``'s parameters written into a solo network (to evaluate or save it)."""
        for name in PARAMETERS:
            getattr(model, name).copy_(self.tensors[name][k])
        return model


def stack_batches(
    batches: Sequence[tuple[Tensor, ...]],
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Members' minibatches (inputs, targets, mask[, valid]) as (K, ...) tensors, left-padded
    to the longest; valid is None when no member's batch has padding."""
    length = max(b[0].shape[1] for b in batches)
    any_padding = any(len(b) > 3 or b[0].shape[1] < length for b in batches)
    inputs, targets, masks, valids = [], [], [], []
    for batch in batches:
        x, y, m, *rest = batch
        pad = length - x.shape[1]
        valid = rest[0] if rest else torch.ones(m.shape, dtype=torch.bool)
        if pad:
            x = torch.cat([x.new_zeros(x.shape[0], pad, x.shape[2]), x], dim=1)
            y = torch.cat([y.new_zeros(y.shape[0], pad, *y.shape[2:]), y], dim=1)
            m = torch.cat([m.new_zeros(m.shape[0], pad), m], dim=1)
            valid = torch.cat([valid.new_zeros(valid.shape[0], pad), valid], dim=1)
        inputs.append(x)
        targets.append(y)
        masks.append(m)
        valids.append(valid)
    stacked_valid = torch.stack(valids) if any_padding else None
    return torch.stack(inputs), torch.stack(targets), torch.stack(masks), stacked_valid


def member_losses(task: str | RNNTask, z: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Each member's training objective (K,): ``models.rnn.task_loss(..., reduction="sum")``
    of its slice, for all members at once. z (K, batch, length, n_out); targets, mask
    (K, batch, length). Steps outside the mask (padding, free-running steps) never count."""
    spec = get_task(task)
    if spec.output == "linear":
        per_step = 0.5 * (z[..., 0] - targets).pow(2)
    elif spec.output == "logistic":
        per_step = F.binary_cross_entropy_with_logits(
            z[..., 0], targets.to(z.dtype), reduction="none"
        )
    else:
        classes = torch.where(mask, targets, torch.zeros_like(targets))
        per_step = F.cross_entropy(
            z.reshape(-1, z.shape[-1]), classes.reshape(-1), reduction="none"
        ).view(mask.shape)
    per_step = torch.where(mask, per_step, torch.zeros((), dtype=z.dtype, device=z.device))
    steps = mask.sum(dim=2).clamp(min=1).to(z.dtype)
    return (per_step.sum(dim=2) / steps).sum(dim=1)  # a sequence: its mean; the batch: summed
