"""The read model: the one interface every reader asks for a store's runs and their data.

``open_snapshot(store)`` syncs the index (store/indexer.py: only what changed since it last looked), reads
the catalog in one transaction, and answers from that: every run's record (identity, status, contract,
config as updated, summary, best/final of the main metric, each metric's summary), sealed runs' data as
the batch files that hold it, live runs' data from their logs. Whether a run is live is decided here once
(``from_log``); how resumes cut history and what "best" means were decided by the one fold when the run was
indexed (store/fold.py, store/projection.py). A snapshot's files are immutable (a batch is never changed,
only retired and, after a grace period, deleted), so a reader can use one for as long as a query lasts.

Before a batch is used its files are checked against what the indexer recorded (size, mtime, inode): a
batch file that is not the one the index wrote is never read; its runs are indexed again from their logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ol.errors import OlError
from ol.store.catalog import STATUSES, RunInfo, record_from_json, require_store, run_info
from ol.store.errors import StoreError
from ol.store.fold import RunView, fold, fold_log
from ol.store.index_catalog import BatchRow, CatalogState, open_catalog
from ol.store.index_files import DATA_DIR, SERIES_FILE, file_identity, index_home
from ol.store.indexer import indexer_lock, sync
from ol.store.projection import project
from ol.store.rundir import log_path

if TYPE_CHECKING:  # the data side (pyarrow, numpy) loads when a run's data is read: a listing never needs it
    import pyarrow as pa

    from ol.store.arrow import RunData


@dataclass
class LiveData:
    """A live run's tables, read from its log now."""

    tables: dict[str, pa.Table]
    data: RunData


@dataclass
class Snapshot:
    store: Path
    home: Path
    runs: list[RunInfo]  # every run, sorted by experiment and run directory
    batches: dict[str, BatchRow]
    warnings: list[str] = field(default_factory=list)
    _batch_of: dict[Path, str] = field(default_factory=dict)
    _series: dict[Path, str] = field(default_factory=dict)
    generation: int = 0  # the catalog's, when this was read
    _live: set[Path] = field(default_factory=set)  # runs a writer held: their records are read anew each time

    def from_log(self, info: RunInfo) -> bool:
        """Read from its log, not the index: a writer held it when the index last looked, or the index could
        not take it (its disk full, say) — the answer is then still right, only slower."""
        return info.status == "running" or (self.batch_of(info) is None and not info.problem)

    def batch_of(self, info: RunInfo) -> str | None:
        return self._batch_of.get(info.dir)  # a Path already: wrapping it again costs a parse per call

    def by_dirs(self, run_dirs: list[Path]) -> list[RunInfo]:
        wanted = {Path(d).resolve() for d in run_dirs}
        return [r for r in self.runs if Path(r.dir).resolve() in wanted]

    def batch_file(self, batch: str, name: str) -> Path:
        return self.home / DATA_DIR / batch / name

    # sealed data -----------------------------------------------------------------------------------

    def sources(self, runs: list[RunInfo], table: str) -> tuple[list[str], list[tuple[str, str, str]]]:
        """Where ``table``'s rows of these sealed runs are: files to read whole (every run written into
        them is among ``runs`` and still indexed there), and (file, experiment, run_id) of the rows to
        keep from the other files."""
        chosen: dict[str, list[RunInfo]] = {}
        for r in runs:
            batch = self.batch_of(r)
            if batch is not None:
                chosen.setdefault(batch, []).append(r)
        whole, partial = [], []
        for batch, members in sorted(chosen.items()):
            files = self.batches[batch].files
            name = f"{table}.parquet"
            if name not in files:
                continue  # no run of this batch has rows in that table
            path = str(self.batch_file(batch, name))
            if len(members) == len(self.batches[batch].written):
                whole.append(path)
            else:
                partial += [(path, r.experiment, r.run_id) for r in members]
        return whole, partial

    def run_table(self, info: RunInfo, table: str, columns: list[str] | None = None) -> pa.Table:
        """One run's rows of a table: from its batch (only its rows, only ``columns``), or its log when live."""
        from ol.store.tables import EMPTY_SCHEMAS

        batch = self.batch_of(info)
        if batch is None:
            found = self.live(info).tables[table] if self.from_log(info) else EMPTY_SCHEMAS[table].empty_table()
            return found.select(columns) if columns else found
        if f"{table}.parquet" not in self.batches[batch].files:
            empty = EMPTY_SCHEMAS[table].empty_table()
            return empty.select(columns) if columns else empty
        import pyarrow.dataset as ds  # loads pandas: only for a run's own rows, never for a listing

        dataset = ds.dataset(str(self.batch_file(batch, f"{table}.parquet")), format="parquet")
        where = (ds.field("experiment") == info.experiment) & (ds.field("run_id") == info.run_id)
        return dataset.to_table(columns=columns, filter=where)

    def series(self, info: RunInfo) -> tuple[Path, dict[str, dict]] | None:
        """A sealed run's series file and its index in it (metric → levels and summary)."""
        batch, raw = self.batch_of(info), self._series.get(info.dir)
        if batch is None or raw is None:
            return None
        return self.batch_file(batch, SERIES_FILE), json.loads(raw)

    # live data -------------------------------------------------------------------------------------

    def view(self, info: RunInfo) -> RunView:
        """The whole log's view: kept by the index for a sealed run, folded from the log for a live one."""
        if info.view is None:
            info.view = fold_log(info.dir)
        return info.view

    def live(self, info: RunInfo) -> LiveData:
        """A live run's tables from its log; its record gains the whole log's view and what was lost."""
        from ol.store.arrow import read_run
        from ol.store.tables import run_tables

        data = read_run(log_path(info.dir))
        info.view = fold(e for _, e in project(data.events))
        info.damage = [str(x) for x in data.reader.report.problems()]
        return LiveData(run_tables(info.dir, info.experiment, info.run_id, data), data)


def list_runs(store: Path, experiment: str | None = None, status: str | None = None) -> list[RunInfo]:
    """The store's runs through the index, optionally of one experiment or status."""
    if status is not None and status not in STATUSES:
        raise StoreError(f"store: unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    return [r for r in open_snapshot(store).runs
            if (experiment is None or r.experiment == experiment) and (status is None or r.status == status)]


def open_snapshot(store: Path, *, sync_first: bool = True, progress=None, records: dict | None = None,
                  previous: Snapshot | None = None) -> Snapshot:
    """The store as the index and the live logs say it is now (see the module docstring). A long-lived
    reader passes the same ``records`` dict each time (a sealed run's record is decoded once, not on every
    snapshot) and its ``previous`` snapshot: while the catalog is unchanged, that one is answered again
    with only its live runs read anew, and no run's row is read."""
    store = require_store(store)
    warnings: list[str] = []
    if sync_first:
        warnings += sync(store, progress=progress).warnings
    home = index_home(store)
    if previous is not None and previous.store == store:
        again = _again(home, previous, warnings)
        if again is not None:
            return again
    state = _read(home)
    forged = _forged(home, state)
    if forged:  # not the files the index wrote: index those runs again from their logs, then read anew
        warnings.append(f"index: {len(forged)} batch file(s) changed since they were written; "
                        "their runs were indexed again from the logs")
        with indexer_lock(home):
            catalog = open_catalog(home)
            try:
                catalog.invalidate(forged)
            finally:
                catalog.close()
        warnings += sync(store, progress=progress).warnings
        state = _read(home)
    return _snapshot(store, home, state, warnings, records)


def _again(home: Path, previous: Snapshot, warnings: list[str]) -> Snapshot | None:
    """``previous`` with its live runs read anew, if the catalog has not changed since and none of the batch
    files it reads was changed on disk (one lstat per file); None otherwise."""
    catalog = open_catalog(home)
    try:
        generation = catalog.generation()
    finally:
        catalog.close()
    used = set(previous._batch_of.values())
    if generation != previous.generation or any(
            file_identity(home / DATA_DIR / b / name) != identity
            for b in used for name, identity in previous.batches[b].files.items()):
        return None
    runs = [run_info(r.dir) if r.dir in previous._live else r for r in previous.runs]
    return Snapshot(previous.store, home, runs, previous.batches, warnings, previous._batch_of, previous._series,
                    generation, previous._live)


def _read(home: Path) -> CatalogState:
    catalog = open_catalog(home)
    try:
        return catalog.read()
    finally:
        catalog.close()


def _forged(home: Path, state: CatalogState) -> list[str]:
    """Batches in use whose files are not exactly the ones written (one lstat per file, none per run)."""
    used = {row.batch for row in state.runs.values() if row.batch is not None}
    return [b for b in sorted(used) if b in state.batches and any(
        file_identity(home / DATA_DIR / b / name) != identity for name, identity in state.batches[b].files.items())]


def _snapshot(store: Path, home: Path, state: CatalogState, warnings: list[str], records: dict | None) -> Snapshot:
    snap = Snapshot(store, home, [], {k: v for k, v in state.batches.items() if v.retired is None}, warnings,
                    generation=state.generation)
    for path in sorted(state.runs):
        row = state.runs[path]
        if row.live:  # what it is now, from its log's first and last frames
            info = run_info(store / path)
            snap._live.add(info.dir)
        else:
            key = (path, row.stamp, row.batch)
            info = records.get(key) if records is not None else None
            if info is None:
                try:
                    info = record_from_json(row.record, store)
                except (ValueError, TypeError, KeyError, OlError):
                    warnings.append(f"index: the record of {path} does not decode; run `ol index rebuild`")
                    continue
                if records is not None:
                    records[key] = info
            if row.batch is not None and row.batch in snap.batches:
                snap._batch_of[info.dir] = row.batch
                snap._series[info.dir] = row.series
        snap.runs.append(info)
    if records is not None and len(records) > 2 * len(snap.runs) + 64:  # drop records of rows since replaced
        used = {(p, r.stamp, r.batch) for p, r in state.runs.items()}
        for key in [k for k in records if k not in used]:
            del records[key]
    return snap


__all__ = ["Snapshot", "LiveData", "list_runs", "open_snapshot"]
