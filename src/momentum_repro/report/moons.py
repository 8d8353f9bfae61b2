"""The worked example's runs (two moons, experiment=moons) as the report shows them: pure
functions on run records (no MLflow here), beside the exercise's published outcome."""

from __future__ import annotations

from dataclasses import dataclass

from momentum_repro.report.runs import FINISHED, RunRecord

TASK_KIND = "moons"
CURVE_METRIC = "train_cost"
FINAL_METRIC = "final_train_accuracy"
# The published exercise at 10,000 epochs, lr 0.0007 (the study notes' worked example):
# "about 80%" for gradient descent and for momentum, "about 94%" for Adam.
PUBLISHED_ACCURACY = {"sgd": 0.80, "ema_momentum": 0.80, "adam": 0.94}
PUBLISHED_EPOCHS = 10_000
METHOD_LABELS = {"sgd": "GD", "ema_momentum": "EMA momentum", "adam": "Adam"}
METHOD_ORDER = ("sgd", "ema_momentum", "adam")


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def moons_runs(records: list[RunRecord]) -> list[RunRecord]:
    """The two-moons job runs, in the order GD, EMA momentum, Adam, then any other method."""
    runs = [r for r in records if r.task_kind == TASK_KIND]
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(runs, key=lambda r: (order.get(r.method, len(order)), r.method, r.start_time))


def shown_runs(records: list[RunRecord]) -> dict[str, RunRecord]:
    """One finished run per method for the figures: the newest (lowest seed first when a
    method has several runs of the same time, which a re-run sweep never has)."""
    shown: dict[str, RunRecord] = {}
    for r in moons_runs(records):
        if r.outcome == FINISHED and r.final(FINAL_METRIC) is not None:
            old = shown.get(r.method)
            if old is None or r.start_time > old.start_time:
                shown[r.method] = r
    return shown


@dataclass(frozen=True)
class AccuracyRow:
    """One run's final training accuracy beside the published one (None: not published)."""

    method: str
    lr: float | None
    seed: int | None
    epochs: int | None
    outcome: str
    ours: float | None
    published: float | None

    def cells(self) -> list[str]:
        pct = lambda x: "—" if x is None else f"{100 * x:.1f}%"  # noqa: E731
        ours = pct(self.ours) if self.outcome == FINISHED else self.outcome
        published = "—" if self.published is None else f"about {100 * self.published:.0f}%"
        return [
            method_label(self.method),
            "—" if self.lr is None else f"{self.lr:g}",
            "—" if self.seed is None else str(self.seed),
            "—" if self.epochs is None else f"{self.epochs:,}",
            ours,
            published,
        ]


ACCURACY_COLUMNS = ["method", "lr", "seed", "epochs", "training accuracy", "published"]


def accuracy_rows(records: list[RunRecord]) -> list[AccuracyRow]:
    """Every two-moons run's final training accuracy; the published value only for runs of
    the exercise's length (10,000 epochs), where it applies."""
    return [
        AccuracyRow(
            r.method,
            r.lr,
            r.seed,
            r.epochs,
            r.outcome,
            r.final(FINAL_METRIC),
            PUBLISHED_ACCURACY.get(r.method) if r.epochs == PUBLISHED_EPOCHS else None,
        )
        for r in moons_runs(records)
    ]


def updates_per_epoch(r: RunRecord) -> float | None:
    """Updates in one epoch of a run (its curves are logged by update)."""
    if not r.epochs or not r.total_updates:
        return None
    return r.total_updates / r.epochs


HEADING = "The worked example: two moons, GD vs EMA momentum vs Adam"


def paragraphs(shown: dict[str, RunRecord]) -> list[str]:
    """What was run, our accuracies beside the published outcome, and why the two momentum
    forms differ only in the learning rate's scale."""
    ours = [
        f"{method_label(m)} {100 * acc:.1f}%"
        for m, r in shown.items()
        if (acc := r.final(FINAL_METRIC)) is not None
    ]
    epochs = " / ".join(f"{e:,}" for e in sorted({r.epochs for r in shown.values() if r.epochs}))
    lrs = " / ".join(f"{lr:g}" for lr in sorted({r.lr for r in shown.values() if r.lr}))
    ema = shown.get("ema_momentum")
    beta = ema.mu_max if ema is not None and ema.mu_max is not None else 0.9
    ema_lr = ema.lr if ema is not None and ema.lr is not None else 0.0007
    return [
        "The study notes' worked example: a [2, 5, 2, 1] network (ReLU, ReLU, sigmoid; He "
        "initialization) on 300 two-moons points (noise 0.2), minibatches of 64 reshuffled "
        f"every epoch, cross-entropy, learning rate {lrs or '?'}, trained with plain minibatch "
        "gradient descent, momentum as an exponential moving average (v = beta v + "
        f"(1 - beta) g, theta = theta - lr v, beta {beta:g}) and Adam (0.9, 0.999, 1e-8).",
        f"Training accuracy after {epochs or '?'} epochs: {', '.join(ours) or 'no finished run'}. "
        f"Published outcome of the exercise at {PUBLISHED_EPOCHS:,} epochs (lr 0.0007): GD and "
        "momentum about 80%, Adam about 94%.",
        "With a constant beta, EMA momentum is the paper's classical momentum with mu = beta "
        f"and learning rate lr (1 - beta): here CM at {ema_lr * (1 - beta):.2g}. In a steady "
        "gradient its step settles at lr g, GD's step: this form of momentum smooths the "
        "steps but does not lengthen them, so it cannot outrun GD at the same lr; Adam's "
        "per-parameter scaling of the step can.",
    ]
