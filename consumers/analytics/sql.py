"""DuckDB SQL over every run of a store, through stable views, on a connection that cannot write.

Sealed runs (ended, or crashed with no writer) are read from their compacted Parquet (built on
first use, rebuilt when the log grew); live runs are read from their logs into Arrow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from ol.consumers.analytics.compact import compact, fresh_manifest, is_fresh, parquet_paths
from ol.consumers.analytics.sql_guard import QueryError, checked_statement, first_line
from ol.consumers.analytics.tables import EMPTY_SCHEMAS, TABLES, run_tables
from ol.errors import OlError
from ol.store.arrow import read_run
from ol.store.catalog import RunInfo, iter_run_dirs, rank_streams, require_store, run_info
from ol.store.errors import StoreError
from ol.store.reader import damage_summary
from ol.store.rundir import log_path

VIEWS = ("runs", "ranks") + TABLES
RANKS_SCHEMA = pa.schema([("run_id", pa.string()), ("experiment", pa.string()), ("rank", pa.int64()),
                          ("world_size", pa.int64()), ("host", pa.string()), ("status", pa.string()),
                          ("started", pa.timestamp("us", tz="UTC")), ("ended", pa.timestamp("us", tz="UTC")),
                          ("wall_time", pa.float64()), ("last_step", pa.int64()), ("last_epoch", pa.int64()),
                          ("error", pa.string())])
RUN_COLUMNS = ("run_id", "run_name", "tags", "experiment", "strategy", "seed", "group", "status", "started", "ended",
               "wall_time", "last_step", "last_epoch", "error", "main_metric", "direction", "target",
               "total_epochs", "units", "dir", "config", "summary")
_HINT = f" (views: {', '.join(VIEWS)}; `ol query --schema`)"
INTERRUPTED_QUERY = "query: interrupted"
BATCH_ROWS = 65_536  # rows per streamed batch: output starts at once and memory stays flat


@dataclass
class StoreConnection:
    """A DuckDB connection over a store's views that can open no file but the Parquet it reads.

    Not thread-safe, except ``interrupt()``, which any thread may call to end a running query.
    """

    con: duckdb.DuckDBPyConnection
    runs: list[RunInfo]
    warnings: list[str] = field(default_factory=list)

    def stream(self, sql: str, params: dict | None = None, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """The result of one read-only statement as batches, never materialised whole."""
        statement = checked_statement(self.con, sql, _HINT)
        try:
            reader = self.con.sql(statement, params=params or None).to_arrow_reader(batch_rows)
        except duckdb.Error as e:
            raise _query_error(e) from None
        except RuntimeError as e:
            raise _interrupted(e) from None
        return pa.RecordBatchReader.from_batches(reader.schema, _batches(reader))

    def query(self, sql: str, params: dict | None = None) -> pa.Table:
        return self.stream(sql, params).read_all()

    def interrupt(self) -> None:
        self.con.interrupt()

    def schema(self) -> dict[str, list[tuple[str, str]]]:
        return {v: [(r[0], r[1]) for r in self.con.execute(f'DESCRIBE SELECT * FROM "{v}"').fetchall()] for v in VIEWS}


def _batches(reader: pa.RecordBatchReader):
    """Batches as DuckDB produces them, its errors (including an interrupt) as QueryError."""
    try:
        yield from reader
    except duckdb.Error as e:
        raise _query_error(e) from None
    except RuntimeError as e:
        raise _interrupted(e) from None


def _interrupted(e: RuntimeError) -> BaseException:
    """DuckDB 2 reports an interrupt as RuntimeError("Query interrupted") on some paths."""
    return QueryError(INTERRUPTED_QUERY) if "interrupted" in str(e).lower() else e


def _query_error(e: duckdb.Error) -> QueryError:
    if isinstance(e, duckdb.InterruptException):
        return QueryError(INTERRUPTED_QUERY)
    return QueryError(f"query: {first_line(e)}{_HINT}")


def select_runs(store: Path, run_dirs: list[Path] | None = None) -> list[RunInfo]:
    dirs = run_dirs if run_dirs is not None else list(iter_run_dirs(store))
    return [run_info(d) for d in dirs]


def ensure_compacted(runs: list[RunInfo], progress: Callable[[RunInfo], None] | None = None,
                     warnings: list[str] | None = None) -> list[RunInfo]:
    """Compact every sealed run whose cache is missing or stale; returns the runs compacted.

    Runs are compacted on one thread per core (Parquet writing and zstd release the GIL); memory
    stays bounded by the few runs in flight, never the store.
    """
    todo = [i for i in runs if i.status != "running" and not is_fresh(i.dir)]
    done = []
    with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
        futures = {pool.submit(compact, i.dir, i.experiment, i.run_id): i for i in todo}
        for future in as_completed(futures):
            info = futures[future]
            try:
                future.result()
                done.append(info)
            except (StoreError, OSError) as e:
                if warnings is None:
                    raise
                warnings.append(_unreadable(info, e))
            if progress:
                progress(info)
    return done


def connect(store: Path, run_dirs: list[Path] | None = None,
            progress: Callable[[RunInfo], None] | None = None) -> StoreConnection:
    store = require_store(store)
    runs = select_runs(store, run_dirs)
    warnings: list[str] = []
    ensure_compacted(runs, progress, warnings)
    con = duckdb.connect(":memory:")
    parquet: dict[str, list[str]] = {t: [] for t in TABLES}
    live: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
    readable = []
    for info in runs:
        manifest = fresh_manifest(info.dir) if info.status != "running" else None
        if manifest is not None:
            for t, path in parquet_paths(info.dir).items():
                parquet[t].append(str(path))
            damage = [str(x) for x in manifest.get("lost") or []]
        elif info.status == "running":
            try:
                data = read_run(log_path(info.dir))
                for t, table in run_tables(info.dir, info.experiment, info.run_id, data).items():
                    live[t].append(table)
            except (StoreError, OSError) as e:
                warnings.append(_unreadable(info, e))
                continue
            damage = data.reader.report.problems()
        else:
            continue  # compaction failed: ensure_compacted has warned
        if info.problem or damage:
            warnings.append(damage_summary(info.run_id, [info.problem] * bool(info.problem) + damage))
        readable.append(info)
    _runs_view(con, readable)
    _ranks_view(con, readable)
    for t in TABLES:
        _create_view(con, t, parquet[t], live[t])
    _lock_down(con, [f for t in TABLES for f in parquet[t]])
    return StoreConnection(con, readable, warnings)


def runs_connection(runs: list[RunInfo]) -> StoreConnection:
    """Only the ``runs`` view (a dashboard's WHERE filter needs no metrics), locked down the same way."""
    con = duckdb.connect(":memory:")
    _runs_view(con, runs)
    _lock_down(con, [])
    return StoreConnection(con, runs)


def _runs_view(con, runs: list[RunInfo]) -> None:
    con.register("_ol_runs", _runs_table(runs))
    con.execute("CREATE VIEW runs AS SELECT * FROM _ol_runs")


def _ranks_view(con, runs: list[RunInfo]) -> None:
    """One row per stream of each run: rank 0 is the run itself; other ranks (torchrun) each have a status
    of their own, so a rank that died shows as crashed while the run follows rank 0."""
    rows = [{"run_id": r.run_id, "experiment": r.experiment, "rank": s.rank, "world_size": r.world_size,
             "host": s.host, "status": s.status, "started": _ts(s.started_at), "ended": _ts(s.ended_at),
             "wall_time": s.wall_time, "last_step": s.last_step, "last_epoch": s.last_epoch, "error": s.error}
            for r in runs for s in rank_streams(r.dir, r)]
    con.register("_ol_ranks", pa.Table.from_pylist(rows, schema=RANKS_SCHEMA))
    con.execute("CREATE VIEW ranks AS SELECT * FROM _ol_ranks")


def _unreadable(info: RunInfo, error: BaseException) -> str:
    return f"{info.run_id}: skipped, its log cannot be read ({error}); run `ol verify {info.run_id}`"


def _create_view(con, name: str, files: list[str], live: list[pa.Table]) -> None:
    # rank 0's steps are the steps view's; the rank_steps files hold only the other ranks
    sources = ["SELECT CAST(0 AS BIGINT) AS rank, * FROM steps"] if name == "rank_steps" else []
    if files:
        sources.append(f"SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true)")
    if live:
        table = pa.concat_tables(live, promote_options="permissive")
        con.register(f"_ol_live_{name}", table)
        sources.append(f"SELECT * FROM _ol_live_{name}")
    if not sources:
        con.register(f"_ol_empty_{name}", EMPTY_SCHEMAS[name].empty_table())
        sources.append(f"SELECT * FROM _ol_empty_{name}")
    con.execute(f"CREATE VIEW {name} AS " + " UNION ALL BY NAME ".join(sources))


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _lock_down(con, files: list[str]) -> None:
    """The second wall: whatever a statement is, it can open exactly the Parquet files the views read
    (not their directories, not the logs, nothing else), load nothing, and change no setting."""
    con.execute("SET enable_progress_bar = false")  # it would print into `ol query -f csv` output
    if files:
        con.execute(f"SET allowed_paths = {_sql_list(files)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


def _runs_table(runs: list[RunInfo]) -> pa.Table:
    later = {r.run_id: later_updates(r) for r in runs}  # run.config.update(...) and run.summary, from the log
    configs = {r.run_id: {**r.config, **later[r.run_id][0]} for r in runs}
    keys = list(dict.fromkeys(k for c in configs.values() for k, v in c.items() if scalar(v)))
    rows = []
    for r in runs:
        config, summary = configs[r.run_id], later[r.run_id][1]
        row = {
            # run_name, not name: the metrics views' own name column must stay unambiguous in a join
            "run_id": r.run_id, "run_name": r.name or None, "tags": list(r.tags), "experiment": r.experiment,
            "strategy": r.strategy, "seed": r.seed,
            "group": r.group, "status": r.status, "started": _ts(r.started_at), "ended": _ts(r.ended_at),
            "wall_time": r.wall_time, "last_step": r.last_step, "last_epoch": r.last_epoch, "error": r.error,
            # what the run said it is (its contract); NULL when it did not say
            "main_metric": r.contract.main_metric or None, "direction": r.contract.direction,
            "target": r.contract.target, "total_epochs": r.contract.total_epochs,
            "units": json.dumps(r.contract.units) if r.contract.units else None,
            "dir": str(r.dir), "config": json.dumps(config, default=str),
            "summary": json.dumps(summary, default=str) if summary else None,
        }
        for k in keys:
            row[k if k not in RUN_COLUMNS else f"config_{k}"] = config.get(k)
        rows.append(row)
    if not rows:
        return pa.table({c: pa.array([], pa.string()) for c in RUN_COLUMNS})
    table = pa.Table.from_pylist(rows)
    for name, kind in _TYPED_RUN_COLUMNS.items():  # a column every run left NULL still has its type
        found, at = table.schema.field(name).type, table.schema.get_field_index(name)
        if found == pa.null():
            table = table.set_column(at, name, pa.nulls(table.num_rows, kind))
        elif found != kind:  # tags no run set are a list of nothing; a target of 5 is still a float
            table = table.set_column(at, name, table.column(name).cast(kind))
    return table


_TYPED_RUN_COLUMNS = {"run_name": pa.string(), "tags": pa.list_(pa.string()), "seed": pa.int64(),
                      "wall_time": pa.float64(), "last_step": pa.int64(), "last_epoch": pa.int64(),
                      "main_metric": pa.string(), "direction": pa.string(), "target": pa.float64(),
                      "total_epochs": pa.int64(), "units": pa.string(), "summary": pa.string()}


def later_updates(info: RunInfo) -> tuple[dict, dict]:
    """(config updates, summary) the run recorded after it started, from the one fold (cached once sealed)."""
    from ol.store.fold import view_of

    try:
        view = view_of(info.dir)
    except (OlError, OSError):  # an unreadable log: its first frame's config stands, the damage is reported elsewhere
        return {}, {}
    return view.config_updates, view.summary


def scalar(value) -> bool:
    """Config values that become columns of the runs view (and of the dashboard's table)."""
    return isinstance(value, (int, float, str, bool)) or value is None


def _ts(unix: float | None):
    return None if unix is None else datetime.fromtimestamp(unix, tz=timezone.utc)


__all__ = ["VIEWS", "QueryError", "StoreConnection", "connect", "ensure_compacted", "runs_connection"]
