"""What the commands share: the store option, run resolution, the console, error output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

StoreOption = Annotated[
    Path,
    typer.Option("--store", envvar="OL_STORE", help="Store root holding the runs (env OL_STORE).",
                 show_default=True),
]
DEFAULT_STORE = Path("runs")

# piped output (no terminal) gets a wide console so tables are not squeezed to 80 columns
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False)
