"""A run's weights as numpy arrays, for analyses that read no log values: the final weights the engine saved,
or the model of one of its checkpoints (the one at a step, or the newest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ol.errors import UsageError
from ol.producer import checkpoints
from ol.producer.reference import FINAL_WEIGHTS, load_weights
from ol.schemas import Checkpoint
from ol.store.log.reader import LogReader
from ol.store.log.rundir import log_path


def run_weights(run_dir: Path, step: int | None = None) -> tuple[dict[str, np.ndarray], str]:
    """(parameter name → float64 array, which weights these are). ``step``: the checkpoint at that step
    (the nearest one, said in the description); None: the final weights, else the newest checkpoint."""
    state, what = run_state(run_dir, step)
    return _arrays(state), what


def run_state(run_dir: Path, step: int | None = None) -> tuple[dict, str]:
    """The model's state dict (tensors) that ``run_weights`` describes, to load into the model."""
    run_dir = Path(run_dir)
    saved = [e for _, e in LogReader(log_path(run_dir)).events() if type(e) is Checkpoint]
    saved = [c for c in saved if (run_dir / c.path).is_file()]
    if step is None and (run_dir / FINAL_WEIGHTS).is_file():
        return load_weights(run_dir / FINAL_WEIGHTS), "final weights"
    if not saved:
        raise UsageError(f"weights: run {run_dir.name} has neither final weights nor a checkpoint",
                         hint="train it to the end, or with --save-checkpoints")
    chosen = max(saved, key=lambda c: c.step) if step is None else min(saved, key=lambda c: abs(c.step - step))
    return checkpoints.load(run_dir / chosen.path)["model"], f"checkpoint at step {chosen.step}"


def _arrays(state: dict) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().double().numpy() for name, t in state.items() if t.is_floating_point()}


def parameter(weights: dict[str, np.ndarray], name: str) -> tuple[str, np.ndarray]:
    """The parameter ``name`` names: exactly, or the one whose name ends with it ('embed' finds
    'embed.weight'); a UsageError listing the candidates otherwise."""
    if name in weights:
        return name, weights[name]
    matches = [n for n in weights if n.endswith(name) or n.endswith(f"{name}.weight") or n.split(".")[0] == name]
    if len(matches) == 1:
        return matches[0], weights[matches[0]]
    listed = ", ".join(matches or sorted(weights, key=lambda n: -weights[n].size)[:12])
    raise UsageError(f"weights: {name!r} names {'several parameters' if matches else 'no parameter'}",
                     hint=f"{'one of' if matches else 'parameters'}: {listed}")


def checkpoint_history(run_dir: Path, name: str) -> list[tuple[int, np.ndarray]]:
    """(step, the parameter's value) at each checkpoint the run still has, oldest first."""
    run_dir = Path(run_dir)
    saved = sorted((e for _, e in LogReader(log_path(run_dir)).events() if type(e) is Checkpoint
                    and (run_dir / e.path).is_file()), key=lambda c: c.step)
    out, seen = [], set()
    for c in saved:
        if c.step in seen:  # a final checkpoint at the step of a periodic one: the same weights
            continue
        seen.add(c.step)
        _, value = parameter(_arrays(checkpoints.load(run_dir / c.path)["model"]), name)
        out.append((c.step, value))
    return out
