"""The read model: the one interface every reader asks for a store's runs and their data.

``open_snapshot(store)`` syncs the index (store/index/indexer.py: only what changed since it last looked), reads
the catalog in one transaction, and answers from that: every run's record (identity, status, contract,
config as updated, summary, best/final of the main metric, each metric's summary), sealed runs' data as
the batch files that hold it, live runs' data from their logs. Whether a run is live is decided here once
(``from_log``); how resumes cut history and what "best" means were decided by the one fold when the run was
indexed (store/read/fold.py, store/read/projection.py). A snapshot's files are immutable (a batch is never changed,
only retired and, after a grace period, deleted), so a reader can use one for as long as a query lasts.

Before a batch is used its files are checked against what the indexer recorded (size, mtime, inode): a
batch file that is not the one the index wrote is never read; its runs are indexed again from their logs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ol.errors import OlError
from ol.store.errors import StoreError
from ol.store.index.catalog import BatchRow, CatalogDamaged, CatalogState, RunRow, open_catalog
from ol.store.index.files import DATA_DIR, SERIES_FILE, file_identity, index_home
from ol.store.index.indexer import indexer_lock, sync, tail_changed
from ol.store.log.rundir import log_path
from ol.store.read.fold import fold_data, fold_log
from ol.store.read.listing import RunInfo, paused_gc, record_from_json, require_store, run_info

if TYPE_CHECKING:  # the data side (pyarrow, numpy) loads when a run's data is read: a listing never needs it
    import pyarrow as pa


_SUMMARIES = msgspec.json.Decoder(dict[str, dict])


@dataclass
class Snapshot:
    store: Path
    home: Path
    rows: list[RunRow]  # every run's catalog row, sorted by experiment and run directory
    batches: dict[str, BatchRow]
    warnings: list[str] = field(default_factory=list)
    generation: int = 0  # the catalog's, when this was read
    _live: dict[str, RunInfo] = field(default_factory=dict)  # runs a writer held: their records read anew each time
    _records: dict = field(default_factory=dict)  # decoded records by (path, stamp, batch); a long-lived reader's
    _by_path: dict[str, RunRow] = field(default_factory=dict)
    _by_dir: dict[str, RunRow] = field(default_factory=dict)  # str(info.dir) of each record decoded: its row
    _runs: list[RunInfo] | None = None

    def __post_init__(self):
        self._by_path = {row.path: row for row in self.rows}

    @property
    def runs(self) -> list[RunInfo]:
        """Every run's record, decoded on first use (a query over the store's sealed runs never needs them)."""
        if self._runs is None:
            with paused_gc():
                self._runs = [info for info in map(self.info, self.rows) if info is not None]
        return self._runs

    def info(self, row: RunRow) -> RunInfo | None:
        """One run's record: read from its log now while a writer holds it, else the catalog's (None, with a
        warning, when it does not decode)."""
        if row.live:
            info = self._live[row.path]
        else:
            key = (row.path, row.stamp, row.batch)
            info = self._records.get(key)
            if info is None:
                try:
                    info = record_from_json(row.record, self.store)
                except (ValueError, TypeError, KeyError, OlError, msgspec.ValidationError):
                    self.warnings.append(f"index: the record of {row.path} does not decode; run `ol index rebuild`")
                    return None
                self._records[key] = info
        self._by_dir[str(info.dir)] = row
        return info

    def sealed(self, row: RunRow) -> bool:
        """Answered from the index: no writer held it when last seen, and its batch is in use."""
        return not row.live and row.batch in self.batches

    def row_of(self, info: RunInfo) -> RunRow | None:
        row = self._by_dir.get(str(info.dir))  # a string lookup: pathlib's parent costs 10 µs, per run per call
        return row if row is not None else self._by_path.get(f"{info.dir.parent.name}/{info.dir.name}")

    def from_log(self, info: RunInfo) -> bool:
        """Read from its log, not the index: a writer held it when the index last looked, or the index could
        not take it (its disk full, say) — the answer is then still right, only slower."""
        return info.status == "running" or (self.batch_of(info) is None and not info.problem)

    def batch_of(self, info: RunInfo) -> str | None:
        row = self.row_of(info)
        return row.batch if row is not None and self.sealed(row) else None

    def rows_of(self, run_dirs: list[Path]) -> list[RunRow]:
        """The rows of these run directories (those the store has), in the snapshot's order."""
        root = self.store.resolve()
        wanted = set()
        for d in run_dirs:
            try:
                wanted.add(Path(d).resolve().relative_to(root).as_posix())
            except ValueError:
                continue  # not in this store
        return [row for row in self.rows if row.path in wanted]

    def by_dirs(self, run_dirs: list[Path]) -> list[RunInfo]:
        return [info for info in map(self.info, self.rows_of(run_dirs)) if info is not None]

    def summaries(self, info: RunInfo) -> dict[str, dict]:
        """A sealed run's metrics' summaries (count, final, extremes), decoded once per record."""
        row = self.row_of(info)
        if not info.summaries and row is not None and row.summaries:
            try:
                info.summaries = _SUMMARIES.decode(row.summaries)
            except msgspec.DecodeError:  # NaN and Infinity are JSON only to Python's json module
                info.summaries = json.loads(row.summaries)
        return info.summaries

    def batch_file(self, batch: str, name: str) -> Path:
        return self.home / DATA_DIR / batch / name

    # sealed data -----------------------------------------------------------------------------------

    def sources(self, rows: list[RunRow], table: str,
                placed: dict[str, list[RunRow]] | None = None) -> tuple[list[str], list[tuple[str, str, str]]]:
        """Where ``table``'s rows of these sealed runs are: files to read whole (every run written into
        them is among ``rows`` and still indexed there), and (file, experiment, run_id) of the rows to
        keep from the other files (only their runs' records are decoded). ``placed``: ``placement(rows)``,
        when asked for many tables."""
        whole, partial = [], []
        for batch, members in sorted((placed or self.placement(rows)).items()):
            if f"{table}.parquet" not in self.batches[batch].files:
                continue  # no run of this batch has rows in that table
            path = str(self.batch_file(batch, f"{table}.parquet"))
            if len(members) == len(self.batches[batch].written):
                whole.append(path)
            else:
                partial += [(path, info.experiment, info.run_id) for info in map(self.info, members) if info]
        return whole, partial

    def placement(self, rows: list[RunRow]) -> dict[str, list[RunRow]]:
        """The sealed ones of ``rows`` by the batch holding them."""
        out: dict[str, list[RunRow]] = {}
        for row in rows:
            if self.sealed(row):
                out.setdefault(row.batch, []).append(row)
        return out

    def sealed_table(self, infos: list[RunInfo], table: str, columns: list[str] | None = None) -> pa.Table:
        """The rows of a table of those of ``infos`` that are sealed (only ``columns``), each batch file read
        once for all of its runs asked — not once per run, which for a page of 1,000 runs was 1,000 scans."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        from ol.store.read.tables import EMPTY_SCHEMAS

        by_batch: dict[str, list[RunInfo]] = {}
        for info in infos:
            batch = self.batch_of(info)
            if batch is not None and f"{table}.parquet" in self.batches[batch].files:
                by_batch.setdefault(batch, []).append(info)
        parts = []
        for batch, members in sorted(by_batch.items()):
            dataset = ds.dataset(str(self.batch_file(batch, f"{table}.parquet")), format="parquet")
            experiments, run_ids = {i.experiment for i in members}, [i.run_id for i in members]
            where = ds.field("run_id").isin(run_ids)
            if len(experiments) > 1:  # two experiments may each have a run of one id: only the pairs asked
                pair = pc.binary_join_element_wise(ds.field("experiment"), ds.field("run_id"), "/")
                where = pair.isin([f"{i.experiment}/{i.run_id}" for i in members])
            else:
                where &= ds.field("experiment") == next(iter(experiments))
            parts.append(dataset.to_table(columns=columns, filter=where))
        if not parts:
            return EMPTY_SCHEMAS[table].empty_table().select(columns or EMPTY_SCHEMAS[table].names)
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="default")

    def series(self, infos: list[RunInfo]) -> dict[str, tuple[Path, dict[str, dict]]]:
        """The series file and index (metric → levels and summary) of each of these runs that is sealed, by its
        directory (``str(info.dir)``): one query of the catalog for all of them (the catalog read leaves the
        indexes out: only a chart needs them)."""
        rows = {row.path: (str(info.dir), row) for info in infos
                if (row := self.row_of(info)) is not None and self.sealed(row)}
        if not rows:
            return {}
        try:
            with open_catalog(self.home) as catalog:
                found = catalog.series_of([row for _, row in rows.values()])
        except (CatalogDamaged, sqlite3.DatabaseError):
            return {}  # the next snapshot finds it rebuilt; a chart shows nothing for these runs meanwhile
        return {rows[path][0]: (self.batch_file(rows[path][1].batch, SERIES_FILE), json.loads(text))
                for path, text in found.items()}

    # live data -------------------------------------------------------------------------------------

    def folded(self, info: RunInfo) -> RunInfo:
        """The record with its whole log folded: the index's for a sealed run; a live one's log folded now."""
        if not info.folded:
            info.adopt(fold_log(info.dir))
        return info

    def log_tables(self, info: RunInfo) -> dict[str, pa.Table]:
        """The tables of a run that is not sealed, read from its log now (its record gains what the whole log's
        fold found and what was lost); StoreError saying why when the index could not take it (nor can a reader,
        then)."""
        from ol.store.read.arrow import read_run
        from ol.store.read.tables import run_tables

        if not self.from_log(info):
            raise StoreError(info.problem or "it is not in the index")
        data = read_run(log_path(info.dir))
        info.adopt(fold_data(data))
        info.damage = [str(x) for x in data.reader.report.problems()]
        return run_tables(info.dir, info.experiment, info.run_id, data)


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
    # rows whose seal failed, and sealed runs whose newest segment changed in place since they were indexed (one
    # lstat each): index those runs again from their logs, then read anew
    root = str(store)
    cut = [p for p, row in state.runs.items() if not row.live and tail_changed(f"{root}/{p}", row.stamp)]
    if state.tampered or cut:
        if state.tampered:
            warnings.append(f"index: {len(state.tampered)} run(s) in the catalog were not as this ol wrote them; "
                            "they were indexed again from their logs")
        with indexer_lock(home), open_catalog(home) as catalog:
            catalog.forget(state.tampered + cut)
        warnings += sync(store, progress=progress).warnings
        state = _read(home)
    forged = _forged(home, state)
    if forged:  # not the files the index wrote: index those runs again from their logs, then read anew
        warnings.append(f"index: {len(forged)} batch file(s) changed since they were written; "
                        "their runs were indexed again from the logs")
        with indexer_lock(home), open_catalog(home) as catalog:
            catalog.invalidate(forged)
        warnings += sync(store, progress=progress).warnings
        state = _read(home)
    return _snapshot(store, home, state, warnings, records)


def _again(home: Path, previous: Snapshot, warnings: list[str]) -> Snapshot | None:
    """``previous`` with its live runs read anew, if the catalog has not changed since and none of the batch
    files it reads was changed on disk (one lstat per file); None otherwise."""
    with open_catalog(home) as catalog:
        generation = catalog.generation()
    used = {row.batch for row in previous.rows if previous.sealed(row)}
    if generation != previous.generation or any(
            file_identity(home / DATA_DIR / b / name) != identity
            for b in used for name, identity in previous.batches[b].files.items()):
        return None
    live = {path: run_info(previous.store / path) for path in previous._live}
    return Snapshot(previous.store, home, previous.rows, previous.batches, warnings, generation, live,
                    previous._records)


def _read(home: Path) -> CatalogState:
    with open_catalog(home) as catalog:
        return catalog.read()


def _forged(home: Path, state: CatalogState) -> list[str]:
    """Batches in use whose files are not exactly the ones written (one lstat per file, none per run)."""
    used = {row.batch for row in state.runs.values() if row.batch is not None}
    return [b for b in sorted(used) if b in state.batches and any(
        file_identity(home / DATA_DIR / b / name) != identity for name, identity in state.batches[b].files.items())]


def _snapshot(store: Path, home: Path, state: CatalogState, warnings: list[str], records: dict | None) -> Snapshot:
    rows = [state.runs[path] for path in sorted(state.runs)]
    live = {row.path: run_info(store / row.path) for row in rows if row.live}  # what it is now, from its log
    if records is not None and len(records) > 2 * len(rows) + 64:  # drop records of rows since replaced
        used = {(r.path, r.stamp, r.batch) for r in rows}
        for key in [k for k in records if k not in used]:
            del records[key]
    return Snapshot(store, home, rows, {k: v for k, v in state.batches.items() if v.retired is None}, warnings,
                    state.generation, live, records if records is not None else {})


__all__ = ["Snapshot", "open_snapshot"]
