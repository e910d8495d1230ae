"""A Hydra callback that makes each job an ol run, without touching the task function: in the app's config,

    hydra:
      callbacks:
        ol:
          _target_: ol.integrations.hydra.OlCallback
          store: runs            # optional: $OL_STORE, else ./runs (relative to where Hydra was started)

each job (one for a plain run, one per point of a ``-m`` multirun) records a run whose config is the
composed config (without the ``hydra`` node, flattened to ``a/b`` keys), whose name is the job's override
string and whose group is the multirun (every job of one ``-m`` shares it); the overrides themselves are
in its config under ``hydra/overrides``. The task function records into it with
``ol.integrations.hydra.run().log(...)``. A job that returns is *completed*; one that raises, *failed*.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ol.errors import UsageError
from ol.integrations import flat, require
from ol.producer.run import Run

_hydra = require("hydra", "hydra")
require("hydra.experimental.callback", "hydra")
_omegaconf = require("omegaconf", "hydra")
_current: Run | None = None


def run() -> Run:
    """The ol run of the Hydra job being executed."""
    if _current is None:
        raise UsageError("ol hydra: no run: this job was not started with the ol callback",
                         hint="add ol.integrations.hydra.OlCallback under hydra.callbacks in the app's config")
    return _current


class OlCallback(_hydra.experimental.callback.Callback):
    def __init__(self, store: str | None = None, experiment: str | None = None):
        # Hydra builds its callbacks where it was started, before a job may change directory
        self.store = Path(store or os.environ.get("OL_STORE") or "runs").resolve()
        self.experiment = experiment

    def on_job_start(self, config: Any, *, task_function: Any = None, **kwargs: Any) -> None:
        global _current
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_config = HydraConfig.get()
        overrides = list(hydra_config.overrides.task)
        omegaconf = _omegaconf.OmegaConf
        # each top-level entry resolved from the whole config (so ${hydra:…} works), the hydra node left out:
        # parts of it are not set yet when a job starts
        values = {key: omegaconf.to_container(config[key], resolve=True) if omegaconf.is_config(config[key])
                  else config[key] for key in config.keys() if key != "hydra"}
        group = ""
        if hydra_config.mode == RunMode.MULTIRUN:  # the sweep's folder names the multirun: one group for its jobs
            group = "-".join(Path(hydra_config.sweep.dir).parts[-2:]).replace(":", "-") or "multirun"
        _current = Run.start(store=self.store, experiment=self.experiment or hydra_config.job.name,
                             config={**flat(values), "hydra/overrides": overrides}, group=group,
                             name=" ".join(overrides), handle_signals=False, recorder="hydra")

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        global _current
        from hydra.core.utils import JobStatus

        if _current is None:
            return
        if job_return.status == JobStatus.COMPLETED:
            _current.close("completed")
        else:
            error = getattr(job_return, "_return_value", None)
            _current.close("failed", error=f"{type(error).__name__}: {error}" if error is not None else "failed")
        _current = None


__all__ = ["OlCallback", "run"]
