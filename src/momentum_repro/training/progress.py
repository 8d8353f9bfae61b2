"""What progress lines say: a run's name and its heartbeat line (``callbacks.RunProgress``)."""

from __future__ import annotations

from omegaconf import DictConfig

from momentum_repro.durations import duration

# the first of these a module has logged is the value a progress line shows
CURVE_KEYS = ("train_error", "eval_zero_one", "train_loss", "train_cost")


def run_name(cfg: DictConfig) -> str:
    """A run's name in MLflow and in progress lines: data, method, mu_max, lr, seed."""
    mu = cfg.optimizer.get("mu_max")
    mu_part = "" if mu is None else f" mu_max={float(mu):g}"
    data = cfg.data.name + (f" T={cfg.data.seq_len}" if cfg.data.kind == "rnn" else "")
    return f"{data} {cfg.optimizer.name}{mu_part} lr={float(cfg.optimizer.lr):g} seed={cfg.seed}"


def heartbeat_line(name: str, done: int, total: int, rate: float, metrics: dict[str, float]) -> str:
    """``curves nag mu_max=0.99 ...: update 1200/3000 (40%), 51.3 updates/s, ETA 35s, train_error 11.2``."""
    eta = duration((total - done) / rate) if rate > 0 else "?"
    line = f"{name}: update {done}/{total} ({100 * done / max(total, 1):.0f}%), {rate:.1f} updates/s, ETA {eta}"
    for key in CURVE_KEYS:
        if key in metrics:
            return f"{line}, {key} {metrics[key]:.4g}"
    return line
