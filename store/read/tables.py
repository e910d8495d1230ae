"""A run's events as Arrow tables: steps (wide), epochs (wide), metrics (long), checkpoints, notes, events,
rank_steps (the steps of a run's other ranks when it spans processes, torchrun), and the vector and media
tables of media_tables.py (arrays, histograms, images, tables).

Every table carries ``experiment`` and ``run_id`` so files from many runs can be read together
by any Parquet reader. The resume projection is applied: each step appears once.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa

from ol.schemas import (
    ArrayData,
    Checkpoint,
    Epoch,
    Event,
    HistogramData,
    ImageData,
    Note,
    OrderRecorded,
    Step,
    TableData,
    event_kind,
    scalar_points,
)
from ol.store.errors import StoreError
from ol.store.log.rundir import log_path, other_ranks
from ol.store.read.arrow import EPOCH, RunData, project_long, project_steps, read_run
from ol.store.read.media_tables import MEDIA_SCHEMAS, MEDIA_TABLES, media_tables
from ol.store.read.projection import project
from ol.store.read.series import grouped, statistics

TABLES = ("steps", "epochs", "metrics", "metric_stats", "checkpoints", "notes", "events", "rank_steps", *MEDIA_TABLES)
_json = msgspec.json.Encoder()

EMPTY_SCHEMAS = {
    "steps": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("seq", pa.int64()),
                        ("step", pa.int64()), ("epoch", EPOCH), ("time", pa.float64()),
                        ("loss", pa.float64()), ("lr", pa.float64())]),
    "epochs": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("seq", pa.int64()),
                         ("epoch", pa.int64()), ("step", pa.int64()), ("time", pa.float64())]),
    "metrics": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("step", pa.int64()),
                          ("epoch", EPOCH), ("source", pa.string()), ("name", pa.string()),
                          ("value", pa.float64())]),
    "metric_stats": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("source", pa.string()),
                               ("name", pa.string()), ("count", pa.int64()), ("min", pa.float64()),
                               ("max", pa.float64()), ("mean", pa.float64()), ("first", pa.float64()),
                               ("final", pa.float64()), ("first_step", pa.int64()), ("final_step", pa.int64())]),
    "checkpoints": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("seq", pa.int64()),
                              ("step", pa.int64()), ("epoch", pa.int64()), ("path", pa.string()),
                              ("size", pa.int64()), ("sha256", pa.string()), ("reason", pa.string())]),
    "notes": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("seq", pa.int64()),
                        ("step", pa.int64()), ("epoch", pa.int64()), ("level", pa.string()),
                        ("message", pa.string())]),
    "events": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("seq", pa.int64()),
                         ("kind", pa.string()), ("step", pa.int64()), ("epoch", pa.int64()),
                         ("event", pa.string())]),
    # ranks 1… only: the rank_steps view adds rank 0 from steps, so a one-process run stores nothing twice
    "rank_steps": pa.schema([("experiment", pa.string()), ("run_id", pa.string()), ("rank", pa.int64()),
                             ("seq", pa.int64()), ("step", pa.int64()), ("epoch", EPOCH),
                             ("time", pa.float64())]),
    **MEDIA_SCHEMAS,
}


class RunTables(dict):
    """A run's tables by name, with its metrics grouped by metric (``groups``, series.grouped): what its statistics
    and its series are made of, grouped once for both when the index takes the run."""

    groups: list


def run_tables(run_dir: Path, experiment: str, run_id: str, data: RunData | None = None) -> RunTables:
    data = data or read_run(log_path(run_dir))
    events = project(data.events)
    steps = project_steps(data.steps, data.events)
    ident = {"experiment": experiment, "run_id": run_id}
    epochs = [(s, e) for s, e in events if type(e) is Epoch]
    # a wide, sparse run: its training scalars but loss and lr are points, not columns of the steps table
    long = project_long(data.long, data.events)
    metrics = _metrics(steps, events, ident, long)
    groups = list(grouped(metrics))
    tables = RunTables({
        "steps": _with_ident(steps, ident),
        "epochs": _epochs(epochs, ident),
        "metrics": metrics,
        "metric_stats": _stats(groups, ident),
        "checkpoints": _records("checkpoints", [(s, e) for s, e in events if type(e) is Checkpoint], ident,
                                lambda e: {"path": e.path, "size": e.size, "sha256": e.sha256, "reason": e.reason}),
        "notes": _records("notes", [(s, e) for s, e in events if type(e) is Note], ident,
                          lambda e: {"level": e.level, "message": e.message}),
        "events": _records("events", events, ident, lambda e: {"kind": event_kind(e), "event": _as_json(e)}),
        "rank_steps": _rank_steps(run_dir, ident),
        **media_tables(events, ident),
    })
    tables.groups = groups
    return tables


def _rank_steps(run_dir: Path, ident) -> pa.Table:
    """Every other rank's steps (its own stream, its own resume projection), with a rank column."""
    parts = []
    for rank, stream in other_ranks(run_dir):
        try:
            data = read_run(log_path(stream))
        except (StoreError, OSError):
            continue  # a rank's unreadable stream never hides the run (rank 0) from the views; `ol verify` shows it
        steps = project_steps(data.steps, data.events)
        ranks = pa.array(np.full(steps.num_rows, rank, dtype=np.int64))
        parts.append(pa.table({"rank": ranks, **{c: steps.column(c) for c in steps.column_names}}))
    if not parts:
        return EMPTY_SCHEMAS["rank_steps"].empty_table()
    return _with_ident(pa.concat_tables(parts, promote_options="permissive"), ident)


def _const(value: str, n: int) -> pa.Array:
    """A constant string column as a dictionary array: one copy of the string, n small indices."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


def _with_ident(table: pa.Table, ident: dict[str, str]) -> pa.Table:
    n = table.num_rows
    cols = {k: _const(v, n) for k, v in ident.items()}  # dictionary-encoded: readers see plain strings
    return pa.table({**cols, **{name: table.column(name) for name in table.column_names}})


def _epochs(epochs: list[tuple[int, Epoch]], ident) -> pa.Table:
    if not epochs:
        return EMPTY_SCHEMAS["epochs"].empty_table()
    names = list(dict.fromkeys(k for _, e in epochs for k in e.metrics))
    data = {
        "seq": pa.array([s for s, _ in epochs], pa.int64()),
        "epoch": pa.array([e.epoch for _, e in epochs], pa.int64()),
        "step": pa.array([e.step for _, e in epochs], pa.int64()),
        "time": pa.array([e.time for _, e in epochs], pa.float64()),
    }
    for name in names:
        data[name] = pa.array([e.metrics.get(name) for _, e in epochs], pa.float64())
    return _with_ident(pa.table(data), ident)


def _metrics(steps: pa.Table, events: list[tuple[int, Event]], ident, long: pa.Table | None = None) -> pa.Table:
    """The long table: one row per scalar, with where it came from (train, eval, or a hook)."""
    parts = []
    if long is not None and long.num_rows:
        parts.append(pa.table({"step": long.column("step"), "epoch": long.column("epoch"),
                               "source": _const("train", long.num_rows),
                               "name": long.column("name").dictionary_encode(), "value": long.column("value")}))
    fixed = {"seq", "step", "epoch", "time"}
    names = [c for c in steps.column_names if c not in fixed]
    n = steps.num_rows
    if names and n:  # every step column at once, column after column (a run may have thousands of them)
        values = pa.concat_arrays([a for c in names for a in steps.column(c).cast(pa.float64()).chunks])
        step, epoch = steps.column("step").combine_chunks(), steps.column("epoch").combine_chunks()
        which = pa.array(np.repeat(np.arange(len(names), dtype=np.int32), n))
        part = pa.table({"step": pa.concat_arrays([step] * len(names)), "epoch": pa.concat_arrays([epoch] * len(names)),
                         "source": _const("train", n * len(names)),
                         "name": pa.DictionaryArray.from_arrays(which, pa.array(names, pa.string())), "value": values})
        parts.append(part.filter(values.is_valid()) if values.null_count else part)
    # the points events carry, but the training step's: its values are the steps table's columns
    rows = [(e.step, e.epoch, *point) for _, e in events if type(e) is not Step for point in scalar_points(e)]
    if rows:
        step, epoch, source, name, value = zip(*rows, strict=True)
        parts.append(pa.table({"step": pa.array(step, pa.int64()), "epoch": pa.array(epoch, EPOCH),
                               "source": pa.array(source).dictionary_encode(),
                               "name": pa.array(name).dictionary_encode(),
                               "value": pa.array(value, pa.float64())}))
    if not parts:
        return EMPTY_SCHEMAS["metrics"].empty_table()
    label = pa.dictionary(pa.int32(), pa.string())
    parts = [p.cast(pa.schema([("step", pa.int64()), ("epoch", EPOCH), ("source", label),
                               ("name", label), ("value", pa.float64())])) for p in parts]
    return _with_ident(pa.concat_tables(parts), ident)


def _stats(groups: list, ident) -> pa.Table:
    """Per metric of the run: the statistics of its points, computed once when the run is indexed, so
    per-run summaries (`ol export`, "best test accuracy per strategy") never scan every point."""
    rows = [{"source": source, "name": name, **statistics(step, value)}
            for source, name, step, _, value in groups]
    if not rows:
        return EMPTY_SCHEMAS["metric_stats"].empty_table()
    schema = pa.schema([f for f in EMPTY_SCHEMAS["metric_stats"] if f.name not in ("experiment", "run_id")])
    return _with_ident(pa.Table.from_pylist(rows, schema=schema), ident)


def _records(table: str, events: list[tuple[int, Event]], ident, fields) -> pa.Table:
    if not events:
        return EMPTY_SCHEMAS[table].empty_table()
    schema = EMPTY_SCHEMAS[table]
    rows = [{**ident, "seq": s, "step": getattr(e, "step", None), "epoch": getattr(e, "epoch", None), **fields(e)}
            for s, e in events]
    return pa.Table.from_pylist(rows, schema=schema)


def _as_json(event: Event) -> str:
    # NaN/inf become null: JSON has neither; the typed views keep them
    return _json.encode(event_summary(event)).decode()


def event_summary(event: Event) -> Event | dict:
    """An event as the events table lists it: a media event's payload (array bytes, bins, image bytes,
    table rows) is replaced by its size, since the arrays/histograms/images/tables views hold it. A list
    of events stays small whatever was logged (a 1 M-row table is one short line, not 30 MB of JSON)."""
    if type(event) is ArrayData:
        return {**_fields(event, "data"), "bytes": len(event.data)}
    if type(event) is HistogramData:
        return {**_fields(event, "edges", "counts"), "bins": len(event.counts)}
    if type(event) is ImageData:
        return {**_fields(event, "data"), "bytes": len(event.data)}
    if type(event) is TableData:
        return {**_fields(event, "rows"), "rows": len(event.rows)}
    if type(event) is OrderRecorded:
        return {**_fields(event, "ids"), "bytes": len(event.ids)}
    return event


def _fields(event: Event, *payload: str) -> dict:
    return {f: getattr(event, f) for f in event.__struct_fields__ if f not in payload}
