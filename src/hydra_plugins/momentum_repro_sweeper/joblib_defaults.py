"""``hydra/launcher=joblib`` with this project's default: 2 jobs at once.

Each job gets cores / 2 torch threads (``trainer.threads: auto``); on a 2-core machine that is
1 thread per job, faster than one job on 2 threads for these small layers. The plugin's own
default (-1, a job per core) is one override away: ``hydra.launcher.n_jobs=-1``.

Stored under the plugin's name, as a structured config: a YAML file
``conf/hydra/launcher/joblib.yaml`` would be matched against the plugin's schema of the same
name, which Hydra 1.3 warns is deprecated and will refuse.
"""

# No ``from __future__ import annotations``: see grids_sweeper.py.
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf  # registers theirs first


@dataclass
class TwoJobsLauncherConf(JobLibLauncherConf):
    n_jobs: int = 2


ConfigStore.instance().store(
    group="hydra/launcher", name="joblib", node=TwoJobsLauncherConf, provider="momentum_repro"
)
