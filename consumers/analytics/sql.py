"""DuckDB SQL over every run of a store, through stable views, on a connection that cannot write.

Through the read model (store/readmodel.py): sealed runs are read from the store index's batch files
(runs indexed on first use, again when their log changed); live runs from their logs into Arrow.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from ol.consumers.analytics.sql_guard import QueryError, checked_statement, first_line
from ol.store.catalog import RunInfo, rank_streams
from ol.store.errors import StoreError
from ol.store.fold import RunView
from ol.store.reader import damage_summary
from ol.store.readmodel import Snapshot, open_snapshot
from ol.store.tables import EMPTY_SCHEMAS, TABLES

VIEWS = ("runs", "ranks") + TABLES
RANKS_SCHEMA = pa.schema([("run_id", pa.string()), ("experiment", pa.string()), ("rank", pa.int64()),
                          ("world_size", pa.int64()), ("host", pa.string()), ("status", pa.string()),
                          ("started", pa.timestamp("us", tz="UTC")), ("ended", pa.timestamp("us", tz="UTC")),
                          ("wall_time", pa.float64()), ("last_step", pa.int64()), ("last_epoch", pa.int64()),
                          ("error", pa.string())])
RUN_COLUMNS = ("run_id", "run_name", "tags", "experiment", "strategy", "seed", "group", "status", "started", "ended",
               "wall_time", "last_step", "last_epoch", "error", "main_metric", "direction", "target",
               "total_epochs", "units", "main_best", "main_best_epoch", "main_final", "target_epoch", "dir", "config",
               "summary")
_HINT = f" (views: {', '.join(VIEWS)}; `ol query --schema`)"
INTERRUPTED_QUERY = "query: interrupted"
BATCH_ROWS = 65_536  # rows per streamed batch: output starts at once and memory stays flat


@dataclass(frozen=True)
class Limits:
    """What one user statement may take: DuckDB's memory limit, and seconds before it is stopped (None: no
    limit); ``raise_with`` says how a user raises them, for the one-line error."""

    memory: str = "4GB"
    seconds: float | None = None
    raise_with: tuple[str, str] = ("--memory-limit", "--timeout")


DASHBOARD_LIMITS = Limits(memory="512MB", seconds=10.0, raise_with=("a narrower filter", "a narrower filter"))


@dataclass
class StoreConnection:
    """A DuckDB connection over a store's views that can open no file but the Parquet it reads.

    Not thread-safe, except ``interrupt()``, which any thread may call to end a running query.
    """

    con: duckdb.DuckDBPyConnection
    runs: list[RunInfo]
    warnings: list[str] = field(default_factory=list)
    limits: Limits = Limits()

    def stream(self, sql: str, params: dict | None = None, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """The result of one read-only statement as batches, never materialised whole; stopped with a
        QueryError naming the limit when it runs past the time limit or needs more than the memory limit."""
        statement = checked_statement(self.con, sql, _HINT)
        clock = _Deadline(self.con, self.limits)
        try:
            reader = self.con.sql(statement, params=params or None).to_arrow_reader(batch_rows)
        except duckdb.Error as e:
            clock.cancel()
            raise clock.error(e) from None
        except RuntimeError as e:
            clock.cancel()
            raise clock.interrupted(e) from None
        return pa.RecordBatchReader.from_batches(reader.schema, _batches(reader, clock))

    def query(self, sql: str, params: dict | None = None) -> pa.Table:
        return self.stream(sql, params).read_all()

    def interrupt(self) -> None:
        self.con.interrupt()

    def schema(self) -> dict[str, list[tuple[str, str]]]:
        return {v: [(r[0], r[1]) for r in self.con.execute(f'DESCRIBE SELECT * FROM "{v}"').fetchall()] for v in VIEWS}


class _Deadline:
    """Interrupts a statement that runs past the time limit, and words its errors by which limit it met."""

    def __init__(self, con, limits: Limits):
        self.limits, self.expired = limits, False
        self._timer = None
        if limits.seconds:
            self._timer = threading.Timer(limits.seconds, self._expire, args=(con,))
            self._timer.daemon = True
            self._timer.start()

    def _expire(self, con) -> None:
        self.expired = True
        con.interrupt()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def error(self, e: duckdb.Error) -> QueryError:
        if self.expired:
            return self._too_long()
        if isinstance(e, duckdb.OutOfMemoryException) or "out of memory" in str(e).lower():
            return QueryError(f"query: needs more memory than its limit ({self.limits.memory}); raise it with "
                              f"{self.limits.raise_with[0]}")
        return _query_error(e)

    def interrupted(self, e: RuntimeError) -> BaseException:
        return self._too_long() if self.expired else _interrupted(e)

    def _too_long(self) -> QueryError:
        return QueryError(f"query: stopped after {self.limits.seconds:g} s, its time limit; raise it with "
                          f"{self.limits.raise_with[1]}")


def _batches(reader: pa.RecordBatchReader, clock: _Deadline):
    """Batches as DuckDB produces them, its errors (including an interrupt) as QueryError."""
    try:
        yield from reader
    except duckdb.Error as e:
        raise clock.error(e) from None
    except RuntimeError as e:
        raise clock.interrupted(e) from None
    finally:
        clock.cancel()


def _interrupted(e: RuntimeError) -> BaseException:
    """DuckDB 2 reports an interrupt as RuntimeError("Query interrupted") on some paths."""
    return QueryError(INTERRUPTED_QUERY) if "interrupted" in str(e).lower() else e


def _query_error(e: duckdb.Error) -> QueryError:
    if isinstance(e, duckdb.InterruptException):
        return QueryError(INTERRUPTED_QUERY)
    return QueryError(f"query: {first_line(e)}{_HINT}")


def connect(store: Path, run_dirs: list[Path] | None = None, progress: Callable[[str], None] | None = None,
            snapshot: Snapshot | None = None, limits: Limits = Limits()) -> StoreConnection:
    """Views over the store's runs (or only ``run_dirs``): sealed runs from the index's batch files, live runs
    from their logs, through the read model."""
    snap = snapshot or open_snapshot(store, progress=progress)
    runs = snap.runs if run_dirs is None else snap.by_dirs(run_dirs)
    warnings = list(snap.warnings)
    live: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
    readable, sealed = [], []
    for info in runs:
        if snap.from_log(info):
            try:
                tables = snap.live(info).tables
            except (StoreError, OSError) as e:
                warnings.append(_unreadable(info, e))
                continue
            for t, table in tables.items():
                live[t].append(table)
        elif snap.batch_of(info) is None:
            warnings.append(_unreadable(info, info.problem or "it is not in the index"))
            continue
        else:
            sealed.append(info)
        if info.problems():
            warnings.append(damage_summary(info.run_id, info.problems()))
        readable.append(info)
    con = duckdb.connect(":memory:")
    _runs_view(con, readable)
    _ranks_view(con, readable)
    sources = {t: snap.sources(sealed, t) for t in TABLES}
    members = [m for _, partial in sources.values() for m in partial]
    con.register("_ol_members", pa.table({"file": [m[0] for m in members], "experiment": [m[1] for m in members],
                                          "run_id": [m[2] for m in members]},
                                         schema=pa.schema([("file", pa.string()), ("experiment", pa.string()),
                                                           ("run_id", pa.string())])))
    files: list[str] = []
    for t, (whole, partial) in sources.items():
        shared = sorted({f for f, _, _ in partial})
        _create_view(con, t, whole, shared, live[t])
        files += whole + shared
    _lock_down(con, sorted(set(files)), limits)
    return StoreConnection(con, readable, warnings, limits)


def runs_connection(runs: list[RunInfo], limits: Limits = Limits()) -> StoreConnection:
    """Only the ``runs`` view (a dashboard's WHERE filter needs no metrics), locked down the same way."""
    con = duckdb.connect(":memory:")
    _runs_view(con, runs)
    _lock_down(con, [], limits)
    return StoreConnection(con, runs, limits=limits)


def _runs_view(con, runs: list[RunInfo]) -> None:
    con.register("_ol_runs", _runs_table(runs))
    con.execute("CREATE VIEW runs AS SELECT * FROM _ol_runs")


def _ranks_view(con, runs: list[RunInfo]) -> None:
    """One row per stream of each run: rank 0 is the run itself; other ranks (torchrun) each have a status
    of their own, so a rank that died shows as crashed while the run follows rank 0."""
    rows = [{"run_id": r.run_id, "experiment": r.experiment, "rank": s.rank, "world_size": r.world_size,
             "host": s.host, "status": s.status, "started": _ts(s.started_at), "ended": _ts(s.ended_at),
             "wall_time": s.wall_time, "last_step": s.last_step, "last_epoch": s.last_epoch, "error": s.error}
            for r in runs for s in (rank_streams(r.dir, r) if r.world_size > 1 else [r])]
    con.register("_ol_ranks", pa.Table.from_pylist(rows, schema=RANKS_SCHEMA))
    con.execute("CREATE VIEW ranks AS SELECT * FROM _ol_ranks")


def _unreadable(info: RunInfo, error: BaseException) -> str:
    return f"{info.run_id}: skipped, its log cannot be read ({error}); run `ol verify {info.run_id}`"


def _create_view(con, name: str, files: list[str], shared: list[str], live: list[pa.Table]) -> None:
    """A view over whole batch files, the member rows of batch files shared with runs not in view (or no
    longer indexed there), and live runs' tables."""
    # rank 0's steps are the steps view's; the rank_steps files hold only the other ranks
    sources = ["SELECT CAST(0 AS BIGINT) AS rank, * FROM steps"] if name == "rank_steps" else []
    if files:
        sources.append(f"SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true)")
    if shared:
        sources.append(f"SELECT t.* EXCLUDE (filename) FROM read_parquet({_sql_list(shared)}, union_by_name = true, "
                       "filename = true) t SEMI JOIN _ol_members m ON t.filename = m.file "
                       "AND t.experiment = m.experiment AND t.run_id = m.run_id")
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


def _lock_down(con, files: list[str], limits: Limits) -> None:
    """The second wall: whatever a statement is, it can open exactly the Parquet files the views read
    (not their directories, not the logs, nothing else), load nothing, change no setting, and take no more
    memory than its limit (nothing spills to disk: external access is off)."""
    con.execute("SET enable_progress_bar = false")  # it would print into `ol query -f csv` output
    con.execute("SET memory_limit = $m", {"m": limits.memory})
    if files:
        con.execute(f"SET allowed_paths = {_sql_list(files)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


def _runs_table(runs: list[RunInfo]) -> pa.Table:
    configs = [r.config_now for r in runs]  # with run.config.update(...) after the start, from the one fold
    keys = list(dict.fromkeys(k for c in configs for k, v in c.items() if scalar(v)))
    rows = []
    for r, config in zip(runs, configs, strict=True):
        view = r.view or RunView()
        summary = view.summary
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
            # the main metric's best (at which epoch) and final value and when the target was reached: the
            # one fold's, as `ol runs` and summary.json say them
            "main_best": view.best, "main_best_epoch": view.best_epoch, "main_final": view.final,
            "target_epoch": view.target_epoch,
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
                      "total_epochs": pa.int64(), "units": pa.string(), "summary": pa.string(),
                      "main_best": pa.float64(), "main_best_epoch": pa.int64(), "main_final": pa.float64(),
                      "target_epoch": pa.int64()}


def scalar(value) -> bool:
    """Config values that become columns of the runs view (and of the dashboard's table)."""
    return isinstance(value, (int, float, str, bool)) or value is None


def _ts(unix: float | None):
    return None if unix is None else datetime.fromtimestamp(unix, tz=timezone.utc)


__all__ = ["VIEWS", "QueryError", "StoreConnection", "connect", "runs_connection"]
