"""Which experiments exist: the entry-point group ``ol.experiments`` (ol's own register there in its
pyproject, like any package's), so the producer — a sweep's worker — finds one by name without the CLI."""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from ol.errors import UsageError
from ol.producer.experiment import Experiment

ENTRY_POINT_GROUP = "ol.experiments"


def discover() -> dict[str, Experiment]:
    found: dict[str, Experiment] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
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
