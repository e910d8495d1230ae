"""What the dashboard knows of a store: its catalog of runs, the live ones followed, a run's details.

Runs are named ``experiment/run_id`` and only ever looked up in the catalog, never joined onto a
path, so no request can name a file outside the store. Sealed runs are compacted on first sight (as
`ol query` does) and read from their cache (curves.py); running runs from a LiveRun that follows
the log tail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ol.consumers.analytics.compact import fresh_manifest, parquet_paths
from ol.consumers.analytics.series import TIME
from ol.consumers.analytics.sql import ensure_compacted
from ol.consumers.ui.live import LiveRun
from ol.store.catalog import RunInfo, iter_run_dirs, run_info
from ol.store.errors import StoreError
from ol.store.reader import damage_summary
from ol.store.rundir import LOCK_FILE, log_path
from ol.store.segments import list_segments


class BadRequest(ValueError):
    """A request the dashboard cannot answer as asked: becomes HTTP 400 with this one line."""


@dataclass
class Entry:
    info: RunInfo
    stamp: tuple
    summaries: dict = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.info.experiment}/{self.info.run_id}"


class StoreView:
    def __init__(self, store: Path):
        self.store = Path(store)
        self._entries: dict[Path, Entry] = {}
        self._by_key: dict[str, Entry] = {}
        self._live: dict[Path, LiveRun] = {}
        self._lock = threading.RLock()
        self.warnings: list[str] = []

    # catalog ---------------------------------------------------------------------------------

    def refresh(self) -> list[Entry]:
        """The catalog now: run_info is re-read only for runs whose log or lock changed."""
        if not self.store.is_dir():
            self._entries, self._by_key = {}, {}
            return []
        with self._lock:
            seen = {}
            stale = []
            for run_dir in iter_run_dirs(self.store):
                stamp = _stamp(run_dir)
                entry = self._entries.get(run_dir)
                if entry is None or entry.stamp != stamp or entry.info.status == "running":
                    entry = Entry(run_info(run_dir), stamp)
                    if entry.info.status != "running":
                        stale.append(entry)
                seen[run_dir] = entry
            self._entries = seen
            self._by_key = {e.key: e for e in seen.values()}
            if stale:
                self._seal(stale)
            for run_dir, entry in seen.items():
                if entry.info.status == "running":
                    live = self.live(run_dir)
                    entry.summaries, entry.damage = live.summaries(), live.problems()
            return list(seen.values())

    def _seal(self, entries: list[Entry]) -> None:
        warnings: list[str] = []
        ensure_compacted([e.info for e in entries], warnings=warnings)
        self.warnings = warnings
        for e in entries:
            self._live.pop(e.info.dir, None)
            manifest = fresh_manifest(e.info.dir)
            if manifest is not None:
                e.summaries = manifest.get("series", {})
                e.damage = [str(x) for x in manifest.get("lost") or []]
            elif not e.info.problem:
                e.info.problem = "its log could not be compacted; run `ol verify`"

    @property
    def empty(self) -> bool:
        return not self._entries

    def entry(self, key: str) -> Entry:
        with self._lock:
            entry = self._by_key.get(key)
        if entry is None:
            self.refresh()
            entry = self._by_key.get(key)
        if entry is None:
            raise BadRequest(f"no run {key!r} in this store (runs are named experiment/run_id; see /api/runs)")
        return entry

    def live(self, run_dir: Path) -> LiveRun:
        with self._lock:
            live = self._live.get(run_dir)
            if live is None:
                live = self._live[run_dir] = LiveRun(run_dir)
        live.poll()
        return live

    def problem(self, entry: Entry) -> str:
        problems = [entry.info.problem] * bool(entry.info.problem) + entry.damage
        return damage_summary(entry.info.run_id, problems) if problems else ""

    def metric_names(self, entry: Entry) -> list[str]:
        if entry.info.status == "running":
            return self.live(entry.info.dir).keys()
        return [k for k in entry.summaries if k != TIME]

    # a run's page ----------------------------------------------------------------------------

    def vectors(self, entry: Entry) -> list[dict]:
        """What the run logged as arrays, histograms, images and tables: per name, how many, the last step and
        (arrays) shape; never the values themselves (a trajectory is θ every few steps)."""
        wanted = {"arrays": ["source", "name", "step", "shape"], "histograms": ["source", "name", "step"],
                  "images": ["source", "name", "step"], "tables": ["source", "name", "step"]}
        out: dict[tuple[str, str, str], dict] = {}
        for kind, cols in wanted.items():
            for row in self._table(entry, kind, cols).to_pylist():
                key = (kind, row["source"], row["name"])
                item = out.setdefault(key, {"kind": kind[:-1], "source": row["source"], "name": row["name"],
                                            "count": 0, "last_step": row["step"], "shape": row.get("shape")})
                item["count"] += 1
                if row["step"] >= item["last_step"]:
                    item["last_step"], item["shape"] = row["step"], row.get("shape")
        return sorted(out.values(), key=lambda v: (v["kind"], v["source"], v["name"]))

    def records(self, entry: Entry, table: str) -> list[dict]:
        """Rows of a run's checkpoints, notes or events table (compacted, or read from a live log)."""
        return self._table(entry, table).drop_columns(["experiment", "run_id"]).to_pylist()

    def _table(self, entry: Entry, table: str, columns: list[str] | None = None) -> pa.Table:
        """One of a run's tables (only ``columns``, when given): from its Parquet cache when that is fresh,
        else folded from the log (a live run's whole log, only for its page); empty when it cannot be read."""
        if entry.info.status != "running" and fresh_manifest(entry.info.dir) is not None:
            return pq.read_table(parquet_paths(entry.info.dir)[table], columns=columns)
        from ol.consumers.analytics.tables import EMPTY_SCHEMAS, run_tables
        try:
            found = run_tables(entry.info.dir, entry.info.experiment, entry.info.run_id)[table]
        except (StoreError, OSError):
            found = EMPTY_SCHEMAS[table].empty_table()
        return found.select(columns) if columns else found


def _stamp(run_dir: Path) -> tuple:
    """What changes when a run's log grows or its writer comes or goes."""
    segments = list_segments(log_path(run_dir))
    return (len(segments), *_file_stamp(segments[-1][1] if segments else None), *_file_stamp(run_dir / LOCK_FILE))


def _file_stamp(path: Path | None) -> tuple[int, int]:
    try:
        st = path.stat() if path is not None else None
    except OSError:
        st = None
    return (st.st_size, st.st_mtime_ns) if st else (-1, -1)
