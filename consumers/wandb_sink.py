"""Mirror of an ol run in Weights & Biases: the wandb client is imported here and only here."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ol.consumers.replay import StepRecord
from ol.schemas import Checkpoint, OlError, RunStarted

EXIT_CODES = {"completed": 0, "failed": 1, "interrupted": 130, "crashed": 2, "running": 0}


def import_wandb():
    try:
        import wandb
    except ImportError:
        raise OlError("replay: the wandb client is not installed; pip install 'ol[wandb]'") from None
    return wandb


def wandb_id(run_id: str) -> str:
    """Deterministic: replaying the same ol run again resumes the same W&B run."""
    clean = re.sub(r"[^a-z0-9-]", "-", run_id.lower())
    return f"ol-{clean}"[:60] + ("" if len(clean) <= 57 else hashlib.sha1(run_id.encode()).hexdigest()[:4])


class WandbSink:
    """Logs records into one W&B run. Not thread-safe."""

    def __init__(self, started: RunStarted, *, project: str, entity: str | None, group: str | None,
                 name: str | None, mode: str, directory: Path | None, timeout: float):
        wandb = import_wandb()
        self._wandb = wandb
        config = {**started.config, "experiment": started.experiment, "strategy": started.strategy,
                  "seed": started.seed, "ol_run_id": started.run_id}
        seed = "" if started.seed is None else f" · seed {started.seed}"
        try:
            self.run = wandb.init(
                project=project, entity=entity, id=wandb_id(started.run_id), resume="allow",
                group=group or started.group or None, name=name or f"{started.strategy or started.experiment}{seed}",
                tags=[t for t in (started.experiment, started.strategy) if t], config=config, mode=mode,
                dir=str(directory) if directory else None, reinit="create_new",
                settings=wandb.Settings(init_timeout=timeout, silent=True, console="off"),
            )
        except Exception as e:  # the client raises many kinds (CommError, UsageError, timeouts): one message
            raise OlError(f"replay: W&B did not start the run ({type(e).__name__}: {str(e).splitlines()[0]}); "
                          "nothing was marked as replayed — check the server or use --mode offline") from None

    def log(self, record: StepRecord) -> None:
        data = dict(record.scalars)
        for key, values in record.arrays.items():
            data[key] = self._wandb.Histogram(values.ravel().astype("float64"))
        self.run.log(data, step=record.step)

    def checkpoint(self, run_dir: Path, event: Checkpoint) -> None:
        artifact = self._wandb.Artifact(f"{self.run.id}-checkpoints", type="model",
                                        metadata={"step": event.step, "epoch": event.epoch, "reason": event.reason,
                                                  "sha256": event.sha256})
        artifact.add_file(str(run_dir / event.path))
        self.run.log_artifact(artifact, aliases=[f"step-{event.step}", event.reason])

    def finish(self, status: str, summary: dict) -> None:
        self.run.summary.update({**summary, "ol_status": status})
        try:
            self.run.finish(exit_code=EXIT_CODES.get(status, 1))
        except Exception as e:
            raise OlError(f"replay: W&B did not accept the run ({type(e).__name__}); nothing was marked as "
                          "replayed — a later replay sends it again") from None
        finally:
            # wandb keeps process-wide settings (directories, mode) from its first init: drop them so
            # the next replay in this process sees its own environment
            self._wandb.teardown()
