"""Reference weights θ* for solution-dependent hooks: a trained solution's final weights.

By default the final weights of the latest completed run of the same experiment and strategy in the
store that reached its target (its log holds the target-reached event): a run that never generalised is
no solution to measure against. Or ``--reference PATH|RUN``. Always loaded with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ol.errors import ProducerError
from ol.schemas import Environment, TargetReached
from ol.store.errors import StoreError
from ol.store.log.reader import LogReader
from ol.store.log.rundir import log_path
from ol.store.read.listing import run_started, scan_runs, started_order
from ol.store.read.refs import resolve_run

FINAL_WEIGHTS = Path("artifacts") / "final_weights.pt"


@dataclass
class Reference:
    weights: dict[str, torch.Tensor]
    source: str  # what it was loaded from, for the note
    environment: Environment | None = None


class NoReference(Exception):
    """No run qualifies as θ*; ``passed_over`` completed runs with final weights never reached their target."""

    def __init__(self, passed_over: int):
        super().__init__(passed_over)
        self.passed_over = passed_over


def find(store: Path, experiment: str, strategy: str, explicit: str | None) -> Reference:
    """The reference to use; NoReference when there is none (hooks that need it are then skipped)."""
    if explicit:
        path = Path(explicit)
        if path.is_file():
            return Reference(load_weights(path), str(path))
        try:
            run_dir = resolve_run(store, explicit, index=False)
        except StoreError as e:
            raise ProducerError(f"reference: {explicit!r} is neither a weights file nor a run ({e})") from None
        if not (run_dir / FINAL_WEIGHTS).is_file():
            raise ProducerError(f"reference: run {run_dir.name} has no {FINAL_WEIGHTS}; it did not complete")
        return Reference(load_weights(run_dir / FINAL_WEIGHTS), f"run {run_dir.name}", _environment(run_dir))
    if not Path(store).is_dir():
        raise NoReference(0)
    done = [r for r in scan_runs(store, experiment=experiment)
            if r.status == "completed" and r.strategy == strategy and (r.dir / FINAL_WEIGHTS).is_file()]
    for info in sorted(done, key=started_order, reverse=True):  # newest first; most stores stop at the first
        reached = target_reached(info.dir)
        if reached is not None:
            why = (f"run {info.run_id}, the latest completed {experiment}/{strategy} run that reached its target "
                   f"({reached.metric} {reached.value:.4g} at epoch {reached.epoch})")
            return Reference(load_weights(info.dir / FINAL_WEIGHTS), why, _environment(info.dir))
    raise NoReference(len(done))



def target_reached(run_dir: Path) -> TargetReached | None:
    """The run's target-reached event (the engine emits it once), if its log has one."""
    for _, event in LogReader(log_path(run_dir)).events():
        if type(event) is TargetReached:
            return event
    return None


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise ProducerError(f"reference: {path} does not load as weights ({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ProducerError(f"reference: {path} is not a state dict of tensors")
    return state


def _environment(run_dir: Path) -> Environment | None:
    started = run_started(run_dir)
    return None if started is None else started.environment


def matched(reference: Reference, model: torch.nn.Module, device: torch.device) -> dict[str, torch.Tensor] | None:
    """θ* keyed like the model's trainable parameters, on its device; None if the shapes differ."""
    out = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        ref = reference.weights.get(name)
        if ref is None or ref.shape != p.shape:
            return None
        out[name] = ref.to(device=device, dtype=p.dtype)
    return out


def differences(reference: Reference, current: Environment) -> list[str]:
    """What differs between the reference's environment and this one (empty when unknown or equal)."""
    env = reference.environment
    if env is None:
        return []
    return [f"{field} {getattr(env, field)!r} vs {getattr(current, field)!r}"
            for field in ("torch", "cuda", "device", "python") if getattr(env, field) != getattr(current, field)]
