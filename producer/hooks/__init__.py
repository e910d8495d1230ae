"""The hook catalogue: the contract and registry (``base``), the hooks themselves (one module per
family, each registering its hooks as it is imported), and how a run's hooks are chosen.

The registry never imports the catalogue back: importing this package imports every family once,
so ``catalogue()`` is complete whoever asks.
"""

from __future__ import annotations

import difflib

from ol.errors import UsageError
from ol.producer.hooks import gradients, interventions, spectral, training  # noqa: F401 - they register themselves
from ol.producer.hooks.base import (  # noqa: F401 - the hook API, as hook authors import it
    CATALOGUE,
    HOOK_POINTS,
    NEEDS,
    REGISTRY,
    Hook,
    HookContext,
    Schedule,
    register,
    rng_guard,
    scalars,
)

INTERVENTIONS = ("hessian", "counterfactual", "adam_dynamics")


def catalogue() -> dict[str, type[Hook]]:
    """Every registered hook class by name, in the catalogue's order (CATALOGUE in base.py)."""
    return {name: REGISTRY[name] for name in CATALOGUE if name in REGISTRY}


def groups() -> dict[str, list[str]]:
    # the validator checks the counterfactual hook; the trajectory is asked for with --record-trajectory
    names = [n for n in catalogue() if n not in ("counterfactual_validator", "trajectory")]
    return {
        "minimal": ["training_metrics"],
        "observers": [n for n in names if n not in INTERVENTIONS],
        "interventions": list(INTERVENTIONS),
        "full": names,
    }


def resolve(with_groups: list[str], names: list[str], trajectory_every: int = 0, trajectory_dim: int = 0) -> list[Hook]:
    """Hook instances for ``--with-hooks GROUP`` and ``--hooks NAME`` (additive), in catalogue order."""
    registry, known_groups = catalogue(), groups()
    chosen: list[str] = []
    for group in with_groups:
        if group not in known_groups:
            raise UsageError(f"hooks: unknown group {group!r}; choose one of {', '.join(known_groups)}")
        chosen += known_groups[group]
    for name in names:
        if name not in registry:
            close = difflib.get_close_matches(name, list(registry), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"hooks: unknown hook {name!r}{hint}; `ol hooks` lists them")
        chosen.append(name)
    if trajectory_every:
        chosen.append("trajectory")
    # --record-trajectory EVERY --trajectory-dim D configure the one hook that takes arguments
    return [registry[n](trajectory_every, trajectory_dim) if n == "trajectory" and trajectory_every else registry[n]()
            for n in CATALOGUE if n in set(chosen)]
