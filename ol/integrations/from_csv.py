"""A CSV of metrics as an ol run (Lightning's CSVLogger ``metrics.csv``, or any table with a ``step``
column): each other numeric column a metric at its row's step, ``epoch`` the step's epoch, and a
``hparams.yaml`` beside it (CSVLogger writes one) the run's config. A CSV has no clock: the imported
steps have no time. The file and its ``hparams.yaml`` are read as untrusted input (source_files.py)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ol.errors import UsageError
from ol.integrations.importing import Imported, hparams_yaml, plain_step
from ol.integrations.source_files import Refused, SourceTree, named_file
from ol.schemas import MAX_METRIC_NAMES

TIME_COLUMNS = ("time", "wall_time", "timestamp")  # unix seconds, when the file has them


def read(path: Path) -> Imported:
    path = named_file(path, "metrics CSV")
    tree = SourceTree(path.parent)
    run = Imported(name=path.parent.name or path.stem, origin=f"csv:{path}")
    try:
        raw = tree.open(path)
    except Refused as e:
        raise UsageError(f"import: {e}") from None
    with io.TextIOWrapper(raw, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f)
        header = _next(rows, run)
        if not header or "step" not in header:
            raise UsageError(f"import: {path} has no 'step' column; a metrics CSV needs one (Lightning's "
                             "CSVLogger writes it)")
        if len(header) > MAX_METRIC_NAMES + 8:
            run.skipped.append(f"{len(header):,} columns: only the first {MAX_METRIC_NAMES:,} metrics are imported")
            header = header[:MAX_METRIC_NAMES + 8]
        while True:
            row = _next(rows, run)
            if row is None:
                break
            _row(run, rows.line_num, dict(zip(header, row, strict=False)))  # a short row: the cells it has
    hparams_yaml(tree, path.parent, run)
    return run


def _next(rows, run: Imported) -> list[str] | None:
    """The next row; a row the csv module cannot read (a field over its size limit) is skipped with a note."""
    while True:
        try:
            return next(rows)
        except StopIteration:
            return None
        except csv.Error as e:
            run.skipped.append(f"line {rows.line_num}: {e}; the line was skipped")


def _row(run: Imported, number: int, row: dict) -> None:
    step = plain_step(_number(row.get("step")))
    if step is None:
        run.skipped.append(f"line {number}: step {row.get('step')!r} is not a whole number in range")
        return
    wall = _number(next((row[c] for c in TIME_COLUMNS if row.get(c)), None))
    epoch = plain_step(_number(row.get("epoch")))
    if epoch is not None:
        run.epochs[step] = epoch
    for name, raw in row.items():
        value = _number(raw)
        if name and name not in ("step", "epoch", *TIME_COLUMNS) and value is not None:
            run.add(step, name, value, wall)


def _number(raw) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if not math.isnan(value) else None
