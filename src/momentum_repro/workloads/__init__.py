"""Benchmark problems as values (AlgoPerf's workloads), chosen by a run's ``data._target_``:
the deep autoencoders, the long-range RNN problems and the worked example's classifier."""

from momentum_repro.workloads.autoencoder import AutoencoderWorkload
from momentum_repro.workloads.base import Prepared, Run, Workload, workload_for
from momentum_repro.workloads.moons import MoonsWorkload
from momentum_repro.workloads.rnn import RNNWorkload

__all__ = [
    "AutoencoderWorkload",
    "MoonsWorkload",
    "Prepared",
    "RNNWorkload",
    "Run",
    "Workload",
    "workload_for",
]
