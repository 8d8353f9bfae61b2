"""keep_freed_memory: updates stop faulting their memory in again (glibc), results unchanged."""

from __future__ import annotations

import subprocess
import sys

import pytest

from momentum_repro.runtime import MMAP_THRESHOLD_MAX, keep_freed_memory

# Real RNN updates (addition, T=30, batch 100, 100 units: whole-sequence blocks of about
# 1.3 MB made and freed every update); prints the page faults of the last 50 updates.
CHILD = """
import resource, sys, numpy as np, torch
from momentum_repro.runtime import keep_freed_memory
from momentum_repro.data.rnn_tasks import get_task
from momentum_repro.models.rnn import TanhRNN, batch_tensors, task_loss
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
task = get_task("addition")
rng = np.random.default_rng(0)
model = TanhRNN.for_task(task, seed=0)
def update():
    x, y, mask, valid = batch_tensors(task(30, 100, rng))
    model.zero_grad()
    task_loss(task, model(x, valid), y, mask, reduction="sum").backward()
for _ in range(20):
    update()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    update()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_is_not_faulted_in_again_each_update() -> None:
    default, kept = _faults("default"), _faults("keep")
    # with glibc's defaults, each update faults in hundreds of pages (measured: about 700)
    assert default > 50 * 100, default
    assert kept < default / 10, (kept, default)


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="mmap_threshold"):
        keep_freed_memory(MMAP_THRESHOLD_MAX + 1)
    with pytest.raises(ValueError, match="mmap_threshold"):
        keep_freed_memory(0)
