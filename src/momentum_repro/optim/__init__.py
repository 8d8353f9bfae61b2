"""Optimizers of the paper: classical momentum, Nesterov, the momentum schedules (and HF),
and the worked example's EMA momentum."""

from momentum_repro.optim.ema_momentum import EMAMomentum
from momentum_repro.optim.momentum import ClassicalMomentum, Nesterov
from momentum_repro.optim.schedule import (
    NesterovSchedule,
    PaperSchedule,
    RNNSchedule,
    momentum_schedule,
    nesterov_schedule,
    rnn_momentum_schedule,
)

__all__ = [
    "ClassicalMomentum",
    "EMAMomentum",
    "Nesterov",
    "NesterovSchedule",
    "PaperSchedule",
    "RNNSchedule",
    "momentum_schedule",
    "nesterov_schedule",
    "rnn_momentum_schedule",
]
