"""Mirror of an ol run in Weights & Biases: the wandb client is imported here and only here."""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path

import msgspec

from ol.consumers.replay.stream import StepRecord
from ol.errors import ConsumerError
from ol.schemas import Checkpoint, HistogramData, ImageData, RunStarted

EXIT_CODES = {"completed": 0, "failed": 1, "interrupted": 130, "crashed": 2, "running": 0}


def import_wandb():
    try:
        import wandb
    except ImportError:
        raise ConsumerError("replay: the wandb client is not installed; pip install 'ol[wandb]'") from None
    return wandb


def wandb_id(run_id: str) -> str:
    """Deterministic: replaying the same ol run again resumes the same W&B run."""
    clean = re.sub(r"[^a-z0-9-]", "-", run_id.lower())
    return f"ol-{clean}"[:60] + ("" if len(clean) <= 57 else hashlib.sha1(run_id.encode()).hexdigest()[:4])


def replay_notes(started: RunStarted) -> str:
    """What a W&B user must know about a replayed run: which times are the run's own."""
    env = started.environment
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started.started_at)) if started.started_at else "?"
    where = " ".join(x for x in (f"on {env.host}" if env.host else "", f"({env.device})" if env.device else "") if x)
    return (f"Replayed by ol from run {started.run_id}, recorded from {when} {where}. Each step's _timestamp (Wall "
            "Time) is when it was recorded; W&B's _runtime (Relative Time) and run start are the replay's, which the "
            "client cannot set: the run's own wall time is the summary's ol_wall_time, its start config.ol_started_at, "
            "its environment config.ol_environment.").replace("  ", " ")


class WandbSink:
    """Logs records into one W&B run. Not thread-safe."""

    def __init__(self, started: RunStarted, *, project: str, entity: str | None, group: str | None,
                 name: str | None, mode: str, directory: Path | None, timeout: float):
        wandb = import_wandb()
        self._wandb = wandb
        # what replay keeps its position under: one W&B run per (mode, entity, project), so a second
        # replay to the same place sends only what is new
        self.destination = f"wandb-{mode}-{entity or 'default'}-{project}"
        # where and when the run ran is the run's own, from its started event: the replaying process's
        # machine, its system metrics and its clock describe nothing about the run
        config = {**started.config, "experiment": started.experiment, "strategy": started.strategy,
                  "seed": started.seed, "ol_run_id": started.run_id, "ol_started_at": started.started_at,
                  "ol_environment": msgspec.to_builtins(started.environment)}
        seed = "" if started.seed is None else f" · seed {started.seed}"
        try:
            self.run = wandb.init(
                project=project, entity=entity, id=wandb_id(started.run_id), resume="allow",
                group=group or started.group or None,
                name=name or started.name or f"{started.strategy or started.experiment}{seed}",
                tags=list(dict.fromkeys(t for t in (started.experiment, started.strategy, *started.tags) if t)),
                config=config, mode=mode,
                dir=str(directory) if directory else None, reinit="create_new", notes=replay_notes(started),
                settings=wandb.Settings(init_timeout=timeout, silent=True, console="off", x_disable_stats=True,
                                        x_disable_meta=True, x_disable_machine_info=True),
            )
        except Exception as e:  # the client raises many kinds (CommError, UsageError, timeouts): one message
            wandb.teardown()  # else its process-wide settings (directories, mode) outlive the failed run
            raise ConsumerError(f"replay: W&B did not start the run ({type(e).__name__}: {str(e).splitlines()[0]}); "
                                "nothing was marked as replayed",
                                hint="check the server or use --mode offline") from None

    def log(self, record: StepRecord) -> None:
        data = dict(record.scalars)
        data["_timestamp"] = record.wall_time  # when the step was recorded (W&B keeps it; not its _runtime)
        for key, values in record.arrays.items():
            data[key] = self._wandb.Histogram(values.ravel().astype("float64"))
        for key, event in record.media.items():
            data[key] = self._media(event)
        self.run.log(data, step=record.step)

    def _media(self, event):
        """A histogram, image or table as W&B's own kind (its panels draw them as they draw their own)."""
        wandb = self._wandb
        if type(event) is HistogramData:
            return wandb.Histogram(np_histogram=(event.counts, event.edges), num_bins=max(1, len(event.counts)))
        if type(event) is ImageData:
            from PIL import Image as PILImage  # wandb's own image dependency

            return wandb.Image(PILImage.open(io.BytesIO(event.data)), caption=event.caption or None)
        return wandb.Table(columns=list(event.columns), data=[list(r) for r in event.rows])

    def checkpoint(self, run_dir: Path, event: Checkpoint) -> None:
        artifact = self._wandb.Artifact(f"{self.run.id}-checkpoints", type="model",
                                        metadata={"step": event.step, "epoch": event.epoch, "reason": event.reason,
                                                  "sha256": event.sha256})
        artifact.add_file(str(run_dir / event.path))
        self.run.log_artifact(artifact, aliases=[f"step-{event.step}", event.reason])

    def update_config(self, values: dict) -> None:
        self.run.config.update(values, allow_val_change=True)  # as the run changed it: the later value wins

    def finish(self, status: str, summary: dict) -> None:
        self.run.summary.update({**summary, "ol_status": status})
        try:
            self.run.finish(exit_code=EXIT_CODES.get(status, 1))
        except Exception as e:
            raise ConsumerError(f"replay: W&B did not accept the run ({type(e).__name__}); nothing was marked as "
                                "replayed — a later replay sends it again") from None
        finally:
            # wandb keeps process-wide settings (directories, mode) from its first init: drop them so
            # the next replay in this process sees its own environment
            self._wandb.teardown()
