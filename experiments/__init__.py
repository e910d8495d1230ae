"""Registered experiments: every sub-package of ol.experiments with an ``EXPERIMENT``, plus the
entry-point group ``ol.experiments`` so another package can add its own."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from importlib.metadata import entry_points

from ol.errors import UsageError
from ol.producer.experiment import Experiment

ENTRY_POINT_GROUP = "ol.experiments"


def discover() -> dict[str, Experiment]:
    found: dict[str, Experiment] = {}
    for module in pkgutil.iter_modules(__path__, __name__ + "."):
        exp = getattr(importlib.import_module(module.name), "EXPERIMENT", None)
        if isinstance(exp, Experiment):
            found[exp.name] = exp
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        exp = obj() if isinstance(obj, type) else obj
        if isinstance(exp, Experiment):
            found.setdefault(exp.name, exp)
    return found


def get(name: str) -> Experiment:
    experiments = discover()
    if name in experiments:
        return experiments[name]
    close = difflib.get_close_matches(name, list(experiments), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UsageError(f"experiments: unknown experiment {name!r}{hint}; choose one of {', '.join(sorted(experiments))}")
