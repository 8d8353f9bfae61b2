"""Process settings of a run, not part of any model; none changes a number a run reports.

- Threads: ``trainer.threads: auto`` shares the cores this process may run on (a SLURM
  job's allocation, not the whole node) between the jobs a launcher runs at once.
- Denormals: saturated logistic units of the sparsely initialized autoencoders, and the
  gradients a barely-driven RNN propagates back through time, produce float32 values below
  1.2e-38, which x86 CPUs handle in microcode, many times slower than normal floats
  (``benchmarks/step_throughput.py`` prints the ratio). Flushing them to zero replaces values
  below 1.2e-38 by 0, against errors of order 1e-2 and more (``tests/test_runtime_denormals.py``).
  The mode is a per-thread register (MXCSR): ``torch.set_flush_denormal`` sets the calling
  thread's only, and the threads of torch's OpenMP pool copy it when they start, so
  :func:`flush_denormals` sets it on every thread of the pool too.
- Freed memory: an RNN update allocates and frees whole-sequence tensors of a few MB, which
  glibc's malloc would serve with fresh ``mmap`` pages or return to the system, so that the
  next update faults every page in again; :func:`keep_freed_memory` keeps them in the heap.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import torch

# --------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------


def usable_cores() -> int:
    """The cores this process may run on: a SLURM job's allocation, not the whole node."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_threads(setting: int | str, parallel_jobs: int = 1) -> int:
    """``auto``: the cores shared out between the jobs that run at once."""
    if setting == "auto":
        return max(1, usable_cores() // max(1, parallel_jobs))
    threads = int(setting)
    if threads < 1:
        raise ValueError(f"trainer.threads must be >= 1 or 'auto', got {setting}")
    return threads


def parallel_jobs(launcher: Any, sweep_jobs: int | None = None) -> int:
    """How many jobs a launcher runs at once on this machine: joblib's n_jobs; submitit's
    local launcher, the whole sweep (``sweep_jobs``, up to its array_parallelism); 1 for the
    basic and population launchers and for SLURM (each job has its own allocation, counted
    by ``usable_cores``)."""
    launcher = launcher or {}
    target = str(launcher.get("_target_", ""))
    if target.endswith("LocalLauncher"):  # submitit_local: every job of the sweep at once
        jobs = sweep_jobs or 1
        return max(1, min(jobs, int(launcher.get("array_parallelism") or jobs)))
    if "joblib" not in target:
        return 1
    n_jobs = int(launcher.get("n_jobs") or 1)
    if n_jobs < 0:  # joblib: -1 is one job per core, -2 all cores but one, ...
        return max(1, usable_cores() + 1 + n_jobs)
    return n_jobs


# --------------------------------------------------------------------------------------------
# Denormals
# --------------------------------------------------------------------------------------------

_TEAM_FUNCTION = ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # void fn(void *data)


def flush_denormals(enabled: bool = True) -> bool:
    """Set the flush-to-zero mode of this thread and of every thread of torch's OpenMP pool
    (``torch.get_num_threads()`` of them); True if the CPU supports it (x86 with SSE3)."""
    supported = bool(torch.set_flush_denormal(enabled))
    if supported:
        on_every_openmp_thread(lambda: torch.set_flush_denormal(enabled))
    return supported


@cache
def _gomp_parallel() -> Callable[..., None] | None:
    """``GOMP_parallel`` of the GNU OpenMP runtime torch itself links (its pool is the one
    torch's ops run on), looked up through torch's own library: another package may load a
    libgomp of its own (scikit-learn bundles one). None where torch's runtime is not GNU's."""
    if not sys.platform.startswith("linux"):
        return None
    library = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        gomp_parallel = ctypes.CDLL(library).GOMP_parallel  # found in torch's own dependencies
    except (OSError, AttributeError):
        return None
    gomp_parallel.argtypes = [_TEAM_FUNCTION, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    gomp_parallel.restype = None
    return gomp_parallel


def on_every_openmp_thread(fn: Callable[[], object]) -> bool:
    """Run ``fn`` once on each thread of a team of ``torch.get_num_threads()``: the calling
    thread and the pool's workers that torch's parallel ops use. Set the thread count first
    (runs do, ``training/run.py``): workers a larger count adds later start from the calling
    thread's mode, but idle workers beyond this team are not reached. False where torch's
    OpenMP runtime is not GNU's (nothing runs)."""
    gomp_parallel = _gomp_parallel()
    if gomp_parallel is None:
        return False
    callback = _TEAM_FUNCTION(lambda _data: fn())  # kept alive until the team is done
    gomp_parallel(callback, None, torch.get_num_threads(), 0)
    return True


# --------------------------------------------------------------------------------------------
# Freed memory
# --------------------------------------------------------------------------------------------

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc refuses larger mmap thresholds on 64-bit systems


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD_MAX) -> bool:
    """Serve blocks below ``mmap_threshold`` bytes from the heap and keep up to four times
    that free in it. True if set; False where the C library is not glibc (nothing changes)."""
    if not 0 < mmap_threshold <= MMAP_THRESHOLD_MAX:
        raise ValueError(
            f"keep_freed_memory: mmap_threshold must be in (0, {MMAP_THRESHOLD_MAX}], "
            f"got {mmap_threshold}"
        )
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and others: no glibc mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(M_TRIM_THRESHOLD, 4 * mmap_threshold)
    )
