"""Population training: the runs of a sweep grid trained as K members of one stacked model.

Each member is the solo run of its config (``training/fit.py`` on its workload) computed in
batched form: the same initialization, minibatches, optimizer arithmetic, curves and final
errors. ``hydra/launcher=population`` groups a multirun's jobs into populations.
"""
