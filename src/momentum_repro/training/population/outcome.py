"""What a population hands each member's Hydra job: its result and its curve, to log.

The launcher saves each member's outcome to a file (``save``) and gives the member's job its
path in its own config (``trainer.population_result``): the job logs the run from it
(``run_job``) through the same MLflow path as a run trained alone. Nothing passes through
module globals or the environment, and a member trained but not yet logged when a sweep is
killed is logged from its file when the sweep runs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from momentum_repro.training.loop import FitResult
from momentum_repro.training.modules.base import MetricSink

RESULT_KEY = "trainer.population_result"  # a member job's config: its outcome's file


@dataclass
class TrainedMember:
    """A member's run as its solo run would have produced it: the curve points in order,
    the result; or the error that stopped its population (the run is then logged FAILED).
    ``meta``: its data's provenance (the tags a run carries), read by the launcher."""

    members: int  # the population's size, recorded as a tag
    result: FitResult | None = None
    curve: list[tuple[dict[str, float], int]] = field(default_factory=list)
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def replay(self, sink: MetricSink) -> FitResult:
        """Send the curve to ``sink`` (the job's MLflow run); the result, or raise the error."""
        for metrics, step in self.curve:
            sink(metrics, step)
        if self.error is not None or self.result is None:
            raise RuntimeError(f"its population failed: {self.error or 'no result'}")
        return self.result


def member_file(folder: Path, key: str) -> Path:
    """Where the outcome of the member with resume key ``key`` is kept until it is logged."""
    return folder / "members" / f"{key}.pt"


def save(outcome: TrainedMember, path: Path) -> Path:
    """Write atomically: a job never reads half an outcome."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(outcome, tmp)
    tmp.replace(path)
    return path


def load(path: str | Path) -> TrainedMember:
    return torch.load(path, map_location="cpu", weights_only=False)
