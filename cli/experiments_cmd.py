"""`ol experiments`: the registered experiments, their strategies, presets and options."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ol.cli.common import console


def experiments(
    name: Annotated[str | None, typer.Argument(help="Show this experiment's options and defaults.")] = None,
) -> None:
    """List experiments (from ol.experiments and the 'ol.experiments' entry points), or one in detail."""
    from ol import experiments as registry  # experiments import torch: only the commands that need them load it
    from ol.cli.train_cmd import options_table

    if name is not None:
        exp = registry.get(name)
        console.print(f"[bold]{exp.name}[/] — {exp.description}")
        console.print(f"strategies: {', '.join(exp.strategies)}    presets: {', '.join(exp.presets)}")
        console.print(options_table(exp))
        return
    table = Table(title="experiments", title_justify="left")
    for col in ("name", "strategies", "presets", "description"):
        table.add_column(col)
    for exp in sorted(registry.discover().values(), key=lambda e: e.name):
        table.add_row(exp.name, ", ".join(exp.strategies), ", ".join(exp.presets), exp.description)
    console.print(table)
