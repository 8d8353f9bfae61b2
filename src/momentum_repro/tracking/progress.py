"""What progress lines say of time and of a sweep: ``1h02m``, ``3m05s``, ``42s``; ``sweep
claims_curves_quick: job 3/10 done, 1m40s elapsed, ETA 3m53s``."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s``, ``42s`` (rounded to the second)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def sweep_progress_line(
    name: str, done: int, total: int, elapsed: float, project: bool = True
) -> str:
    """``sweep claims_curves_quick: job 3/10 done, 1m40s elapsed, ETA 3m53s``: the rest projected
    from the mean job; ``project=False``: no ETA (the jobs were trained before they end)."""
    line = f"sweep {name}: job {done}/{total} done, {duration(elapsed)} elapsed"
    if project and 0 < done < total:
        line += f", ETA {duration(elapsed / done * (total - done))}"
    return line
