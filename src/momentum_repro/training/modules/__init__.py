"""The thin LightningModules on ``base.GuardedModule``: every first-order run (``workload``)
and Hessian-free (``hessian_free``)."""
