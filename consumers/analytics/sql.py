"""DuckDB SQL over every run of a store, through stable views, on a connection that cannot write.

Through the read model (store/read/snapshot.py): sealed runs are read from the store index's batch files
(runs indexed on first use, again when their log changed); live runs from their logs into Arrow.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from ol.consumers.analytics.sql_guard import QueryError, checked_statement, first_line
from ol.store import (
    EMPTY_SCHEMAS,
    TABLES,
    RunInfo,
    RunRow,
    Snapshot,
    StoreError,
    StoreReader,
    damage_summary,
    dir_in,
    open_snapshot,
    rank_streams,
    utc_time,
)
from ol.store import runs_arrow as runs_table

VIEWS = ("runs", "ranks") + TABLES
RANKS_SCHEMA = pa.schema([("run_id", pa.string()), ("experiment", pa.string()), ("rank", pa.int64()),
                          ("world_size", pa.int64()), ("host", pa.string()), ("status", pa.string()),
                          ("started", pa.timestamp("us", tz="UTC")), ("ended", pa.timestamp("us", tz="UTC")),
                          ("wall_time", pa.float64()), ("last_step", pa.int64()), ("last_epoch", pa.int64()),
                          ("error", pa.string())])
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
    records: Callable[[], list[RunInfo]]  # the records of the runs in view, decoded only when asked for
    warnings: list[str] = field(default_factory=list)
    limits: Limits = Limits()
    store: Path | None = None
    snapshot: Snapshot | None = None  # the read model's, this connection's views were made from

    @functools.cached_property
    def runs(self) -> list[RunInfo]:
        return self.records()

    @functools.cached_property
    def reader(self) -> StoreReader:
        """A reader of this connection's snapshot, for the curves of the runs in view (what a plot draws, read as
        the dashboard reads it): it reads the runs it is asked about, not the store."""
        return StoreReader(self.store, snapshot=self.snapshot)

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
    """Views over the store's runs (or only ``run_dirs``): sealed runs from the index's batch files (their
    records are not decoded: the runs view reads each batch's runs.parquet), live runs from their logs,
    through the read model."""
    snap = snapshot or open_snapshot(store, progress=progress)
    rows = snap.rows if run_dirs is None else snap.rows_of(run_dirs)
    warnings = list(snap.warnings)
    live: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
    logged: list[RunInfo] = []  # runs read from their logs now
    sealed: list[RunRow] = []
    for row in rows:
        if snap.sealed(row):
            sealed.append(row)
            info = snap.info(row) if row.flagged else None  # only a run whose log was damaged says more
        else:
            info = snap.info(row)
            if info is None:
                continue
            try:
                tables = snap.log_tables(info)
            except (StoreError, OSError) as e:
                warnings.append(_unreadable(info, e))
                continue
            for t, table in tables.items():
                live[t].append(table)
            logged.append(info)
        if info is not None and info.problems():
            warnings.append(damage_summary(info.run_id, info.problems()))
    in_view = {row.path for row in sealed} | {f"{i.dir.parent.name}/{i.dir.name}" for i in logged}
    con = duckdb.connect(":memory:")
    placed = snap.placement(sealed)
    sources = {t: snap.sources(sealed, t, placed) for t in ("runs", *TABLES)}
    members = [m for _, partial in sources.values() for m in partial]
    if members:
        con.register("_ol_members", pa.table({"file": [m[0] for m in members], "experiment": [m[1] for m in members],
                                              "run_id": [m[2] for m in members]}))
    files: list[str] = []
    for t, (whole, partial) in sources.items():
        shared = sorted({f for f, _, _ in partial})
        if t == "runs":
            _runs_view(con, snap.store, logged, whole, shared)
        else:
            _create_view(con, t, whole, shared, live[t])
        files += whole + shared
    _ranks_view(con, snap)
    _lock_down(con, sorted(set(files)), limits)
    return StoreConnection(con, lambda: [i for i in map(snap.info, rows) if i is not None and
                                         f"{i.dir.parent.name}/{i.dir.name}" in in_view], warnings, limits,
                           snap.store, snap)


def runs_connection(runs: list[RunInfo], store: Path, limits: Limits = Limits()) -> StoreConnection:
    """Only the ``runs`` view (a dashboard's WHERE filter needs no metrics), locked down the same way."""
    con = duckdb.connect(":memory:")
    _runs_view(con, store, runs, [], [])
    _lock_down(con, [], limits)
    return StoreConnection(con, lambda: runs, limits=limits, store=store)


def _runs_view(con, store: Path, logged: list[RunInfo], files: list[str], shared: list[str]) -> None:
    """The sealed runs' rows the indexer wrote into each batch, and the rows of runs read from their logs."""
    if logged or not (files or shared):
        con.register("_ol_live_runs", runs_table(logged, store))
    _create_view(con, "runs", files, shared, [], extra=["SELECT * FROM _ol_live_runs"] if logged or not (
        files or shared) else [], columns=dir_in(store))


def _ranks_view(con, snap: Snapshot) -> None:
    """One row per stream of each run: rank 0 is the run itself; other ranks (torchrun) each have a status
    of their own, so a rank that died shows as crashed while the run follows rank 0. A run on one process is
    its own row of the runs view; only runs on many have their other streams read."""
    columns = [f.name for f in RANKS_SCHEMA]
    single = ("SELECT run_id, experiment, CAST(0 AS BIGINT) AS rank, world_size, host, status, started, ended, "
              "wall_time, last_step, last_epoch, error FROM runs WHERE coalesce(world_size, 1) <= 1")
    spread = [Path(d) for (d,) in con.execute("SELECT dir FROM runs WHERE world_size > 1").fetchall()]
    rows = [{c: getattr(s, c, None) for c in columns} | {
            "run_id": r.run_id, "experiment": r.experiment, "world_size": r.world_size,
            "started": utc_time(s.started_at), "ended": utc_time(s.ended_at)}
            for r in snap.by_dirs(spread) for s in rank_streams(r.dir, r)]
    if not rows:
        con.execute(f"CREATE VIEW ranks AS {single}")
        return
    con.register("_ol_ranks", pa.Table.from_pylist(rows, schema=RANKS_SCHEMA))
    con.execute(f"CREATE VIEW ranks AS {single} UNION ALL BY NAME SELECT * FROM _ol_ranks")


def _unreadable(info: RunInfo, error: BaseException) -> str:
    return f"{info.run_id}: skipped, its log cannot be read ({error}); run `ol verify {info.run_id}`"


def _create_view(con, name: str, files: list[str], shared: list[str], live: list[pa.Table], extra: list[str] = (),
                 columns: str = "*") -> None:
    """A view over whole batch files, the member rows of batch files shared with runs not in view (or no
    longer indexed there), and live runs' tables (``extra``: other sources already registered)."""
    # rank 0's steps are the steps view's; the rank_steps files hold only the other ranks
    sources = ["SELECT CAST(0 AS BIGINT) AS rank, * FROM steps"] if name == "rank_steps" else []
    if files:
        sources.append(f"SELECT {columns} FROM read_parquet({_sql_list(files)}, union_by_name = true)")
    if shared:
        sources.append(f"SELECT {columns} FROM (SELECT t.* EXCLUDE (filename) FROM read_parquet({_sql_list(shared)}, "
                       "union_by_name = true, filename = true) t SEMI JOIN _ol_members m ON t.filename = m.file "
                       "AND t.experiment = m.experiment AND t.run_id = m.run_id)")
    live = [t for t in live if t.num_rows]  # as the indexer writes them: an empty one's plain types never meet
    if live:  # a filled one's dictionary-encoded columns (two live runs, one without epochs yet, failed to merge)
        table = pa.concat_tables(live, promote_options="permissive")
        con.register(f"_ol_live_{name}", table)
        sources.append(f"SELECT * FROM _ol_live_{name}")
    sources += [f"SELECT {columns} FROM ({sql})" for sql in extra]
    if not sources:
        # an empty table of the schema; from_batches, since building a table any other way loads pandas (0.3 s)
        con.register(f"_ol_empty_{name}", pa.RecordBatchReader.from_batches(EMPTY_SCHEMAS[name], []).read_all())
        sources.append(f"SELECT * FROM _ol_empty_{name}")
    con.execute(f"CREATE VIEW {name} AS " + " UNION ALL BY NAME ".join(sources))


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _lock_down(con, files: list[str], limits: Limits) -> None:
    """The second wall: whatever a statement is, it can open exactly the Parquet files the views read
    (not their directories, not the logs, nothing else), load nothing, change no setting, and take no more
    memory than its limit. Nothing spills to disk: DuckDB's default temporary directory is ``.tmp`` in the
    current directory with most of the disk allowed, whatever external access says; with none, a statement
    past the memory limit fails (QueryError) instead of writing gigabytes where the user stands."""
    con.execute("SET enable_progress_bar = false")  # it would print into `ol query -f csv` output
    con.execute("SET temp_directory = ''")
    con.execute("SET memory_limit = $m", {"m": limits.memory})
    if files:
        con.execute(f"SET allowed_paths = {_sql_list(files)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


__all__ = ["VIEWS", "QueryError", "StoreConnection", "connect", "runs_connection"]
