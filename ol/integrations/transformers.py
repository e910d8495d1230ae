"""A Hugging Face Transformers callback that records a ``Trainer`` run into an ol store::

    from ol.integrations.transformers import OlCallback
    trainer = Trainer(..., callbacks=[OlCallback(store="runs", experiment="gpt2-tiny")],
                      args=TrainingArguments(..., report_to="none"))

The run starts at ``on_train_begin`` with the ``TrainingArguments`` and the model's config (under
``model/``) as its config and ``metric_for_best_model``/``greater_is_better``/``num_train_epochs`` as its
contract; what the Trainer logs is recorded at ``state.global_step`` and its fractional ``epoch`` (0.156…)
— ``loss``, ``learning_rate``, ``grad_norm`` as training numbers, ``eval_*`` under the eval source; each epoch's
end becomes an epoch record restating the last values (with the epoch's evaluation) — and its closing numbers
(``train_runtime``, ``train_loss``…) as the run's summary. Each checkpoint the Trainer saves is a checkpoint
event (its weights file, hashed) when ``output_dir`` is inside the run's folder (``OlCallback.run_dir``),
else a note naming where it went. ``on_train_end`` ends the run completed; a run whose training raised ends
failed when the process exits, as every ``Run`` does.

Every process of a distributed Trainer calls the callback, and ol makes one run with a stream per rank.
"""

from __future__ import annotations

import math
from pathlib import Path

from ol.errors import ProducerError
from ol.integrations import EpochRecap, by_source, flat, require
from ol.producer.run import Run
from ol.schemas import RunContract

_transformers = require("transformers", "transformers")
WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # the file of a checkpoint folder that holds the weights
CLOSING = "train_runtime"  # the Trainer's last log (runtime, throughput, mean loss): the run's summary


class OlCallback(_transformers.TrainerCallback):
    """``Trainer(callbacks=[OlCallback(...)])``: one ol run per ``trainer.train()``."""

    def __init__(self, store: str | Path = "runs", experiment: str = "transformers", *, name: str = "",
                 tags: list[str] | tuple[str, ...] = (), group: str = "", run_id: str | None = None,
                 config: dict | None = None):
        self._store, self._experiment = Path(store), experiment
        # a run id given names the run to continue when it exists: the script run again with it resumes it
        self._options = dict(name=name, tags=list(tags), group=group, resume=run_id is not None)
        self._run_id = run_id or Run.new_id()  # known at once, so output_dir can be the run's own folder
        self._config = dict(config or {})
        self.run: Run | None = None
        self._recap = EpochRecap()
        self._ended: tuple[int, int] | None = None  # (epoch, step) of the last epoch end not yet recorded

    @property
    def run_dir(self) -> Path:
        return Run.folder(self._store, self._experiment, self._run_id)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.run is not None:  # the last train() raised before its end: say so, then this one continues it
            self.run.close("failed", error="trainer.train() raised before it ended (the exception went to the "
                                           "script, not to this callback)")
            self.run = Run.resume(self.run_dir, step=state.global_step, handle_signals=False)
            self.run.note(f"trainer.train() called again after a failed one: continuing from step {state.global_step}")
            return
        config = {**flat(args), **self._config}
        model_config = getattr(model, "config", None)
        if model_config is not None:
            config.update(flat(model_config, "model/"))
        self.run = Run.start(store=self._store, experiment=self._experiment, run_id=self._run_id,
                             seed=args.seed if isinstance(args.seed, int) else None, config=config,
                             contract=_contract(args), handle_signals=False, recorder="transformers",
                             **self._options)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.run is None or not logs:
            return
        logs = dict(logs)
        epoch = logs.pop("epoch", None)  # the Trainer's fractional epoch (0.156 …), kept as it counts it
        epoch = epoch if isinstance(epoch, (int, float)) and math.isfinite(epoch) and epoch >= 0 else None
        train, evaluated = by_source(logs)
        if CLOSING in logs:
            self.run.summary.update({**train, **evaluated})
            return
        if train:
            self.run.log(train, step=state.global_step, epoch=epoch)
        if evaluated:
            self.run.log(evaluated, step=state.global_step, epoch=epoch, source="eval")
        self._recap.add(train, evaluated, state.global_step)

    def on_epoch_end(self, args, state, control, **kwargs):
        # the epoch's evaluation is logged after this call: its record is made when the next epoch begins
        if self.run is not None and state.epoch is not None:
            self._ended = (max(round(state.epoch) - 1, 0), state.global_step)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._close_epoch()

    def _close_epoch(self) -> None:
        if self.run is not None and self._ended is not None:
            self._recap.close(self.run, *self._ended)
            self._ended = None

    def on_save(self, args, state, control, **kwargs):
        if self.run is None:
            return
        folder = Path(args.output_dir) / f"{_transformers.trainer_utils.PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        weights = next((folder / w for w in WEIGHTS if (folder / w).is_file()), None)
        try:
            if weights is None:
                raise ProducerError(f"no weights file in {folder}")
            self.run.checkpoint(weights, step=state.global_step)
        except ProducerError:
            self.run.note(f"the Trainer saved a checkpoint outside the run's folder: {folder}", step=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if self.run is not None:
            self._close_epoch()
            self.run.close("completed")
            self.run = None


def _contract(args) -> RunContract:
    """What the arguments say the run is for: the metric that picks the best model, its direction, the epochs."""
    metric = getattr(args, "metric_for_best_model", None) or ""
    if metric and not metric.startswith("eval_"):
        metric = f"eval_{metric}"  # the Trainer's own rule: it looks the metric up under that name
    better = getattr(args, "greater_is_better", None)
    epochs = getattr(args, "num_train_epochs", None)
    total = int(epochs) if isinstance(epochs, (int, float)) and float(epochs).is_integer() and epochs > 0 else None
    if getattr(args, "max_steps", -1) and getattr(args, "max_steps", -1) > 0:
        total = None  # max_steps overrides the epochs: the run does not say how many it will have
    return RunContract(main_metric=metric, direction=None if not metric else ("higher" if better else "lower"),
                       total_epochs=total)


__all__ = ["OlCallback"]
