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
    from ol.cli.launch_options import option_rows

    if name is not None:
        exp = registry.get(name)
        if chosen_format(fmt, "experiments") != "table":  # the options as rows: option, type, default
            rows = [{"option": o, "type": t, "default": d, "help": h} for o, t, d, h in option_rows(exp)]
            emit(rows, ["option", "type", "default", "help"], chosen_format(fmt, "experiments"), whole=("option",))
            return
        console.print(f"[bold]{exp.name}[/] — {exp.description}")
        console.print(f"strategies: {', '.join(exp.strategies)}    presets: {', '.join(exp.presets)}")
        console.print(_options_table(exp, option_rows(exp)))
        return
    rows = [{"name": exp.name, "strategies": list(exp.strategies), "presets": list(exp.presets),
             "description": exp.description} for exp in sorted(registry.discover().values(), key=lambda e: e.name)]
    emit(rows, ["name", "strategies", "presets", "description"], chosen_format(fmt, "experiments"),
         title="experiments", whole=("name",))


def _options_table(exp, rows: list[tuple[str, str, str, str]]):
    from rich.table import Table

    table = Table(title=f"{exp.name} options (defaults of preset {exp.default_preset!r})", title_justify="left")
    for column in ("option", "type", "default", "help"):
        table.add_column(column, justify="right" if column == "default" else "left")
    for row in rows:
        table.add_row(*row)
    return table
