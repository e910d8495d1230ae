"""The index's catalog: one SQLite database per store listing its runs, what each is, and where its data is.

SQLite in rollback-journal mode (not WAL: WAL's shared memory does not work across machines on a network
filesystem), every change in one short ``BEGIN IMMEDIATE`` transaction, every read of it in one
transaction, so a reader sees one consistent snapshot while an indexer on another machine commits.

Tables:
    dirs     the store root ('') and each experiment directory: the mtime seen when last listed, and
             whether that listing is settled (the mtime was older than RACY_SECONDS when read; a newer
             one may hide a change made in the same clock tick, so it is listed again next time)
    runs     one row per run directory (``experiment/run``): its stamp (what says it changed), whether a
             writer held it when last seen (live rows are read from their logs every time), its record
             (ol.store.read.listing.RunInfo as JSON, the run's view included; its metrics' summaries in a
             column of their own, since a listing needs none), whether its log could not be read whole
             (flagged), and for sealed runs the batch holding its data and its series index in that batch's
             series file
    batches  the immutable batch directories under data/: each file's identity (size, mtime, inode) as
             written, the runs written into it, and when it stopped being needed (retired)

The catalog is derived: deleting it (or the whole index) loses nothing, and one that does not open as
ours (wrong application id or version, not a database, truncated) is set aside and rebuilt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ol.store.index.files import CATALOG, index_key, regular_file
from ol.store.log.sharing import share_file

APPLICATION_ID = 0x6F6C6978  # "olix": a SQLite file with another id is not our catalog
INDEX_VERSION = 10  # 2: sealed with the user's key; 3: media payloads only in their own tables;
#                   4: each batch has its runs' rows (runs.parquet), summaries kept beside the record;
#                   5: records carry the run's sweep point; 6: each run's row sealed (its contents' MACs);
#                   7: "best" folded wherever the main metric was logged; 8: one flat record (no nested view);
#                   9: a step's epoch is a float64 column (fractional where a producer counts so);
#                   10: records carry the cluster job a run ran in and where its output went
RACY_SECONDS = 2.0
BUSY_MS = 60_000  # a reader waits this long for an indexer's commit (they take milliseconds)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, settled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    path TEXT PRIMARY KEY, experiment TEXT NOT NULL, stamp TEXT NOT NULL, live INTEGER NOT NULL,
    record TEXT NOT NULL, batch TEXT, series TEXT, summaries TEXT, flagged INTEGER NOT NULL,
    mac TEXT NOT NULL, series_mac TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_batch ON runs(batch);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, files TEXT NOT NULL, written TEXT NOT NULL, created REAL NOT NULL, retired REAL);
"""


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RUN_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_BATCH = re.compile(r"^b[0-9a-f]+-[0-9a-f]{6}$")
_FILE = re.compile(r"^[a-z_]+\.(parquet|arrow)$")


class CatalogDamaged(Exception):
    """The catalog file is not one this ol wrote (or is damaged): it is set aside and rebuilt."""


class RunRow(NamedTuple):  # a tuple, not a dataclass: a snapshot makes one per run (3× faster)
    path: str  # experiment directory / run directory, relative to the store
    experiment: str
    stamp: str
    live: bool
    record: str  # "" when read without records (an indexer needs only the stamps)
    batch: str | None
    series: str | None  # written by an indexer; never read with the rest (``Catalog.series_of``)
    summaries: str | None = None  # JSON: each metric's count, final and extremes
    flagged: bool = False  # its log could not be read whole: a reader says so without decoding every record


@dataclass(frozen=True)
class BatchRow:
    id: str
    files: dict[str, list[int]]
    written: list[list[str]]  # (experiment, run_id) of every run written into it
    created: float
    retired: float | None


@dataclass(frozen=True)
class CatalogState:
    """What the catalog said in one read transaction; ``tampered``: rows whose seal does not match what they say
    (edited by hand or by a stranger): left out of ``runs``, to be indexed again from their logs."""

    dirs: dict[str, tuple[int, bool]]
    runs: dict[str, RunRow]
    batches: dict[str, BatchRow]
    generation: int = 0
    tampered: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Glance:
    """What a sync needs to see that nothing changed, read without any run's record."""

    generation: int
    dirs: dict[str, tuple[int, bool]]
    live: list[str]  # runs a writer held when last seen
    experiments: set[str]  # the experiments the catalog has runs in


class Catalog:
    """An open catalog. Not thread-safe: one per thread (SQLite connections are not shared)."""

    def __init__(self, home: Path):
        self.path = Path(home) / CATALOG
        if os.path.lexists(self.path) and regular_file(self.path) is None:
            raise CatalogDamaged(f"{self.path} is not a regular file")
        self.key = index_key(home)
        _make_shared(self.path)
        try:
            self.con = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None,
                                       check_same_thread=False)
            self._prepare()
        except sqlite3.DatabaseError as e:
            raise CatalogDamaged(f"{self.path}: {e}") from None

    def _prepare(self) -> None:
        con = self.con
        con.execute("PRAGMA journal_mode = DELETE")
        con.execute("PRAGMA synchronous = FULL")
        app = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if app == 0 and version == 0:  # a new file: make it ours (another process may race us: IF NOT EXISTS)
            with self._changing(bump=False):  # statement by statement: executescript would commit on its own
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    con.execute(statement)
                catalog_id = secrets.token_hex(16)
                con.execute("INSERT INTO meta (key, value) VALUES ('id', ?), ('seal', ?)",
                            (catalog_id, _seal(self.key, catalog_id)))
                con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                con.execute(f"PRAGMA user_version = {INDEX_VERSION}")
        elif app != APPLICATION_ID or version != INDEX_VERSION:
            raise CatalogDamaged(f"{self.path} is not an index of this ol (application id {app:#x}, version {version})")
        self.con.execute("SELECT count(*) FROM runs").fetchone()  # a truncated file fails here, not mid-query
        meta = dict(self.con.execute("SELECT key, value FROM meta"))
        if not hmac.compare_digest(meta.get("seal", ""), _seal(self.key, meta.get("id", ""))):
            raise CatalogDamaged(f"{self.path} was not made by this user's ol, nor its lab's (a copied or shared "
                                 "store)")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def glance(self) -> Glance:
        """The generation, the directory rows, the live runs and the experiments, in one transaction."""
        con = self.con
        with self._reading():
            return Glance(self._generation(), self._dirs(),
                          [p for (p,) in con.execute("SELECT path FROM runs WHERE live = 1") if _RUN_PATH.match(p)],
                          {e for (e,) in con.execute("SELECT DISTINCT experiment FROM runs") if _NAME.match(e)})

    def generation(self) -> int:
        """A number every change of the catalog increases: equal numbers, equal catalogs."""
        with self._reading():
            return self._generation()

    def _generation(self) -> int:
        found = self.con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(found[0]) if found and str(found[0]).isdigit() else 0

    def _dirs(self) -> dict[str, tuple[int, bool]]:
        return {p: (m, bool(s)) for p, m, s in self.con.execute("SELECT path, mtime_ns, settled FROM dirs")
                if p == "" or _NAME.match(p)}

    def read(self, records: bool = True) -> CatalogState:
        """Everything but the runs' series indexes (``records``: and their records and summaries), in one
        transaction: a consistent snapshot even while another process commits. A series index is as large as a
        record and only a chart needs it, for the few runs it draws: at 10,000 runs, 12 MB not read each time."""
        con = self.con
        with self._reading():
            generation, dirs = self._generation(), self._dirs()
            # names become paths: anything but the plain names an indexer writes is left out, never joined
            texts = "record, batch, NULL, summaries" if records else "'', batch, NULL, NULL"
            runs, tampered, key = {}, [], self.key
            for r in con.execute(f"SELECT path, experiment, stamp, live, {texts}, flagged, mac FROM runs"):
                if not _RUN_PATH.match(r[0]) or not (r[5] is None or _BATCH.match(r[5])):
                    continue
                row = RunRow._make(r[:-1])
                if records and not hmac.compare_digest(r[-1], _row_mac(row, key)):
                    tampered.append(row.path)  # its text is not what an indexer of this user wrote
                    continue
                runs[row.path] = row
            batches = {b[0]: BatchRow(b[0], json.loads(b[1]), json.loads(b[2]), b[3], b[4]) for b in con.execute(
                "SELECT id, files, written, created, retired FROM batches") if _BATCH.match(b[0])}
            if any(not _FILE.match(name) for b in batches.values() for name in b.files):
                raise ValueError("a batch names a file no indexer writes")
        return CatalogState(dirs, runs, batches, generation, tampered)

    def series_of(self, rows: list[RunRow]) -> dict[str, str]:
        """The series index of each of these sealed runs, by path, where the catalog still holds the run as the
        row says (same stamp and batch); a run indexed again since is left out until the next snapshot."""
        wanted = {row.path: (row.stamp, row.batch) for row in rows if row.batch is not None}
        paths, out = list(wanted), {}
        for start in range(0, len(paths), 500):  # SQLite's limit on parameters is 999 in older builds
            chunk = paths[start:start + 500]
            for path, stamp, batch, series, mac in self.con.execute(
                    f"SELECT path, stamp, batch, series, series_mac FROM runs WHERE path IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                if series is not None and wanted[path] == (stamp, batch) and hmac.compare_digest(
                        mac, _series_mac(self.key, path, stamp, batch, series)):
                    out[path] = series
        return out

    def commit(self, *, dirs: dict[str, tuple[int, bool]], forget: list[str], rows: list[RunRow],
               expect: dict[str, str | None], batch: BatchRow | None = None) -> list[str]:
        """Apply one indexing step atomically. ``expect`` maps each row's path to the stamp this indexer saw
        before it read the log (None: no row); a row another indexer changed meanwhile is left as that one
        wrote it. Batches no run refers to any more are retired. Returns the paths written."""
        con, written = self.con, []
        with self._changing():
            if batch is not None:
                con.execute("INSERT INTO batches (id, files, written, created, retired) VALUES (?, ?, ?, ?, NULL)",
                            (batch.id, json.dumps(batch.files), json.dumps(batch.written), batch.created))
            for row in rows:
                now = con.execute("SELECT stamp FROM runs WHERE path = ?", (row.path,)).fetchone()
                if (now[0] if now else None) != expect.get(row.path) and not (now and now[0] == row.stamp):
                    continue  # another indexer got there first with what it saw: its row stands
                con.execute("INSERT OR REPLACE INTO runs (path, experiment, stamp, live, record, batch, series, "
                            "summaries, flagged, mac, series_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (row.path, row.experiment, row.stamp, int(row.live), row.record, row.batch, row.series,
                             row.summaries, int(row.flagged), _row_mac(row, self.key),
                             _series_mac(self.key, row.path, row.stamp, row.batch, row.series)))
                written.append(row.path)
            con.executemany("DELETE FROM runs WHERE path = ?", [(p,) for p in forget])
            for path, (mtime, settled) in dirs.items():
                if mtime < 0:
                    con.execute("DELETE FROM dirs WHERE path = ?", (path,))
                else:
                    con.execute("INSERT OR REPLACE INTO dirs (path, mtime_ns, settled) VALUES (?, ?, ?)",
                                (path, mtime, int(settled)))
            con.execute("UPDATE batches SET retired = ? WHERE retired IS NULL AND id NOT IN "
                        "(SELECT DISTINCT batch FROM runs WHERE batch IS NOT NULL)", (time.time(),))
        return written

    def drop_batches(self, ids: list[str]) -> None:
        with self._changing():
            self.con.executemany("DELETE FROM batches WHERE id = ?", [(i,) for i in ids])

    def invalidate(self, batch_ids: list[str]) -> None:
        """Forget what these batches hold: their runs are indexed again from their logs on the next sync."""
        con = self.con
        with self._changing():
            for batch in batch_ids:
                con.execute("UPDATE dirs SET settled = 0 WHERE path IN (SELECT experiment FROM runs WHERE batch = ?)",
                            (batch,))
                con.execute("UPDATE runs SET stamp = '{}', batch = NULL, series = NULL, mac = '' WHERE batch = ?",
                            (batch,))
                con.execute("UPDATE batches SET retired = ? WHERE id = ?", (time.time(), batch))

    def forget(self, paths: list[str]) -> None:
        """Drop these runs' rows (their seals failed) and list their experiments again on the next sync, which
        indexes them anew from their logs."""
        with self._changing():
            for path in paths:
                self.con.execute("UPDATE dirs SET settled = 0 WHERE path = ?", (path.partition("/")[0],))
                self.con.execute("DELETE FROM runs WHERE path = ?", (path,))

    def unsettle(self) -> None:
        """Make the next sync list every directory again (after a repair, or on request)."""
        with self._changing():
            self.con.execute("UPDATE dirs SET settled = 0")

    @contextmanager
    def _reading(self):
        """One read transaction (a consistent view while other processes commit); what a damaged or tampered file
        makes fail is CatalogDamaged."""
        self.con.execute("BEGIN")
        try:
            yield
        except (sqlite3.DatabaseError, ValueError) as e:
            raise CatalogDamaged(f"{self.path}: {e}") from None
        finally:
            self.con.execute("COMMIT")

    @contextmanager
    def _changing(self, bump: bool = True):
        """One write transaction, whole or not at all; a change grows the catalog's generation (``bump``), which
        long-lived readers compare."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
            if bump:
                self.con.execute("INSERT INTO meta (key, value) VALUES ('generation', '1') "
                                 "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise


def _make_shared(path: Path) -> None:
    """In a lab's index, the catalog is made group-writable before SQLite opens it (its journal then gets the
    same mode): every member's indexer writes it."""
    if os.path.lexists(path):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return
    try:
        share_file(fd, path.parent, group_writes=True)
    finally:
        os.close(fd)


def _seal(key: bytes, catalog_id: str) -> str:
    return hmac.new(key, f"ol-index:{catalog_id}".encode(), hashlib.sha256).hexdigest()


def _row_mac(row: RunRow, key: bytes) -> str:
    """The seal of what a run's row says (all but its series index, sealed apart since it is read apart): a row
    edited in a catalog sealed with one's own key (a store sent away and back) is not believed. Each field is
    length-prefixed, so no edit can move text from one field to another."""
    return _mac(key, b"ol-row", row.path, row.experiment, row.stamp, "1" if row.live else "0",
                row.record, row.batch, row.summaries, "1" if row.flagged else "0")


def _series_mac(key: bytes, path: str, stamp: str, batch: str | None, series: str | None) -> str:
    return _mac(key, b"ol-series", path, stamp, batch, series)


def _mac(key: bytes, kind: bytes, *fields: str | None) -> str:
    """Keyed BLAKE2b (a MAC by design, one call: a listing checks every run's row) of the fields, each written as
    its length, ':', itself (None as '-'), so no edit can move text from one field to another."""
    text = "".join("-" if f is None else f"{len(f)}:{f}" for f in fields)
    return hashlib.blake2b(kind + text.encode(), key=key[:64], digest_size=32).hexdigest()


def open_catalog(home: Path) -> Catalog:
    """The catalog, set aside and made anew when the file there is not a catalog of ours."""
    try:
        return Catalog(home)
    except CatalogDamaged:
        path = Path(home) / CATALOG
        aside = path.with_name(f"{CATALOG}.damaged-{int(time.time())}-{os.getpid()}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            pass
        for suffix in ("-journal", "-wal", "-shm"):  # a stale journal would be replayed into the new file
            try:
                os.unlink(str(path) + suffix)
            except FileNotFoundError:
                pass
        return Catalog(home)
