"""What a run's progress lines say: its heartbeat line (``callbacks.RunProgress``). A run's
name is its workload's (``Workload.run_name``)."""

from __future__ import annotations

from momentum_repro.tracking.progress import duration

# the first of these a module has logged is the value a progress line shows
CURVE_KEYS = ("train_error", "eval_zero_one", "train_loss", "train_cost")


def heartbeat_line(
    name: str,
    done: int,
    total: int,
    rate: float,
    metrics: dict[str, float],
    members: int | None = None,
) -> str:
    """``curves nag mu_max=0.99 ...: update 1200/3000 (40%), 51.3 updates/s, ETA 35s,
    train_error 11.2``; a population (``members`` active) adds its member-updates/s and
    shows its members' best latest value."""
    eta = duration((total - done) / rate) if rate > 0 else "?"
    per_member = f" ({rate * members:.1f} member-updates/s)" if members else ""
    line = (
        f"{name}: update {done}/{total} ({100 * done / max(total, 1):.0f}%), "
        f"{rate:.1f} updates/s{per_member}, ETA {eta}"
    )
    for key in CURVE_KEYS:
        if key in metrics:
            return f"{line}, {key} {metrics[key]:.4g}"
    return line
