"""Optimizers of the paper: classical momentum, Nesterov, the momentum schedule (and HF)."""

from momentum_repro.optim.momentum import ClassicalMomentum, Nesterov
from momentum_repro.optim.schedule import momentum_schedule, rnn_momentum_schedule

__all__ = ["ClassicalMomentum", "Nesterov", "momentum_schedule", "rnn_momentum_schedule"]
