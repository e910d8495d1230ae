"""A run's weights as numpy arrays, for analyses that read no log values: the final weights the engine saved,
or the model of one of its checkpoints (the one at a step, or the newest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ol.errors import UsageError
from ol.producer import checkpoints
from ol.producer.reference import FINAL_WEIGHTS, load_weights
from ol.schemas import Checkpoint
from ol.store.reader import LogReader
from ol.store.rundir import log_path


def run_weights(run_dir: Path, step: int | None = None) -> tuple[dict[str, np.ndarray], str]:
    """(parameter name → float64 array, which weights these are). ``step``: the checkpoint at that step
    (the nearest one, said in the description); None: the final weights, else the newest checkpoint."""
    run_dir = Path(run_dir)
    saved = [e for _, e in LogReader(log_path(run_dir)).events() if type(e) is Checkpoint]
    saved = [c for c in saved if (run_dir / c.path).is_file()]
    if step is None and (run_dir / FINAL_WEIGHTS).is_file():
        return _arrays(load_weights(run_dir / FINAL_WEIGHTS)), "final weights"
    if not saved:
        raise UsageError(f"weights: run {run_dir.name} has neither final weights nor a checkpoint",
                         hint="train it to the end, or with --save-checkpoints")
    chosen = max(saved, key=lambda c: c.step) if step is None else min(saved, key=lambda c: abs(c.step - step))
    state = checkpoints.load(run_dir / chosen.path)
    return _arrays(state["model"]), f"checkpoint at step {chosen.step}"


def _arrays(state: dict) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().double().numpy() for name, t in state.items() if t.is_floating_point()}
