"""Hessian-free from a config: Martens (2010) (``optimizer=hf``) and the hybrid of appendix A.6.

``conf/optimizer/hf.yaml`` and ``hf_momentum.yaml`` hold the settings of
:class:`~momentum_repro.optim.hessian_free.HessianFree`; ``optimizer.phases`` (see
``conf/experiment/hf_momentum_*.yaml``) switches them at given updates. One phase's keys:

- ``start_update`` (an update count) or ``start_fraction`` (of ``trainer.total_updates``);
- ``lr``, ``decay`` (the CG decay: the hybrid's mu), ``cg_max_iters``, ``batch_fraction``,
  ``curvature_fraction``, ``weight_cost``, ``line_search``: values from then on;
- ``lr_inverse_time: s``: lr = s / (t - t_start + s), 1 at the phase's start (the paper's
  500 / (t - 4000) from t = 4500 and 250 / t from t = 250);
- ``weight_cost_to: w``: the L2 weight cost goes linearly from its value at the phase's start
  to w at update ``trainer.total_updates`` (CURVES: 2e-5 to about 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import Tensor, nn

from momentum_repro.errors import ConfigError
from momentum_repro.optim.hessian_free import HessianFree, InverseTime, LinearRamp, Phase
from momentum_repro.optim.schedule import momentum_schedule

HESSIAN_FREE_FACTORY = "momentum_repro.training.hessian_free_config.hessian_free_optimizer"
PHASE_VALUES = (
    "lr",
    "decay",
    "cg_max_iters",
    "batch_fraction",
    "curvature_fraction",
    "weight_cost",
    "line_search",
)
PHASE_KEYS = (
    "start_update",
    "start_fraction",
    *PHASE_VALUES,
    "lr_inverse_time",
    "weight_cost_to",
)


# ---------------------------------------------------------------------------------------------
# Checks: each error names the key, the value and what is allowed
# ---------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(key: str, name: str, value: Any) -> None:
    """One HF setting (``name`` as in a phase; ``cg_decay`` is a phase's ``decay``)."""
    if name in ("batch_fraction", "curvature_fraction"):
        if not _is_number(value) or not 0.0 < value <= 1.0:
            raise ConfigError(key, value, "it must be a fraction of the training set in (0, 1]")
    elif name == "damping":
        if not _is_number(value) or value <= 0.0:
            raise ConfigError(key, value, "it must be a finite number > 0 (Martens: 45)")
    elif name in ("decay", "cg_decay"):
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise ConfigError(key, value, "it must be in [0, 1]")
    elif name == "cg_max_iters":
        if not _is_count(value) or value < 1:
            raise ConfigError(key, value, "it must be an integer >= 1")
    elif name in ("weight_cost", "weight_cost_to"):
        if not _is_number(value) or value < 0.0:
            raise ConfigError(key, value, "it must be a finite number >= 0")
    elif name in ("lr", "lr_inverse_time"):
        if not _is_number(value) or value <= 0.0:
            raise ConfigError(key, value, "it must be a finite number > 0")
    elif name == "line_search" and not isinstance(value, bool):
        raise ConfigError(key, value, "it must be true or false")


def validate_hessian_free(cfg: DictConfig) -> None:
    """The HF settings of ``cfg.optimizer`` and its phases, before any training."""
    opt = cfg.optimizer
    for name in (
        "damping",
        "cg_decay",
        "cg_max_iters",
        "weight_cost",
        "line_search",
        "batch_fraction",
        "curvature_fraction",
    ):
        _check_value(f"optimizer.{name}", name, opt.get(name))
    mu_max = opt.get("mu_max")
    if opt.get("decay_follows_schedule", False) and (
        not _is_number(mu_max) or not 0.0 <= mu_max < 1.0
    ):
        raise ConfigError(
            "optimizer.mu_max", mu_max, "it must be in [0, 1) when decay_follows_schedule is true"
        )
    phases = opt.get("phases") or []
    if not isinstance(phases, ListConfig | list):
        raise ConfigError("optimizer.phases", phases, "it must be a list of phases")
    total = int(cfg.trainer.total_updates)
    starts = []
    for i, given in enumerate(phases):
        where = f"optimizer.phases[{i}]"
        if not isinstance(given, DictConfig | Mapping):
            raise ConfigError(where, given, f"a phase must be a mapping of {PHASE_KEYS}")
        phase = set_keys(given)
        unknown = sorted(set(phase) - set(PHASE_KEYS))
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}", phase[unknown[0]], f"known: {PHASE_KEYS}")
        for name in set(phase) & {*PHASE_VALUES, "lr_inverse_time", "weight_cost_to"}:
            _check_value(f"{where}.{name}", name, phase[name])
        if ("lr" in phase) + ("lr_inverse_time" in phase) > 1:
            raise ConfigError(
                f"{where}.lr_inverse_time", phase["lr_inverse_time"], "give lr or it, not both"
            )
        if ("weight_cost" in phase) + ("weight_cost_to" in phase) > 1:
            raise ConfigError(
                f"{where}.weight_cost_to",
                phase["weight_cost_to"],
                "give weight_cost or it, not both",
            )
        starts.append(_start_update(phase, total, where))
    if starts != sorted(starts):
        raise ConfigError("optimizer.phases", starts, "phases must be in order of their start")


def set_keys(phase: Mapping[str, Any]) -> dict[str, Any]:
    """A phase's settings that are given (its typed config, ``HessianFreePhaseConfig``, holds
    every key, None where the phase keeps the value in force)."""
    return {str(k): v for k, v in phase.items() if v is not None}


def _start_update(phase: Mapping[str, Any], total_updates: int, where: str) -> int:
    has_update, has_fraction = "start_update" in phase, "start_fraction" in phase
    if has_update == has_fraction:
        raise ConfigError(
            f"{where}.start_update",
            phase.get("start_update"),
            "give one of start_update or start_fraction",
        )
    if has_update:
        start = phase["start_update"]
        if not _is_count(start) or start < 0:
            raise ConfigError(f"{where}.start_update", start, "it must be an integer >= 0")
        return start
    fraction = phase["start_fraction"]
    if not _is_number(fraction) or not 0.0 <= fraction < 1.0:
        raise ConfigError(f"{where}.start_fraction", fraction, "it must be in [0, 1)")
    return round(fraction * total_updates)


# ---------------------------------------------------------------------------------------------
# Config -> HessianFree settings
# ---------------------------------------------------------------------------------------------


def phases_from_config(
    phases: Iterable[Mapping[str, Any]], total_updates: int, weight_cost: float
) -> list[Phase]:
    """Config phases as :class:`Phase` objects (start fractions resolved, lr and L2 schedules built).

    ``weight_cost`` is the group's L2 weight cost, where a ``weight_cost_to`` ramp may start.
    """
    out = []
    in_force = weight_cost
    for i, raw in enumerate(phases):
        phase = set_keys(raw)
        start = _start_update(phase, total_updates, f"optimizer.phases[{i}]")
        values: dict[str, Any] = {k: phase[k] for k in PHASE_VALUES if k in phase}
        if "lr_inverse_time" in phase:
            scale = float(phase["lr_inverse_time"])
            values["lr"] = InverseTime(scale, offset=start - scale)  # 1 at t = start
        if "weight_cost_to" in phase:
            end = float(phase["weight_cost_to"])
            values["weight_cost"] = LinearRamp(in_force, end, start, max(total_updates, start + 1))
            in_force = end
        elif "weight_cost" in phase:
            in_force = float(phase["weight_cost"])
        out.append(Phase(start_update=start, **values))
    return out


def decay_schedule(cfg: DictConfig) -> Callable[[int], float]:
    """The hybrid's rising CG decay: eq. 5's mu_t, capped at ``optimizer.mu_max``."""
    return partial(
        momentum_schedule, mu_max=float(cfg.optimizer.mu_max), period=int(cfg.schedule.period)
    )


def hessian_free_settings(cfg: DictConfig) -> dict[str, Any]:
    """Keyword arguments of :class:`HessianFree` from ``cfg.optimizer`` (all but params, model, lr)."""
    opt = cfg.optimizer
    phases = OmegaConf.to_container(opt.get("phases") or ListConfig([]), resolve=True)
    assert isinstance(phases, list)
    return {
        "damping": float(opt.damping),
        "cg_decay": (
            decay_schedule(cfg) if opt.get("decay_follows_schedule", False) else float(opt.cg_decay)
        ),
        "cg_max_iters": int(opt.cg_max_iters),
        "line_search": bool(opt.line_search),
        "weight_cost": float(opt.weight_cost),
        "batch_fraction": float(opt.batch_fraction),
        "curvature_fraction": float(opt.curvature_fraction),
        "phases": phases_from_config(
            phases, int(cfg.trainer.total_updates), float(opt.weight_cost)
        ),
        "shuffle_seed": int(cfg.seed),
    }


class ParametersOnly(nn.Module):
    """Bare parameters standing in for a network: an HF optimizer that can be built and
    inspected (as config checks do) but not stepped, since Gv products need the network."""

    loss_name = "squared_error"

    def __init__(self, params: Iterable[Tensor]) -> None:
        super().__init__()
        self.params = nn.ParameterList(params)

    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError("this HessianFree optimizer was built without model=; it cannot step")


def hessian_free_optimizer(
    params: Iterable[Tensor], *, model: nn.Module | None = None, **settings: Any
) -> HessianFree:
    """``optimizer.factory`` of hf.yaml / hf_momentum.yaml: :class:`HessianFree` over ``model``.

    ``training.optimizers.optimizer_factory`` passes lr and :func:`hessian_free_settings`;
    the training loop passes ``model``.
    """
    params = list(params)
    return HessianFree(
        params, model=model if model is not None else ParametersOnly(params), **settings
    )
