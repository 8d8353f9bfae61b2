"""``hydra/sweeper=grids``: one multirun over the union of several grids (momentum_repro.grids)."""
