"""`ol experiments`: the registered experiments, their strategies, presets and options."""

from __future__ import annotations

from typing import Annotated

import typer

from ol.cli.common import complete_experiments, console
from ol.cli.output import ListingFormat, chosen_format, emit


def experiments(
    name: Annotated[str | None, typer.Argument(help="Show this experiment's options and defaults.",
                                autocompletion=complete_experiments)] = None,
    fmt: ListingFormat = None,
) -> None:
    """List experiments (from ol.experiments and the 'ol.experiments' entry points), or one in detail."""
    from ol import experiments as registry  # experiments import torch: only the commands that need them load it
    from ol.cli.train_cmd import option_rows, options_table

    if name is not None:
        exp = registry.get(name)
        if chosen_format(fmt, "experiments") != "table":  # the options as rows: option, type, default
            rows = [{"option": o, "type": t, "default": d} for o, t, d in option_rows(exp)]
            emit(rows, ["option", "type", "default"], chosen_format(fmt, "experiments"), whole=("option",))
            return
        console.print(f"[bold]{exp.name}[/] — {exp.description}")
        console.print(f"strategies: {', '.join(exp.strategies)}    presets: {', '.join(exp.presets)}")
        console.print(options_table(exp))
        return
    rows = [{"name": exp.name, "strategies": list(exp.strategies), "presets": list(exp.presets),
             "description": exp.description} for exp in sorted(registry.discover().values(), key=lambda e: e.name)]
    emit(rows, ["name", "strategies", "presets", "description"], chosen_format(fmt, "experiments"),
         title="experiments", whole=("name",))
