"""The runs table, served a page at a time: rows searched, sorted and cut on the server, so a store of
10,000 runs sends the page one screenful of rows (and their count), never the whole store.

The columns are the page's (static/app.js ``columns()``), by key: a row field (``run_id``, ``seed``,
``wall_time``…), ``main``/``best``/``target`` (the run's declared main metric), ``final:METRIC`` and
``config:KEY``. Empty cells sort last in either direction; numbers sort as numbers, text as people read
it (``r-2`` before ``r-10``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ol.store import RunInfo, StoreReader, main_fields, main_key, scalar

PAGE_SIZE = 200
MAX_PAGE = 1000
FIELDS = ("status", "run_id", "name", "experiment", "strategy", "seed", "group", "last_step", "last_epoch",
          "wall_time", "started")
_DIGITS = re.compile(r"(\d+)")


def column(key: str) -> Callable[[dict], object] | None:
    """The value a row shows in column ``key``; None when no column has that key."""
    if key in FIELDS:
        return lambda r: r[key]
    if key == "tags":
        return lambda r: ", ".join(r["tags"])
    if key == "main":
        return lambda r: r["main_series"] or None
    if key in ("best", "target"):
        field = "main_best" if key == "best" else "target"
        return lambda r: r[field] if r["main_series"] else None
    kind, _, name = key.partition(":")
    if kind == "final" and name:
        return lambda r: r["final"].get(name)
    if kind == "config" and name:
        return lambda r: r["config"].get(name)
    return None


def row(reader: StoreReader, i: RunInfo) -> dict:
    """A run as the table lists it: what it is, how far it got, its config and final values."""
    # the table shows the final value of every eval metric and of the loss (a Step field), from the
    # per-metric summaries the index (or the live follower) keeps: no point is read for a table
    final = {k: s["final"] for k, s in i.summaries.items() if _shows_final(k)}
    config = _config(i)
    return {"key": i.key, "experiment": i.experiment, "run_id": i.run_id, "name": i.name, "tags": list(i.tags),
            "strategy": i.strategy, "seed": i.seed,
            "group": i.group, "status": i.status, "started": i.started_at, "ended": i.ended_at,
            "wall_time": i.wall_time, "last_step": i.last_step, "last_epoch": i.last_epoch, "error": i.error,
            "job": i.job, "output": i.output,
            "problem": reader.problem(i), "config": config, "config_updates": i.config_updates,
            "summary": i.summary, "final": final, **main_fields(i), "main_series": main_key(i.contract, i.summaries)}


def overview(runs: list[RunInfo]) -> dict:
    """What the page needs to know of every row without the rows: the config keys and final metrics any of them
    shows, and whether any has a name, tags or a main metric (a column shown only then)."""
    return {"config_keys": list(dict.fromkeys(k for i in runs for k in _config(i))),
            "final_metrics": list(dict.fromkeys(k for i in runs for k in i.summaries if _shows_final(k))),
            "columns": {"name": any(i.name for i in runs), "tags": any(i.tags for i in runs),
                        "main": any(main_key(i.contract, i.summaries) for i in runs)}}


def _shows_final(metric: str) -> bool:
    # the table shows the final value of every eval metric and of the loss (a Step field), from the
    # per-metric summaries compaction (or the live follower) keeps: no point is read for a table
    return metric.startswith("eval/") or metric == "train/loss"


def _config(i: RunInfo) -> dict:
    # run.config.update(...) after the start: the table shows the config as it is now, as the runs view does
    return {k: v for k, v in i.config_now.items() if scalar(v)}


def in_started_order(runs: list[RunInfo], offset: int, limit: int) -> tuple[list[RunInfo], int]:
    """The page ``page_of`` gives for the default order (newest started first, no search) of ``runs`` already
    newest first: no row is built to sort them."""
    ordered = [i for i in runs if not _empty(i.started_at)] + [i for i in runs if _empty(i.started_at)]
    return ordered[offset:offset + limit], len(ordered)


def page_of(rows: list[dict], *, q: str, sort: str, desc: bool, offset: int, limit: int) -> tuple[list[dict], int]:
    """The rows of one page, and how many rows matched the search."""
    needle = q.strip().lower()
    if needle:
        rows = [r for r in rows if needle in _text(r)]
    get = column(sort) or column("started")
    present = [r for r in rows if _empty(get(r)) is False]
    empty = [r for r in rows if _empty(get(r))]
    present.sort(key=lambda r: _order(get(r)), reverse=desc)
    ordered = present + empty
    return ordered[offset:offset + limit], len(ordered)


def _text(row: dict) -> str:
    """Everything a row shows, lower-cased, for the search box (matches any column, as the page says)."""
    parts = [row[f] for f in FIELDS] + list(row["tags"]) + list(row["config"].values()) + list(row["final"].values())
    if row["main_series"]:
        parts.append(row["main_series"])
    return "\x1f".join("" if p is None else str(p) for p in parts).lower()


def _empty(value) -> bool:
    return value is None or value == "" or value != value  # NaN has no place in an order: it goes with the empty


def _order(value) -> tuple:
    """Numbers before text, numbers by value, text with its digit runs compared as numbers."""
    if isinstance(value, bool):
        return (0, float(value), ())
    if isinstance(value, (int, float)):
        return (0, float(value), ())
    return (1, 0.0, tuple(int(p) if p.isdigit() else p.lower() for p in _DIGITS.split(str(value))))
