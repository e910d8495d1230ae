"""A run's record — ``RunInfo``, the one type a reader gets about a run — and its flat projection.

The record holds what the run is (identity, contract, config), where it got (status, progress), and what the
one fold (store/read/fold.py) found in its log: config as updated, summary, the main metric's best and final value,
when the target was reached. A listing folds only a log's first and last frames (identity, status, progress);
the index folds each sealed run's whole log once, a live run's reader folds it as it goes (``folded`` says the
whole log was). With it: each metric's summary (count, final, extremes) and what could not be read.

Every flat form of a run — the SQL ``runs`` view, ``ol runs -f json``, the dashboard's table rows, the sweep
report, ``summary.json`` and replay's summary at a destination — takes its fields under the record's names
(``main_fields`` for the main metric's), so one field has one name everywhere. (The runs view alone names
``name`` ``run_name``: the metrics views' own ``name`` column must stay unambiguous in a join.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ol.schemas import RunContract


def job_label(job) -> str:
    """A Job (schemas) as ``ol runs`` shows it: the scheduler and the id to give ``sacct -j`` — an array task as
    ARRAY_TASK, as Slurm writes it. It is the job the run started in (a requeue keeps its id; each resume's own
    environment, requeues counted, is in its run-resumed event)."""
    if job is None or not job.scheduler:
        return ""
    return f"{job.scheduler} " + (f"{job.array_job_id}_{job.array_task_id}" if job.array_job_id else job.job_id)


@dataclass
class RunInfo:
    dir: Path = Path(".")
    run_id: str = ""
    experiment: str = ""
    status: str = "crashed"
    strategy: str = ""
    seed: int | None = None
    group: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    wall_time: float | None = None  # seconds, summed over every stretch the events show
    last_step: int | None = None
    last_epoch: int | None = None
    error: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    problem: str = ""  # why the log could not be fully read, if it could not
    contract: RunContract = RunContract()  # what the run said it is (empty for logs older than the contract)
    rank: int = 0  # which stream of the run this describes (torchrun: one stream per rank; 0 is the run's)
    world_size: int = 1
    host: str = ""
    name: str = ""  # the run's human name, when it was given one
    tags: list[str] = field(default_factory=list)
    sweep_point: int | None = None  # which point of sweep ``group`` the run trains (RunStarted.sweep_point)
    recorder: str = ""  # what recorded it (RunStarted.recorder): "ol train", an integration, an import; "" a script
    job: str = ""  # the cluster job it ran in ("slurm 1234_5": an array's id and task), "" outside one
    output: str = ""  # where its process's stdout and stderr went, when `ol sweep` started it
    # the fold's (store/read/fold.py); best, final and the summary are whole only once the whole log is ``folded``
    ended: str | None = None  # the status a run-ended event gave, when it is the last lifecycle event
    target_metric: str | None = None  # from the producer's target-reached event
    target_value: float | None = None
    target_epoch: int | None = None
    target_step: int | None = None
    best: float | None = None  # the main metric, wherever it was logged, in the declared direction
    best_epoch: int | None = None
    best_step: int | None = None
    final: float | None = None
    config_updates: dict = field(default_factory=dict)  # run.config.update(...) after the start, merged
    summary: dict = field(default_factory=dict)  # run.summary[...] = …, merged
    folded: bool = False
    # each metric's summary (count, final, extremes) and what could not be read of the log
    summaries: dict[str, dict] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.experiment}/{self.run_id}"

    @property
    def config_now(self) -> dict[str, Any]:
        """The config as it is now: as started, with what run.config.update(...) changed after."""
        return {**self.config, **self.config_updates}

    def problems(self) -> list[str]:
        return [self.problem] * bool(self.problem) + self.damage

    def adopt(self, whole: RunInfo) -> RunInfo:
        """Take what a fold of the whole log found (``whole``) into this record, which a listing made from the
        log's first and last frames; returns self."""
        for name in FOLDED:
            value = getattr(whole, name)
            setattr(self, name, dict(value) if isinstance(value, dict) else value)  # a live fold goes on changing its
        self.folded = True
        return self


# what only a fold of the whole log knows for sure; progress (last step and epoch) is the listing's, which reads
# the last frames' step tables, where the whole log's fold reads only the main metric's column
FOLDED = ("ended", "error", "ended_at", "wall_time", "target_metric", "target_value", "target_epoch", "target_step",
          "best", "best_epoch", "best_step", "final", "config_updates", "summary")



def main_fields(info: RunInfo) -> dict:
    """The main metric's fields of a run, as every flat form of it names them."""
    c = info.contract
    return {"main_metric": c.main_metric or None, "direction": c.direction, "target": c.target,
            "main_best": _finite(info.best), "main_best_epoch": info.best_epoch, "main_final": _finite(info.final),
            "target_epoch": info.target_epoch}


def _finite(value: float | None) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None
