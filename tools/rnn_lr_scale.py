"""Which learning rates suit the RNN objective? A short NAG sweep over the paper's grid.

    python tools/rnn_lr_scale.py --tasks addition mem5 --T 30 --updates 2000

The quick profile's protocol (section 4, shortened): minibatches of 100 fresh sequences,
mu 0.9 for the first ``--warmup`` updates then ``--mu0``, Table 4's initialization, the
training objective summed over the minibatch (``task_loss(..., reduction="sum")``). Prints, per
task and lr, the evaluation loss per sequence and the zero-one loss after training, so that
one can see whether the best lr lies inside the paper's grid {1e-3, 1e-4, 1e-5, 1e-6}.
A plain loop (no Lightning, no MLflow): the same model, optimizer and schedule objects.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from momentum_repro.data.rnn_tasks import get_task, make_eval_set, training_generator
from momentum_repro.models.rnn import TanhRNN, evaluate_rnn
from momentum_repro.optim import Nesterov, rnn_momentum_schedule
from momentum_repro.runtime import flush_denormals
from momentum_repro.workloads.rnn import train_rnn_steps

PAPER_GRID = (1e-3, 1e-4, 1e-5, 1e-6)


def run(task: str, lr: float, args: argparse.Namespace) -> tuple[float, float, float]:
    """(eval loss per sequence, eval zero-one, seconds) of one NAG run."""
    torch.manual_seed(args.seed)
    spec = get_task(task)
    model = TanhRNN.for_task(spec, seed=args.seed)
    model.init_output_bias_(spec(args.T, 1000, training_generator(args.seed + 10_000)))
    mu = partial(rnn_momentum_schedule, mu_0=args.mu0, warmup_updates=args.warmup)
    optimizer = Nesterov(model.trainable_parameters(), lr=lr, momentum=mu)
    start = time.perf_counter()
    losses = train_rnn_steps(
        model, spec, args.T, optimizer, args.updates, 100, training_generator(args.seed)
    )
    seconds = time.perf_counter() - start
    if not all(torch.isfinite(torch.tensor(losses))):
        return float("nan"), float("nan"), seconds
    loss, zero_one = evaluate_rnn(model, spec, make_eval_set(spec, args.T, args.n_eval, 4242))
    return loss, zero_one, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["addition", "mem5"])
    parser.add_argument("--lrs", nargs="+", type=float, default=list(PAPER_GRID))
    parser.add_argument("--T", type=int, default=30)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--mu0", type=float, default=0.9)
    parser.add_argument("--n-eval", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    flush_denormals(True)
    print(f"NAG, T={args.T}, {args.updates} updates, mu 0.9 for {args.warmup} then {args.mu0}")
    print("task            lr       eval loss/seq  zero-one  seconds")
    for task in args.tasks:
        for lr in args.lrs:
            loss, zero_one, seconds = run(task, lr, args)
            print(f"{task:15s} {lr:<8g} {loss:13.4g}  {zero_one:8.4g}  {seconds:7.1f}")


if __name__ == "__main__":
    main()
