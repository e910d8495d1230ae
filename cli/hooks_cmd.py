"""`ol hooks`: the instrumentation hooks, their firing points, needs and groups; `describe` for one."""

from __future__ import annotations

from typing import Annotated

import typer

from ol.cli.common import console
from ol.cli.output import ListingFormat, chosen_format, emit
from ol.errors import UsageError


def hooks_cmd(
    words: Annotated[list[str] | None, typer.Argument(help="[EXPERIMENT] to mark which hooks it can run, or "
                                                       "'describe NAME' for one hook's metrics.")] = None,
    fmt: ListingFormat = None,
) -> None:
    """List instrumentation hooks (points, needs, groups, cost), or `ol hooks describe NAME`."""
    words = words or []
    if words[:1] == ["describe"]:
        if len(words) != 2:
            raise UsageError("hooks: usage: ol hooks describe NAME")
        describe(words[1], chosen_format(fmt, "hooks"))
        return
    if len(words) > 1:
        raise UsageError("hooks: usage: ol hooks [EXPERIMENT] | ol hooks describe NAME")
    list_hooks(words[0] if words else None, chosen_format(fmt, "hooks"))


def list_hooks(experiment: str | None, fmt: str = "table") -> None:
    from ol import experiments  # hooks and experiments import torch: loaded only by this command
    from ol.producer import hooks
    from ol.producer.hooks.runtime import ENGINE_NEEDS

    registry, groups = hooks.catalogue(), hooks.groups()
    provides = set(ENGINE_NEEDS) | {"reference", "adam"}
    if experiment is not None:
        provides |= set(experiments.get(experiment).provides)
    rows = []
    for name, cls in registry.items():
        member = [g for g, names in groups.items() if name in names]
        row = {"hook": name, "fires": list(cls.points), "needs": sorted(cls.needs), "groups": member,
               "kind": "intervention" if cls.intervenes else "observer", "cost": cls.cost}
        if experiment:
            missing = sorted(cls.needs - provides)
            row["runs_here"] = "yes" if not missing else f"no: needs {', '.join(missing)}"
        rows.append(row)
    columns = ["hook", "fires", "needs", "groups", "kind", "cost"] + (["runs_here"] if experiment else [])
    emit(rows, columns, fmt, title="hooks" + (f" for {experiment}" if experiment else ""), whole=("hook",),
         footer="groups: none means only when named; reference θ*: the latest completed run of the same experiment "
                "and strategy that reached its target, or --reference")


def describe(name: str, fmt: str = "table") -> None:
    """Print what a hook measures, metric by metric, with where it fires and what it needs."""
    from ol.producer import hooks

    registry = hooks.catalogue()
    if name not in registry:
        hooks.resolve([], [name])  # raises the error with the closest match
        raise UsageError(f"hooks: unknown hook {name!r}")
    cls = registry[name]
    if fmt == "table":  # the other formats are the metric rows alone, for scripts
        console.print(f"[bold]{name}[/] — {cls.description}")
        console.print(f"fires: {', '.join(cls.points)}    needs: {', '.join(sorted(cls.needs)) or 'nothing'}    "
                      f"{'intervention' if cls.intervenes else 'observer'}    cost: {cls.cost}")
        if cls.schedule != hooks.Schedule():
            s = cls.schedule
            console.print(f"steps: bursts of {s.burst} every {s.every} after {s.warmup}" if s.burst
                          else f"steps: every {s.every}")
    rows = [{"metric": f"hooks/{name}/{metric}", "meaning": meaning} for metric, meaning in cls.metrics.items()]
    emit(rows, ["metric", "meaning"], fmt, whole=("metric",))
