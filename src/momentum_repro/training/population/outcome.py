"""What a population hands each member's Hydra job: its result and its curve, to log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from momentum_repro.training.loop import FitResult
from momentum_repro.training.modules.base import MetricSink


@dataclass
class TrainedMember:
    """A member's run as its solo run would have produced it: the curve points in order,
    the result; or the error that stopped its population (the run is then logged FAILED)."""

    members: int  # the population's size, recorded as a tag
    result: FitResult | None = None
    curve: list[tuple[dict[str, float], int]] = field(default_factory=list)
    error: str | None = None

    def replay(self, sink: MetricSink) -> FitResult:
        """Send the curve to ``sink`` (the job's MLflow run); the result, or raise the error."""
        for metrics, step in self.curve:
            sink(metrics, step)
        if self.error is not None or self.result is None:
            raise RuntimeError(f"its population failed: {self.error or 'no result'}")
        return self.result


# run_key -> the member's outcome, filled by the population launcher before it runs the
# jobs in this process; ``run_job`` takes a run's outcome from here instead of training it
trained_members: dict[str, TrainedMember] = {}

# path -> a data set the population launcher read while planning its jobs; those jobs'
# ``run_job`` plans from it instead of reading the set again. Emptied when the sweep ends.
loaded_sets: dict[str, Any] = {}
