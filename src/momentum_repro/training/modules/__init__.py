"""The thin LightningModules: one per kind of run, on ``base.GuardedModule``."""
