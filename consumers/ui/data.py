"""What the dashboard knows of a store: its catalog of runs, the live ones followed, a run's details.

Runs are named ``experiment/run_id`` and only ever looked up in the catalog, never joined onto a
path, so no request can name a file outside the store. Sealed runs are read from the store's index
through the read model (store/readmodel.py), which indexes newly sealed runs on each refresh; running
runs from a LiveRun that follows the log tail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ol.consumers.ui.live import LiveRun
from ol.store import (
    EMPTY_SCHEMAS,
    TIME,
    RunInfo,
    RunView,
    Snapshot,
    StoreError,
    damage_summary,
    open_snapshot,
    paused_gc,
)

MEDIA_TABLES = ("arrays", "histograms", "images", "tables")  # what a workspace's media panels draw


class BadRequest(ValueError):
    """A request the dashboard cannot answer as asked: becomes HTTP 400 with this one line."""


@dataclass
class Entry:
    info: RunInfo
    stamp: tuple
    summaries: dict = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    series: tuple | None = None  # (series file, this run's index in it), read from the catalog when first drawn
    view: RunView | None = None  # the run's fold: its record's, or its live follower's

    @property
    def key(self) -> str:
        return f"{self.info.experiment}/{self.info.run_id}"


class StoreView:
    """The dashboard's side of the read model: the latest snapshot, and a LiveRun following each live run."""

    def __init__(self, store: Path):
        self.store = Path(store)
        self.snapshot: Snapshot | None = None
        self._entries: list[Entry] = []
        self._by_key: dict[str, Entry] = {}
        self._live: dict[Path, LiveRun] = {}
        self._records: dict = {}  # decoded catalog records, reused while their row is unchanged
        self._lock = threading.RLock()
        self.warnings: list[str] = []

    # catalog ---------------------------------------------------------------------------------

    def refresh(self) -> list[Entry]:
        """The runs now: a snapshot of the index (synced first), live runs' summaries from their tails."""
        if not self.store.is_dir():
            self._entries, self._by_key = [], {}
            return []
        with self._lock:
            snap = open_snapshot(self.store, records=self._records, previous=self.snapshot)
            self.snapshot, self.warnings = snap, snap.warnings
            with paused_gc():
                entries = [self._entry(snap, info) for info in snap.runs]
            self._entries = entries
            self._by_key = {e.key: e for e in entries}
            return entries

    def _entry(self, snap, info) -> Entry:
        entry = Entry(info, (snap.batch_of(info) or "live", str(info.dir)))
        if snap.from_log(info):
            live = self.live(info.dir)
            entry.summaries, entry.damage, entry.view = live.summaries(), live.problems(), live.view()
        else:
            self._live.pop(info.dir, None)
            entry.summaries, entry.damage, entry.view = snap.summaries(info), list(info.damage), info.view
        return entry

    @property
    def empty(self) -> bool:
        return not self._entries

    def is_live(self, entry: Entry) -> bool:
        return self.snapshot is not None and self.snapshot.from_log(entry.info)

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
        # a run the indexer could not read carries why in its record (store/indexer.py sets info.problem)
        problems = [entry.info.problem] * bool(entry.info.problem) + entry.damage
        return damage_summary(entry.info.run_id, problems) if problems else ""

    def run_view(self, entry: Entry) -> RunView:
        """The run's whole-log view (config as updated, summary, best): the index's, or its live log's."""
        if self.snapshot is None:
            self.refresh()
        try:
            return self.snapshot.view(entry.info)
        except (StoreError, OSError):
            return RunView()

    def load_series(self, entries: list[Entry]) -> None:
        """Read the series indexes of these runs that have none yet, in one query (a chart of 1,000 runs)."""
        wanted = [e for e in entries if e.series is None]
        if wanted and self.snapshot is not None:
            found = self.snapshot.series([e.info for e in wanted])
            for e in wanted:
                e.series = found.get(str(e.info.dir), ())

    def series_index(self, entry: Entry) -> tuple | None:
        """A sealed run's series file and its index there (metric → levels), or None."""
        self.load_series([entry])
        return entry.series or None

    def metric_names(self, entry: Entry) -> list[str]:
        if self.is_live(entry):
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
            for row in self.table(entry, kind, cols).to_pylist():
                key = (kind, row["source"], row["name"])
                item = out.setdefault(key, {"kind": kind[:-1], "source": row["source"], "name": row["name"],
                                            "count": 0, "last_step": row["step"], "shape": row.get("shape")})
                item["count"] += 1
                if row["step"] >= item["last_step"]:
                    item["last_step"], item["shape"] = row["step"], row.get("shape")
        return sorted(out.values(), key=lambda v: (v["kind"], v["source"], v["name"]))

    def media_names(self, entries: list[Entry]) -> dict[tuple[str, str, str], list[str]]:
        """(kind, source, name) of every array, histogram, image and table these runs logged → the runs that did
        (names only): read from each batch file once for the sealed runs, from the logs of the live ones."""
        if self.snapshot is None:
            self.refresh()
        snap, found = self.snapshot, {}
        sealed, live = [e.info for e in entries if not self.is_live(e)], [e for e in entries if self.is_live(e)]
        keys = ["experiment", "run_id", "source", "name"]
        for table in MEDIA_TABLES:
            names = [snap.sealed_table(sealed, table, keys)] + [self.table(e, table, keys) for e in live]
            for row in pa.concat_tables(names).group_by(keys).aggregate([]).to_pylist():
                runs = found.setdefault((table[:-1], row["source"], row["name"]), set())
                runs.add(f"{row['experiment']}/{row['run_id']}")
        order = {e.key: i for i, e in enumerate(entries)}
        return {k: sorted(v, key=order.__getitem__) for k, v in sorted(found.items())}

    def records(self, entry: Entry, table: str) -> list[dict]:
        """Rows of a run's checkpoints, notes or events table (from its batch, or read from a live log)."""
        return self.table(entry, table).drop_columns(["experiment", "run_id"]).to_pylist()

    def table(self, entry: Entry, table: str, columns: list[str] | None = None) -> pa.Table:
        """One of a run's tables (only ``columns``, when given); empty when it cannot be read."""
        if self.snapshot is None:
            self.refresh()
        snap = self.snapshot
        try:
            return snap.run_table(entry.info, table, columns)
        except (StoreError, OSError):
            empty = EMPTY_SCHEMAS[table].empty_table()
            return empty.select(columns) if columns else empty
