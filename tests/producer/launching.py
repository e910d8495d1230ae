"""Training a run in the test's own process, as a launch does: a LaunchPlan of settings, a config, a strategy."""

from __future__ import annotations

from pathlib import Path

from ol.experiments import get
from ol.producer import training
from ol.producer.launch import LaunchPlan
from ol.schemas.launch import RunSettings
from ol.store.read.listing import run_started


def start(store, experiment: str, config: dict, strategy: str, seed: int = 0, preset: str | None = None,
          hooks=None, **settings) -> tuple[Path, str]:
    """A new run; ``hooks`` are hook objects (instead of the settings' names), ``settings`` RunSettings fields
    (a run directory for ``order_from`` or ``reference`` is given as text, like a run id)."""
    exp = get(experiment)
    settings = {k: str(v) if k in ("order_from", "reference") and v is not None else v for k, v in settings.items()}
    plan = LaunchPlan(exp, Path(store), RunSettings(**settings))
    return training.start(plan, exp.resolve_config(preset, config), strategy, seed, hooks=hooks)


def resume(run_dir: Path, hooks=None, **settings) -> tuple[Path, str]:
    """Continue ``run_dir`` from its newest checkpoint."""
    exp = get(run_started(run_dir).experiment)
    return training.resume(LaunchPlan(exp, Path(run_dir).parent.parent, RunSettings(**settings)), Path(run_dir),
                           hooks=hooks)
