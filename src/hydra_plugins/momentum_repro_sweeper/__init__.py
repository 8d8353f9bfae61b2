"""``hydra/sweeper=grids``: one multirun over the union of several grids (momentum_repro.tracking.sweep_grids)."""
