"""Optimizers of the paper: classical momentum, Nesterov, the momentum schedules (and HF),
and the worked example's EMA momentum.

The names below (also the configs' ``_target_``s, e.g. ``momentum_repro.optim.Nesterov``)
load with their module on first use, so code that needs only the schedules (the report) does
not import torch."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers
    from momentum_repro.optim.ema_momentum import EMAMomentum  # noqa: F401
    from momentum_repro.optim.momentum import ClassicalMomentum, Nesterov  # noqa: F401
    from momentum_repro.optim.schedule import (  # noqa: F401
        NesterovSchedule,
        PaperSchedule,
        RNNSchedule,
        momentum_schedule,
        nesterov_schedule,
        rnn_momentum_schedule,
    )

_MODULES = {
    "ClassicalMomentum": "momentum",
    "EMAMomentum": "ema_momentum",
    "Nesterov": "momentum",
    "NesterovSchedule": "schedule",
    "PaperSchedule": "schedule",
    "RNNSchedule": "schedule",
    "momentum_schedule": "schedule",
    "nesterov_schedule": "schedule",
    "rnn_momentum_schedule": "schedule",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value
