"""`ol export`: comparison tables across runs, or one run's scalars for notebooks."""

from __future__ import annotations

from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, RunsArgument, StoreOption, complete_metrics, warn
from ol.cli.output import format_option, out_option
from ol.consumers.analytics.choices import STATS
from ol.errors import UsageError
from ol.store import bootstrap_of, resolve_run

TABLE_FORMATS = ("csv", "markdown", "latex", "json")
EVENT_FORMATS = ("csv", "parquet")


def export(
    runs: RunsArgument,
    store: StoreOption = DEFAULT_STORE,
    metrics: Annotated[list[str] | None, typer.Option("--metrics", "-m", help="Metric names (repeatable).",
                                                        autocompletion=complete_metrics)] = None,
    stat: Annotated[str, typer.Option(help=f"Statistic per run: {', '.join(STATS)}.")] = "final",
    threshold: Annotated[float | None, typer.Option(help="Threshold for --stat first-crossing.")] = None,
    direction: Annotated[str, typer.Option(help="first-crossing: 'above' or 'below' the threshold.")] = "above",
    per: Annotated[str, typer.Option(help="Rows per 'run', per 'strategy' (mean ± std), or 'auto'.")] = "auto",
    estimator: Annotated[str, typer.Option(help="A strategy's value over its runs: 'mean' or 'iqm' (the "
                                           "interquartile mean), with its bootstrap interval.")] = "mean",
    fmt: format_option("csv, markdown, latex or json (--events: csv, parquet).") = "markdown",
    precision: Annotated[int, typer.Option(min=0, max=17, help="Digits after the decimal point (0–17).")] = 4,
    bold_best: Annotated[bool, typer.Option("--bold-best", help="Bold the best value of each metric.")] = False,
    higher: Annotated[list[str] | None, typer.Option("--higher-is-better", help="For --bold-best: this metric's "
                                                     "best is its largest (repeatable).")] = None,
    lower: Annotated[list[str] | None, typer.Option("--lower-is-better", help="For --bold-best: this metric's "
                                                    "best is its smallest (repeatable).")] = None,
    caption: Annotated[str | None, typer.Option("--caption", help="latex: wrap the tabular in a table with this "
                                                "caption.")] = None,
    events: Annotated[bool, typer.Option("--events", help="Dump every scalar of the run(s) as a long table.")] = False,
    versus: Annotated[bool, typer.Option("--versus", help="Instead: every two strategies against each other, per "
                                         "metric P(A better than B) and a permutation test's p-value.")] = False,
    out: out_option() = None,
) -> None:
    """Export a comparison table (one row per run or per strategy) or, with --events, all scalars."""
    # pyarrow and DuckDB load with the work, not with every `ol` command's start-up
    from ol.consumers.analytics import formats
    from ol.consumers.analytics.export import ExportSpec, declared_directions, per_run, presentable, summarise
    from ol.consumers.analytics.sql import connect

    run_dirs = [resolve_run(store, r) for r in runs]
    if events:
        if metrics:
            raise UsageError("export: --events dumps every scalar; it does not take --metrics")
        if fmt not in EVENT_FORMATS:
            raise UsageError(f"export: --events writes {' or '.join(EVENT_FORMATS)}, not {fmt!r}")
        conn = connect(store, run_dirs)
        _warn(conn.warnings)
        table = conn.query("SELECT experiment, run_id, step, epoch, source, name, value FROM metrics "
                           "ORDER BY run_id, step, name")
        formats.write(table, fmt, out)
        return
    if not metrics:
        raise UsageError("export: name at least one --metrics NAME (or use --events)")
    if fmt not in TABLE_FORMATS:
        raise UsageError(f"export: unknown format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    if caption is not None and fmt != "latex":
        raise UsageError(f"export: --caption is for --format latex, not {fmt}")
    if per not in ("auto", "run", "strategy") or direction not in ("above", "below"):
        raise UsageError("export: --per is auto, run or strategy; --direction is above or below")
    spec = ExportSpec(list(metrics), stat, threshold, direction, per, estimator=estimator)
    conn = connect(store, run_dirs)
    _warn(conn.warnings)
    directions = declared_directions(conn, spec.metrics, higher, lower)
    if versus:
        _versus(formats, per_run(conn, spec), spec, directions, fmt, out, caption)
        return
    table = summarise(per_run(conn, spec), spec)
    if fmt in ("json", "csv"):  # numbers stay numbers: mean, std and the interval's ends in columns of their own
        formats.write(table, fmt, out)
        return
    if "runs" in table.column_names:  # rows over seeds: the table says how sure its numbers are
        method = f"{'Mean' if estimator == 'mean' else 'IQM'} [{bootstrap_of(estimator)}]" + (
            "; k of n crossed [exact Clopper–Pearson interval]." if stat == "first-crossing" else ".")
        caption = method if caption is None else f"{caption.rstrip('.')}. {method}"
    formats.write(presentable(table, spec, precision, bold_best, fmt, directions), fmt, out, precision,
                  caption=caption)


def _versus(formats, per_run_table, spec, directions, fmt: str, out, caption: str | None) -> None:
    """The strategies against each other: numbers as numbers (csv, json), else P to two places and p to three
    significant digits, the method in the caption."""
    from ol.consumers.analytics.export import versus

    table = versus(per_run_table, spec, directions)
    if fmt not in ("json", "csv"):
        table = table.from_pylist([{k: v if k in ("A", "B") else "—" if v is None else
                                    f"{v:.2f}" if "P(A" in k else f"{v:.3g}" for k, v in r.items()}
                                   for r in table.to_pylist()])
        method = ("P(A better than B): the share of (A, B) run pairs where A's is better, ties half; p: two-sided "
                  f"permutation test of the difference in means over {', '.join(spec.metrics)}.")
        caption = method if caption is None else f"{caption.rstrip('.')}. {method}"
    formats.write(table, fmt, out, caption=caption)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        warn(w)
