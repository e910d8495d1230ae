"""A PyTorch Lightning logger that records into an ol store::

    from ol.integrations.lightning import OlLogger
    trainer = lightning.Trainer(logger=OlLogger(store="runs", experiment="mnist"), ...)

What Lightning logs becomes the run's events: ``self.log("train_loss")`` a training scalar at the trainer's
global step, ``self.log("val_loss")`` (any ``val_``/``test_`` name) an evaluation scalar beside it, the
module's hyperparameters the run's config, each of fit's epochs an epoch record restating the last values
logged in it (``ol tail`` and the epochs view show them), each checkpoint ``ModelCheckpoint`` saves a checkpoint event
with its hash (they are saved inside the run's directory unless the callback names another), and the
``ModelCheckpoint(monitor=…, mode=…)`` the run's contract (its main metric and which way is better).
``fit`` ending is the run completed; an exception, failed with it; Ctrl+C, interrupted. Metrics logged
after ``fit`` (``trainer.test``) continue the same run.

Under DDP every rank calls the logger, and ol makes one run with a stream per rank, as ``Run`` does
under torchrun (rank 0's stream is the run's).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ol.errors import ProducerError
from ol.integrations import EpochRecap, by_source, flat, require
from ol.producer.run import Run
from ol.schemas import RunContract

_lightning = require("lightning.pytorch", "lightning")
Logger = _lightning.loggers.logger.Logger


class OlLogger(Logger):
    """``Trainer(logger=OlLogger(...))``: one ol run per ``fit``, in ``store/experiment/<run id>``."""

    def __init__(self, store: str | Path = "runs", experiment: str = "lightning", *, name: str = "",
                 tags: list[str] | tuple[str, ...] = (), group: str = "", seed: int | None = None,
                 run_id: str | None = None, config: dict | None = None):
        super().__init__()
        self._store, self._experiment_name = Path(store), experiment
        # a run id given names the run to continue when it exists: the script run again with it resumes it
        self._options = dict(name=name, tags=list(tags), group=group, seed=seed, resume=run_id is not None)
        self._run_id = run_id or Run.new_id()  # known before the run starts: ModelCheckpoint names its folder
        self._config = dict(config or {})
        self._contract = RunContract()
        self._run: Run | None = None
        self._ended = False
        self._recorded: dict[str, tuple[int, int]] = {}  # checkpoint path -> (size, mtime) recorded
        self._step = 0
        self._on_use = _RunOnUse(self)
        self._unsent: dict[str, Any] = {}  # hyperparameters given while the run was ended
        self._recap = EpochRecap()  # fit's epoch so far; made the epoch's record when the next one logs
        self._epoch: int | None = None
        self._fitted = False  # fit ended: what follows (trainer.test) has no epochs of its own

    # what Lightning asks of a logger -----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._experiment_name

    @property
    def version(self) -> str:
        return self._run_id

    @property
    def save_dir(self) -> str:
        return str(self._store)  # checkpoints go to save_dir/name/version/checkpoints: the run's own folder

    @property
    def root_dir(self) -> str:
        return str(self._store / self._experiment_name)

    @property
    def log_dir(self) -> str:
        return str(self.run_dir)

    @property
    def run_dir(self) -> Path:
        return Run.folder(self._store, self._experiment_name, self._run_id)

    @property
    def experiment(self) -> _RunOnUse:
        """The run, for ``logger.experiment.log(...)``, ``.summary[...]``, ``.note(...)``: started at its first
        use, since Lightning reads this during setup, before the hyperparameters and the checkpoint callback
        (the run's config and contract) are known."""
        return self._on_use

    @property
    def run(self) -> Run:
        """The ol ``Run`` itself (started now if it was not yet)."""
        return self._ensure_run()

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        values = flat(params)
        self._config.update(values)
        if self._run is not None and not self._ended:
            self._run.config.update(values)
        elif self._run is not None:  # between fit and test: recorded when the run continues, if they changed
            self._unsent.update(values)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        # Lightning calls this once at the start of fit with the module, which knows its trainer: the
        # run's contract comes from the trainer's ModelCheckpoint and max_epochs, before the run starts
        trainer = getattr(model, "_trainer", None)
        if trainer is not None and self._run is None:
            self._contract = _contract(trainer)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        run = self._ensure_run()
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        epoch = int(epoch) if isinstance(epoch, (int, float)) else None
        self._step = step = self._step if step is None else int(step)
        train, evaluated = by_source(metrics)
        if train:
            run.log(train, step=step, epoch=epoch)
        if evaluated:
            run.log(evaluated, step=step, epoch=epoch, source="eval")
        if not self._fitted and epoch is not None:
            if self._epoch is not None and epoch > self._epoch:  # Lightning logs the next epoch: this one ended
                self._recap.close(run, self._epoch)
            self._epoch = epoch
            self._recap.add(train, evaluated, step)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        run = self._ensure_run()
        step = getattr(checkpoint_callback, "_last_global_step_saved", self._step)
        best = getattr(checkpoint_callback, "best_model_path", "")
        saved = {checkpoint_callback.last_model_path, best, *getattr(checkpoint_callback, "best_k_models", {})}
        for path in sorted(p for p in saved if p and Path(p).is_file()):
            seen = Path(path).stat()
            if self._recorded.get(path) == (seen.st_size, seen.st_mtime_ns):
                continue  # recorded as it is (last.ckpt is rewritten in place: then it is recorded again)
            self._recorded[path] = (seen.st_size, seen.st_mtime_ns)
            try:
                run.checkpoint(path, step=int(step), reason="best" if path == best else "periodic")
            except ProducerError:  # the callback was given its own dirpath: named, but not verifiable by ol
                run.note(f"Lightning saved a checkpoint outside the run's folder: {path}", step=step)

    def save(self) -> None:
        """Nothing to do: Lightning calls this after every log_metrics, and the run's writer already writes
        within its flush interval (a forced flush per step would cost a frame write per step)."""

    def finalize(self, status: str) -> None:
        if self._run is None or self._ended:
            return
        self._ended = True
        if status == "success":
            if not self._fitted and self._epoch is not None:
                self._recap.close(self._run, self._epoch)
            self._fitted = True
            self._run.close("completed")
            return
        handled = sys.exc_info()[1]  # Lightning calls finalize("failed") while it handles the exception
        if isinstance(handled, (KeyboardInterrupt, *_termination())):  # Ctrl+C, or SIGTERM: how Slurm preempts
            self._run.close("interrupted", error=type(handled).__name__)
        else:
            self._run.close("failed", error=f"{type(handled).__name__}: {handled}" if handled else status)

    # the run --------------------------------------------------------------------------------------

    def _ensure_run(self) -> Run:
        """The run, started at the first thing to record; after fit ended it, continued (trainer.test)."""
        if self._run is None:
            self._run = Run.start(store=self._store, experiment=self._experiment_name, run_id=self._run_id,
                                  config=self._config, contract=self._contract, handle_signals=False,
                                  recorder="lightning", **self._options)
        elif self._ended:
            self._run = Run.start(store=self._store, experiment=self._experiment_name, run_id=self._run_id,
                                  resume=True, handle_signals=False)
            self._ended = False
            changed = {k: v for k, v in self._unsent.items() if self._run.config.get(k) != v}
            self._unsent = {}
            if changed:
                self._run.config.update(changed)
        return self._run


class _RunOnUse:
    """Stands for the logger's run and starts it when any of its attributes is used."""

    def __init__(self, logger: OlLogger):
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger._ensure_run(), name)


def _termination() -> tuple[type, ...]:
    """The exception Lightning raises on SIGTERM (a scheduler's preemption or time limit), where it has one."""
    module = sys.modules.get("lightning.pytorch.utilities.exceptions") or sys.modules.get(
        "pytorch_lightning.utilities.exceptions")
    found = getattr(module, "SIGTERMException", None)
    return (found,) if isinstance(found, type) else ()


def _contract(trainer: Any) -> RunContract:
    """What the trainer says the run is for: ModelCheckpoint(monitor, mode) and max_epochs."""
    monitored = [c for c in getattr(trainer, "checkpoint_callbacks", []) if getattr(c, "monitor", None)]
    total = getattr(trainer, "max_epochs", None)
    total = total if isinstance(total, int) and total > 0 else None
    if not monitored:
        return RunContract(total_epochs=total)
    callback = monitored[0]
    return RunContract(main_metric=callback.monitor, direction="lower" if callback.mode == "min" else "higher",
                       total_epochs=total)


__all__ = ["OlLogger"]
