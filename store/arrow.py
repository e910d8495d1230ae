"""Step events of a log as a pyarrow Table, straight from column blocks (no Python objects per row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from ol.schemas import Step
from ol.store.codec import PayloadDecoder
from ol.store.columns import StepColumns, decode_arrays
from ol.store.reader import LogReader

STEP_COLUMNS = ("seq", "step", "epoch", "time", "loss", "lr")


def steps_table(log_dir: Path, reader: LogReader | None = None) -> pa.Table:
    """seq, step, epoch, time, loss, lr, then one float64 column per extra scalar (null where absent)."""
    reader = reader or LogReader(log_dir)
    decoder = PayloadDecoder()
    pieces: list[pa.Table] = []
    loose: list[tuple[int, Step]] = []
    for frame in reader.frames():
        decoded = decoder.items(frame.payload)
        seq = frame.first_seq
        for item in decoded.items:
            if type(item) is StepColumns:
                pieces.append(_block_table(item, seq))
                seq += item.n
            else:
                if type(item) is Step:
                    loose.append((seq, item))
                seq += 1
    if loose:
        pieces.append(_rows_table(loose))
    if not pieces:
        return pa.table({name: pa.array([], pa.float64() if name in ("time", "loss", "lr") else pa.int64())
                         for name in STEP_COLUMNS})
    table = pa.concat_tables(_unify(pieces), promote_options="permissive")
    return table.sort_by("seq") if loose else table


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
