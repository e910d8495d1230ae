"""The ``runs`` table: one row per run, what SQL's ``runs`` view, the index's ``runs.parquet`` of each batch and
the dashboard's WHERE filter all read. Built here once from the runs' records (store/read/listing.py's RunInfo,
with the one fold's view), so a sealed run's row written by the indexer is the row a live run gets from its
log now."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from ol.store.read.record import RunInfo, main_fields

RUNS_FILE = "runs.parquet"  # in each batch of the index: its runs' rows
RUN_COLUMNS = ("run_id", "run_name", "tags", "experiment", "strategy", "seed", "group", "status", "started", "ended",
               "wall_time", "last_step", "last_epoch", "error", "main_metric", "direction", "target",
               "total_epochs", "units", "main_best", "main_best_epoch", "main_final", "target_epoch", "world_size",
               "host", "dir", "config", "summary")
_TYPED = {"run_name": pa.string(), "tags": pa.list_(pa.string()), "seed": pa.int64(),
          "started": pa.timestamp("us", tz="UTC"), "ended": pa.timestamp("us", tz="UTC"),
          "wall_time": pa.float64(), "last_step": pa.int64(), "last_epoch": pa.int64(),
          "main_metric": pa.string(), "direction": pa.string(), "target": pa.float64(),
          "total_epochs": pa.int64(), "units": pa.string(), "summary": pa.string(),
          "main_best": pa.float64(), "main_best_epoch": pa.int64(), "main_final": pa.float64(),
          "target_epoch": pa.int64(), "world_size": pa.int64(), "host": pa.string()}


def runs_table(runs: list[RunInfo], store: Path) -> pa.Table:
    """The rows of ``runs``: the fixed columns above, then each scalar config key (as updated after the start)
    as a column of its own (``config_<key>`` when it would shadow a fixed one). ``dir`` is relative to
    ``store`` (a store moved elsewhere keeps its index); readers prefix it with ``dir_in``."""
    configs = [r.config_now for r in runs]  # with run.config.update(...) after the start, from the one fold
    keys = list(dict.fromkeys(k for c in configs for k, v in c.items() if scalar(v)))
    rows = []
    for r, config in zip(runs, configs, strict=True):
        summary = r.summary
        row = {
            # run_name, not name: the metrics views' own name column must stay unambiguous in a join
            "run_id": r.run_id, "run_name": r.name or None, "tags": list(r.tags), "experiment": r.experiment,
            "strategy": r.strategy, "seed": r.seed,
            "group": r.group, "status": r.status, "started": utc_time(r.started_at), "ended": utc_time(r.ended_at),
            "wall_time": r.wall_time, "last_step": r.last_step, "last_epoch": r.last_epoch, "error": r.error,
            "total_epochs": r.contract.total_epochs,
            "units": json.dumps(r.contract.units) if r.contract.units else None,
            # what the run said its main metric is, its best (at which epoch) and final value and when the target
            # was reached: the record's fields (store/read/record.py), as every listing of runs names them
            **main_fields(r), "world_size": r.world_size, "host": r.host or None,
            "dir": _under(Path(r.dir), store), "config": json.dumps(config, default=str),
            "summary": json.dumps(summary, default=str) if summary else None,
        }
        for k in keys:
            row[k if k not in RUN_COLUMNS else f"config_{k}"] = config.get(k)
        rows.append(row)
    if not rows:
        return pa.schema([(c, _TYPED.get(c, pa.string())) for c in RUN_COLUMNS]).empty_table()
    table = pa.Table.from_pylist(rows)
    for name, kind in _TYPED.items():  # a column every run left NULL still has its type
        found, at = table.schema.field(name).type, table.schema.get_field_index(name)
        if found == pa.null():
            table = table.set_column(at, name, pa.nulls(table.num_rows, kind))
        elif found != kind:  # tags no run set are a list of nothing; a target of 5 is still a float
            table = table.set_column(at, name, table.column(name).cast(kind))
    return table


def dir_in(store: Path) -> str:
    """SQL for the ``runs`` columns with ``dir`` as a whole path again under ``store``."""
    prefix = str(Path(store)).replace("'", "''") + "/"
    return f"* REPLACE (CASE WHEN dir LIKE '/%' THEN dir ELSE '{prefix}' || dir END AS dir)"


def _under(run_dir: Path, store: Path) -> str:
    """The run's directory relative to the store; whole when it is not under it (a run named by its path)."""
    try:
        return run_dir.relative_to(store).as_posix()
    except ValueError:
        return str(run_dir.resolve())


def scalar(value) -> bool:
    """Config values that become columns of the runs view (and of the dashboard's table)."""
    return isinstance(value, (int, float, str, bool)) or value is None


def utc_time(unix: float | None) -> datetime | None:
    return None if unix is None else datetime.fromtimestamp(unix, tz=timezone.utc)


__all__ = ["RUNS_FILE", "RUN_COLUMNS", "dir_in", "runs_table", "scalar", "utc_time"]
