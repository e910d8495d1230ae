"""How every listing command (`ol runs`, `ol experiments`, `ol hooks`, …) prints its rows.

One option for all of them: ``--format table|tsv|csv|json|jsonl``. The default is a rich table on a
terminal and TSV when stdout is a pipe or a file, so ``ol runs | cut -f1`` and ``ol hooks | grep`` get
plain lines with no box drawing, no padding and no colour. Rows are plain values; styling is the table's
alone and never reaches the other formats.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ol.errors import UsageError
from ol.terminal import formula_safe, printable

LISTING_FORMATS = ("table", "tsv", "csv", "json", "jsonl")


def format_option(help: str):  # noqa: A002 - typer's own word
    """The one ``--format``/``-f`` option: every command that writes something in a choice of formats
    spells it so (listings, query, export, events, plots); ``help`` names the choices and the default."""
    return Annotated[str | None, typer.Option("--format", "-f", help=help)]


def out_option(help: str = "Write to this file instead of stdout."):  # noqa: A002
    """The one ``--out``/``-o`` option."""
    return Annotated[Path | None, typer.Option("--out", "-o", help=help)]


ListingFormat = format_option("table (the default on a terminal), tsv (the default when piped), csv, json or jsonl.")


def chosen_format(fmt: str | None, command: str) -> str:
    if fmt is None:
        return "table" if sys.stdout.isatty() else "tsv"
    if fmt not in LISTING_FORMATS:
        raise UsageError(f"{command}: unknown --format {fmt!r}; choose one of {', '.join(LISTING_FORMATS)}")
    return fmt


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, *, title: str = "",
         right: Sequence[str] = (), style: Callable[[str, Any], str | None] | None = None,
         footer: str = "", whole: Sequence[str] = ("run_id",),
         for_people: tuple[Sequence[str], Callable[[dict], dict]] | None = None) -> None:
    """Print ``rows`` (dicts keyed by ``columns``) in ``fmt``. For the table only: ``right`` columns are
    right-aligned, ``whole`` ones never cut, ``style(column, value)`` may give a rich style for a cell,
    ``footer`` is printed after, and ``for_people`` = (columns, row -> row) may fold several machine columns
    into fewer readable ones (the other formats keep one value per column)."""
    from ol.cli.common import console

    out = sys.stdout
    if fmt == "json":
        out.write(json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2, default=str) + "\n")
    elif fmt == "jsonl":
        out.writelines(json.dumps({c: r.get(c) for c in columns}, default=str) + "\n" for r in rows)
    elif fmt == "csv":  # the store's text shown, never obeyed, wherever stdout ends (a pipe often ends on a screen)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(map(printable, columns))
        writer.writerows([formula_safe(printable(_plain(r.get(c)))) for c in columns] for r in rows)
    elif fmt == "tsv":  # tabs and line breaks inside a value become spaces: one row stays one line
        out.write("\t".join(map(printable, columns)) + "\n")
        out.writelines("\t".join(printable(_plain(r.get(c)).replace("\t", " ").replace("\n", " ")) for c in columns)
                       + "\n" for r in rows)
    else:
        if for_people is not None:
            columns, shape = for_people
            rows = [shape(r) for r in rows]
        table = Table(title=title or None, title_justify="left")
        for c in columns:
            table.add_column(c, justify="right" if c in right else "left", no_wrap=c in whole,
                             min_width=max((len(_shown(r.get(c))) for r in rows), default=0) if c in whole else None)
        for r in rows:
            cells = []
            for c in columns:
                text = escape(_shown(r.get(c)))
                cell_style = style(c, r.get(c)) if style else None
                cells.append(f"[{cell_style}]{text}[/]" if cell_style and text else text)
            table.add_row(*cells)
        console.print(table)
        if footer:
            console.print(footer)
    out.flush()


def _plain(value: Any) -> str:
    """A value as text for tsv/csv: nothing for missing, numbers as Python writes them."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _shown(value: Any) -> str:
    return "-" if value is None or value == "" else printable(_plain(value))
