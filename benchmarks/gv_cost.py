"""Cost of one Gauss-Newton product Gv relative to one gradient, for the paper's autoencoders.

For each autoencoder (Table 6) on ``--batch`` random inputs, times:

- ``grad``: forward pass, objective, backward pass (one gradient evaluation);
- ``Gv (in CG)``: one product with a ``GaussNewtonOperator`` already built, what each CG
  iteration pays (the forward pass and backward graph are shared by all of an update's products);
- ``Gv (one-shot)``: ``gauss_newton_product``, building the operator for a single product.

Prints the medians and their ratios to ``grad``. Not a test: timings depend on the machine.

    .venv/bin/python benchmarks/gv_cost.py [--batch 1000] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.optim.hessian_free import GaussNewtonOperator, gauss_newton_product

AUTOENCODERS = {
    "curves": ([784, 400, 200, 100, 50, 25, 6], "logistic"),
    "mnist": ([784, 1000, 500, 250, 30], "logistic"),
    "faces": ([625, 2000, 1000, 500, 30], "linear"),
}


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sets", nargs="*", default=list(AUTOENCODERS))
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, batch {args.batch}, threads {torch.get_num_threads()}")
    print(
        f"{'set':8} {'params':>10} {'grad ms':>9} {'Gv(CG) ms':>10} {'ratio':>6} "
        f"{'Gv(1-shot) ms':>14} {'ratio':>6}"
    )
    for name in args.sets:
        sizes, output = AUTOENCODERS[name]
        model = DeepAutoencoder(sizes, output=output, seed=0).to(device)
        x = torch.rand(args.batch, sizes[0], device=device)
        v = torch.randn(sum(p.numel() for p in model.parameters()), device=device)

        def gradient(model: nn.Module = model, x: torch.Tensor = x) -> None:
            model.zero_grad(set_to_none=False)
            model.objective(model(x), x).backward()

        op = GaussNewtonOperator(model, x, x, model.loss_name)
        t_grad = median_seconds(gradient, args.repeats, device)
        t_cg = median_seconds(lambda op=op, v=v: op(v), args.repeats, device)
        t_one = median_seconds(
            lambda m=model, x=x, v=v: gauss_newton_product(m, x, x, v, m.loss_name),
            args.repeats,
            device,
        )
        print(
            f"{name:8} {v.numel():>10,} {1e3 * t_grad:>9.1f} {1e3 * t_cg:>10.1f} "
            f"{t_cg / t_grad:>6.2f} {1e3 * t_one:>14.1f} {t_one / t_grad:>6.2f}"
        )


if __name__ == "__main__":
    main()
