"""A log as Arrow: step events straight from column blocks (no Python object per row), plus the rest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ol.schemas import MAX_METRIC_NAMES, MAX_NAME_CHARS, Event, Step
from ol.store.log.columns import StepColumns, decode_arrays
from ol.store.log.reader import LogReader
from ol.store.read.projection import keep, markers

STEP_COLUMNS = ("seq", "step", "epoch", "time", "loss", "lr")
# a step's epoch as its producer counted it: whole for ol train and Lightning, fractional for a Trainer (0.156)
EPOCH = pa.float64()
# Cells (rows × scalar columns) of a run's wide step table past which, when fewer than one in SPARSE of them would
# hold a value, its other scalars are kept long instead (seq, step, epoch, name, value): a run of 1,000 names each
# logged at its own 200 steps would otherwise make a table of 200,000 × 1,000 nulls (3 GB, and every reader of
# the store waited for it). A dense run of any size keeps its columns.
WIDE_CELLS = 4_000_000
SPARSE = 10
LONG_SCHEMA = pa.schema([("seq", pa.int64()), ("step", pa.int64()), ("epoch", EPOCH), ("name", pa.string()),
                         ("value", pa.float64())])


@dataclass
class RunData:
    """One pass over a log: step events as Arrow, every other event as objects, and what was lost."""

    steps: pa.Table
    events: list[tuple[int, Event]]
    reader: LogReader
    # a run too wide and sparse for one column per scalar (WIDE_CELLS): its scalars but loss and lr, long
    long: pa.Table | None = None


def read_run(log_dir: Path, reader: LogReader | None = None) -> RunData:
    """Read a whole log once: column blocks straight to Arrow, other events decoded."""
    reader = reader or LogReader(log_dir)
    pieces: list[pa.Table] = []
    loose: list[tuple[int, Step]] = []
    others: list[tuple[int, Event]] = []
    for frame in reader.frames():
        seq = frame.first_seq
        for item in frame.items:
            if type(item) is StepColumns:
                pieces.append(_block_table(item, seq))
                seq += item.n
                continue
            if type(item) is Step:
                loose.append((seq, item))
            elif item is not None:
                others.append((seq, item))
            seq += 1
    names = list(dict.fromkeys([c for t in pieces for c in t.column_names if c not in STEP_COLUMNS] +
                               [k for _, step in loose for k in step.extra]))
    too_long = [n for n in names if len(n) > MAX_NAME_CHARS]
    if too_long or len(names) > MAX_METRIC_NAMES:  # a log ol did not write: the first names it may have are read
        if too_long:
            reader.report.invalid.append(f"{len(too_long):,} scalar name(s) over {MAX_NAME_CHARS} characters (their "
                                         "values were not read)")
            names = [n for n in names if len(n) <= MAX_NAME_CHARS]
        if len(names) > MAX_METRIC_NAMES:
            reader.report.invalid.append(f"{len(names) - MAX_METRIC_NAMES:,} scalar names past the "
                                         f"{MAX_METRIC_NAMES:,} a run may have (their values were not read)")
        names = names[:MAX_METRIC_NAMES]
        kept = set(names)
        pieces = [t.select([c for c in t.column_names if c in STEP_COLUMNS or c in kept]) for t in pieces]
    long = None
    cells = (sum(t.num_rows for t in pieces) + len(loose)) * len(names)
    if cells > WIDE_CELLS and _values(pieces, loose) * SPARSE < cells:
        long = _long(pieces, loose, set(names))
        pieces = [t.select([c for c in t.column_names if c in STEP_COLUMNS]) for t in pieces]
        names = []
    if loose:
        pieces.append(_rows_table(loose, names))
    if not pieces:
        table = pa.table({name: pa.array([], pa.float64() if name in ("time", "loss", "lr") else pa.int64())
                          for name in STEP_COLUMNS})
    else:
        table = pa.concat_tables(_unify(pieces), promote_options="permissive")
        if loose:
            table = table.sort_by("seq")
    return RunData(table, others, reader, long)


def _values(pieces: list[pa.Table], loose: list[tuple[int, Step]]) -> int:
    """How many scalar values (not loss, lr) these blocks and loose steps hold."""
    held = sum(len(step.extra) for _, step in loose)
    return held + sum(t.num_rows - t.column(c).null_count for t in pieces for c in t.column_names
                      if c not in STEP_COLUMNS)


def _long(pieces: list[pa.Table], loose: list[tuple[int, Step]], names: set[str]) -> pa.Table:
    """Every scalar but loss and lr, of these column blocks and loose steps, as (seq, step, epoch, name, value)
    rows: one per value given (a null is a scalar not logged at that step; NaN is a value)."""
    parts = []
    for t in pieces:
        for name in t.column_names:
            if name in STEP_COLUMNS:
                continue
            column = t.column(name)
            part = pa.table({"seq": t.column("seq"), "step": t.column("step"), "epoch": t.column("epoch"),
                             "name": pa.nulls(t.num_rows, pa.string()).fill_null(name),
                             "value": column.cast(pa.float64())})
            parts.append(part.filter(column.is_valid()) if column.null_count else part)
    rows = [(seq, step.step, step.epoch, k, v) for seq, step in loose for k, v in step.extra.items() if k in names]
    if rows:
        seq, step, epoch, name, value = zip(*rows, strict=True)
        parts.append(pa.table({"seq": pa.array(seq, pa.int64()), "step": pa.array(step, pa.int64()),
                               "epoch": pa.array(epoch, EPOCH), "name": pa.array(name, pa.string()),
                               "value": pa.array(value, pa.float64())}))
    if not parts:
        return LONG_SCHEMA.empty_table()
    return pa.concat_tables([p.cast(LONG_SCHEMA) for p in parts]).sort_by("seq")


def project_steps(steps: pa.Table, events: list[tuple[int, Event]]) -> pa.Table:
    """The resume projection on a step table (drop rows past a later resume marker's step), then one row
    per step: several ``log()`` calls for the same step are that step's values together."""
    return merge_same_steps(_drop_resumed(steps, events))


def merge_same_steps(steps: pa.Table) -> pa.Table:
    """Consecutive rows of one step become one: each column's last value given for it (a value logged
    twice keeps the later one), ``seq`` the first row's. Vectorised; a table with no repeats is returned
    as it is."""
    if steps.num_rows < 2:
        return steps
    step = steps.column("step").to_numpy(zero_copy_only=False)
    starts = np.concatenate([[True], step[1:] != step[:-1]])
    if starts.all():
        return steps
    grouped = steps.append_column("_row", pa.array(np.cumsum(starts) - 1))
    columns = [c for c in steps.column_names if c != "seq"]
    merged = grouped.group_by("_row", use_threads=False).aggregate(
        [("seq", "first")] + [(c, "last") for c in columns])  # "last" skips nulls: the last value given
    merged = merged.sort_by("_row")
    return pa.table({"seq": merged.column("seq_first"), **{c: merged.column(f"{c}_last") for c in columns}})


def project_long(long: pa.Table | None, events: list[tuple[int, Event]]) -> pa.Table | None:
    """The resume projection on a run's long scalars (RunData.long), as on its step table."""
    return None if long is None else _drop_resumed(long, events)


def _drop_resumed(steps: pa.Table, events: list[tuple[int, Event]]) -> pa.Table:
    found = markers(events)
    if not found or steps.num_rows == 0:
        return steps
    seqs, step_values = steps.column("seq").to_numpy(), steps.column("step").to_numpy()
    return steps.filter(pa.array(keep(seqs, step_values, found)))


def _block_table(block: StepColumns, first_seq: int) -> pa.Table:
    own, cols = decode_arrays(block)
    n = block.n
    data = {
        "seq": pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64)),
        "step": pa.array(own["step"]),
        "epoch": pa.array(own["epoch"], EPOCH) if own["epoch"] is not None else pa.nulls(n, EPOCH),
        "time": pa.array(own["time"]),
        "loss": pa.array(cols["loss"]) if "loss" in cols else pa.nulls(n, pa.float64()),
        "lr": pa.array(cols["lr"]) if "lr" in cols else pa.nulls(n, pa.float64()),
    }
    for name in block.names:
        if name not in STEP_COLUMNS:  # a scalar named like a column of the table (older logs) is not one
            data[name] = pa.array(cols[name])
    return pa.table(data)


def _rows_table(rows: list[tuple[int, Step]], names: list[str]) -> pa.Table:
    """Loose steps as a table: the fixed columns, then one per scalar of ``names`` that they log."""
    wanted = set(names)
    extras = sorted({k for _, s in rows for k in s.extra if k in wanted and k not in STEP_COLUMNS})
    data = {
        "seq": pa.array([q for q, _ in rows], pa.int64()),
        "step": pa.array([s.step for _, s in rows], pa.int64()),
        "epoch": pa.array([s.epoch for _, s in rows], EPOCH),
        "time": pa.array([s.time for _, s in rows], pa.float64()),
        "loss": pa.array([s.loss for _, s in rows], pa.float64()),
        "lr": pa.array([s.lr for _, s in rows], pa.float64()),
    }
    for name in extras:
        data[name] = pa.array([s.extra.get(name) for _, s in rows], pa.float64())
    return pa.table(data)


def _unify(pieces: list[pa.Table]) -> list[pa.Table]:
    """Same column set and order in every piece, missing ones as nulls (NaN stays a value)."""
    names = list(dict.fromkeys([*STEP_COLUMNS, *(c for t in pieces for c in t.column_names)]))
    if all(t.column_names == names for t in pieces):
        return pieces
    out = []
    for t in pieces:
        has = set(t.column_names)
        cols = {n: t.column(n) if n in has else pa.nulls(t.num_rows, pa.float64()) for n in names}
        out.append(pa.table(cols))
    return out
