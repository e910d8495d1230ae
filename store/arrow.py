"""A log as Arrow: step events straight from column blocks (no Python object per row), plus the rest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ol.schemas import Event, RunResumed, Step
from ol.store.columns import StepColumns, decode_arrays
from ol.store.reader import LogReader

STEP_COLUMNS = ("seq", "step", "epoch", "time", "loss", "lr")


@dataclass
class RunData:
    """One pass over a log: step events as Arrow, every other event as objects, and what was lost."""

    steps: pa.Table
    events: list[tuple[int, Event]]
    reader: LogReader


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
    if loose:
        pieces.append(_rows_table(loose))
    if not pieces:
        table = pa.table({name: pa.array([], pa.float64() if name in ("time", "loss", "lr") else pa.int64())
                          for name in STEP_COLUMNS})
    else:
        table = pa.concat_tables(_unify(pieces), promote_options="permissive")
        if loose:
            table = table.sort_by("seq")
    return RunData(table, others, reader)


def steps_table(log_dir: Path, reader: LogReader | None = None) -> pa.Table:
    """seq, step, epoch, time, loss, lr, then one float64 column per extra scalar (null where absent)."""
    return read_run(log_dir, reader).steps


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


def _drop_resumed(steps: pa.Table, events: list[tuple[int, Event]]) -> pa.Table:
    markers = [(seq, e.step) for seq, e in events if isinstance(e, RunResumed)]
    if not markers or steps.num_rows == 0:
        return steps
    seqs = steps.column("seq").to_numpy()
    step_values = steps.column("step").to_numpy()
    marker_seq = np.array([m[0] for m in markers], dtype=np.int64)
    # cutoff for a row = min step of the markers after it: a reversed running minimum
    suffix_min = np.minimum.accumulate(np.array([m[1] for m in markers], dtype=np.int64)[::-1])[::-1]
    after = np.searchsorted(marker_seq, seqs, side="right")  # index of the first marker after each row
    cutoff = np.append(suffix_min, np.iinfo(np.int64).max)[after]
    return steps.filter(pa.array(step_values <= cutoff))


def _block_table(block: StepColumns, first_seq: int) -> pa.Table:
    cols = decode_arrays(block)
    n = block.n
    data = {
        "seq": pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64)),
        "step": pa.array(cols["step"]),
        "epoch": pa.array(cols["epoch"]) if cols["epoch"] is not None else pa.nulls(n, pa.int64()),
        "time": pa.array(cols["time"]),
        "loss": pa.array(cols["loss"]) if "loss" in cols else pa.nulls(n, pa.float64()),
        "lr": pa.array(cols["lr"]) if "lr" in cols else pa.nulls(n, pa.float64()),
    }
    for name in block.names:
        if name not in ("loss", "lr"):
            data[name] = pa.array(cols[name])
    return pa.table(data)


def _rows_table(rows: list[tuple[int, Step]]) -> pa.Table:
    extras = sorted({k for _, s in rows for k in s.extra})
    data = {
        "seq": pa.array([q for q, _ in rows], pa.int64()),
        "step": pa.array([s.step for _, s in rows], pa.int64()),
        "epoch": pa.array([s.epoch for _, s in rows], pa.int64()),
        "time": pa.array([s.time for _, s in rows], pa.float64()),
        "loss": pa.array([s.loss for _, s in rows], pa.float64()),
        "lr": pa.array([s.lr for _, s in rows], pa.float64()),
    }
    for name in extras:
        data[name] = pa.array([s.extra.get(name) for _, s in rows], pa.float64())
    return pa.table(data)


def _unify(pieces: list[pa.Table]) -> list[pa.Table]:
    """Same column set and order in every piece, missing ones as nulls (NaN stays a value)."""
    names = list(STEP_COLUMNS)
    for t in pieces:
        names += [c for c in t.column_names if c not in names]
    if all(t.column_names == names for t in pieces):
        return pieces
    out = []
    for t in pieces:
        cols = {n: t.column(n) if n in t.column_names else pa.nulls(t.num_rows, pa.float64()) for n in names}
        out.append(pa.table(cols))
    return out
