"""Bringing a store's index up to date: what changed since the catalog last looked, found without opening
every run, and the sealed runs among it written into a new batch of consolidated files.

What is looked at on each sync (so a warm read costs the same for 100 runs or 100,000):
- the store root's and each experiment directory's mtime. A run created or deleted changes its
  experiment directory's mtime, and so does a writer taking a run's lock (store/log/rundir.py touches it), so
  a resumed run is noticed too. An experiment whose mtime is unchanged since a settled listing is not
  listed again; one that changed is listed, and each of its known runs is checked by one or two stats
  (its writer lock and its log directory), never by reading its log.
- each run that was live when last seen: is its writer still there? While it is, readers read its log's
  tail; when it is gone, the run is sealed and indexed.
A full sync (``ol index --check``) also compares every run's log segments (name, size, mtime) with what
the index was built from, for a store whose logs may have been changed by hand.

A batch is a directory under ``data/`` holding one Parquet file per table (every table's rows for all its
runs, with ``experiment`` and ``run_id`` columns) and one ``series.arrow``. It is written in a fresh
private directory, renamed into place whole, and only then named in the catalog in one transaction: a
kill -9 at any instant leaves either the old catalog (and an orphan directory that gc removes) or the new.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import stat
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ol.store.index.catalog import RACY_SECONDS, Catalog, CatalogState, Glance, RunRow, open_catalog
from ol.store.index.files import LOCK, index_home
from ol.store.log.rundir import LOCK_FILE, LOG_DIR, RANKS_DIR, log_path, other_ranks, writer_active
from ol.store.log.segments import list_segments
from ol.store.log.sharing import share_file
from ol.store.read.listing import RunInfo, record_json, run_info, summaries_json

BATCH_RUNS = 1000  # runs per batch: files per store grow with batches, never with runs
BATCH_ROWS = 4_000_000  # long-table rows gathered before a batch is written: bounds the indexer's memory
# a batch's step table has a column for every scalar name of its runs: runs whose names differ (imports of
# unrelated sources) would make rows × names cells of nulls, so a run that would take it past this starts a new batch
BATCH_STEP_CELLS = 20_000_000


@dataclass
class SyncReport:
    indexed: int = 0  # sealed runs written into batches by this sync
    live: int = 0  # runs a writer holds: read from their logs
    forgotten: int = 0  # runs whose directories are gone
    unwritten: int = 0  # sealed runs the index could not write (read from their logs meanwhile)
    batches: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    dirs: dict[str, tuple[int, bool]] = field(default_factory=dict)
    forget: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


def sync(store: Path, *, full: bool = False, progress: Callable[[str], None] | None = None) -> SyncReport:
    """Index what changed since the last sync (see the module docstring). Safe to run from any number of
    processes at once: they take turns on the indexer lock, and each commit checks what it replaces."""
    store = Path(store)
    home = index_home(store)
    report = SyncReport()
    with indexer_lock(home), open_catalog(home) as catalog:
        if not full and _unchanged(store, catalog.glance()):
            return report  # the common case of a warm read: no run's row is read at all
        state = catalog.read(records=False)
        plan = _reconcile(store, state, full)
        _index(store, home, catalog, state, plan, report, progress)
    return report


def _unchanged(store: Path, glance: Glance) -> bool:
    """Whether a full reconcile would find nothing to do: the root and every experiment directory as last
    listed (and settled), and every live run's writer still there. The same tests as _reconcile's."""
    if not _as_listed(glance.dirs, "", os.stat(store).st_mtime_ns):
        return False
    for experiment in {p for p in glance.dirs if p} | glance.experiments:
        try:
            st = os.lstat(store / experiment)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or not _as_listed(glance.dirs, experiment, st.st_mtime_ns):
            return False
    return all(writer_active(store / path) for path in glance.live)


@contextmanager
def indexer_lock(home: Path):
    """One indexer at a time per store (others wait, then find nothing left to do). On a filesystem without
    working locks the catalog's own checks still keep every run counted once; work may be done twice."""
    fd = os.open(Path(home) / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        share_file(fd, home, group_writes=True)  # every member's indexer takes it
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _as_listed(dirs: dict[str, tuple[int, bool]], path: str, mtime_ns: int) -> bool:
    """Whether a directory is as a settled listing left it: nothing created, deleted or opened for writing
    in it since, so it need not be listed again."""
    return dirs.get(path) == (mtime_ns, True)


def _settled(mtime_ns: int, now: float) -> bool:
    return now - mtime_ns / 1e9 > RACY_SECONDS


def _reconcile(store: Path, state: CatalogState, full: bool) -> _Plan:
    plan, now = _Plan(), time.time()
    by_experiment: dict[str, list[str]] = {}
    for path in state.runs:
        by_experiment.setdefault(path.partition("/")[0], []).append(path)
    root = os.stat(store).st_mtime_ns
    experiments = {p for p in state.dirs if p}
    if full or not _as_listed(state.dirs, "", root):
        listed = {e.name for e in os.scandir(store) if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)}
        plan.dirs[""] = (root, _settled(root, now))
        plan.dirs.update({gone: (-1, False) for gone in experiments - listed})
        experiments = listed
    for experiment in sorted(experiments | set(by_experiment)):
        _reconcile_experiment(store, experiment, state, by_experiment.get(experiment, []), full, now, plan)
    for path, row in state.runs.items():  # live runs: sealed once their writer is gone
        if row.live and path not in plan.todo and path not in plan.forget and not writer_active(store / path):
            plan.todo.append(path)
    return plan


def _reconcile_experiment(store: Path, experiment: str, state: CatalogState, known: list[str], full: bool,
                          now: float, plan: _Plan) -> None:
    folder = store / experiment
    try:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode):
            raise FileNotFoundError(folder)
    except OSError:
        plan.forget += known
        plan.dirs[experiment] = (-1, False)
        return
    if not full and _as_listed(state.dirs, experiment, st.st_mtime_ns):
        return  # nothing created, deleted or opened for writing here since a settled listing
    plan.dirs[experiment] = (st.st_mtime_ns, _settled(st.st_mtime_ns, now))
    names = {e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)}
    plan.forget += [p for p in known if p.partition("/")[2] not in names]
    for name in sorted(names):
        path = f"{experiment}/{name}"
        row = state.runs.get(path)
        if row is None:
            if _is_run(folder / name):
                plan.todo.append(path)
        elif not row.live and not _same(row.stamp, stamp(folder / name, deep=full), full):
            plan.todo.append(path)


def _is_run(run_dir: Path) -> bool:
    """A run directory with a real log directory in it (a link is never followed)."""
    try:
        return stat.S_ISDIR(os.lstat(run_dir / LOG_DIR).st_mode)
    except OSError:
        return False


def stamp(run_dir: Path, deep: bool = False) -> str:
    """What changes when a run may have changed: its writer locks (rewritten whenever a writer takes one), its
    log directory (a segment added or removed) and its newest segment (``tail``: name, size, mtime — a log cut
    or changed in place, which changes nothing above it); ``deep`` adds every segment's size and mtime."""
    parts = [_stat_key(run_dir / LOCK_FILE), _stat_key(run_dir / LOG_DIR)]
    ranks = run_dir / RANKS_DIR
    if os.path.lexists(ranks):
        parts += [_stat_key(ranks)] + [_stat_key(p / LOCK_FILE) for _, p in other_ranks(run_dir)]
    segments = list_segments(log_path(run_dir))
    out = {"cheap": parts, "tail": [segments[-1][1].name, *_stat_key(segments[-1][1])] if segments else None}
    if deep:
        out["log"] = [[str(p.name), *_stat_key(p)] for _, p in segments]
    return json.dumps(out)


_TAIL = re.compile(r'"tail": \["([0-9A-Za-z._-]+)", (-?\d+), (-?\d+)\]')


def tail_changed(run_dir: str, recorded: str) -> bool:
    """Whether a sealed run's newest segment is no longer as its stamp recorded it (one lstat; the stamp read by a
    pattern, not parsed whole: a listing does this for every run): a log cut or rewritten in place."""
    found = _TAIL.search(recorded)
    if found is None:
        return '"tail": null' not in recorded  # a run with no segment has nothing to cut
    try:
        st = os.lstat(f"{run_dir}/{LOG_DIR}/{found.group(1)}")
    except OSError:
        return True
    return st.st_mtime_ns != int(found.group(2)) or st.st_size != int(found.group(3))


def _same(recorded: str, now: str, deep: bool) -> bool:
    try:
        old, new = json.loads(recorded), json.loads(now)
    except ValueError:
        return False
    return (old.get("cheap") == new["cheap"] and old.get("tail") == new["tail"]
            and (not deep or old.get("log") == new["log"]))


def _stat_key(path: Path) -> list[int]:
    try:
        st = os.lstat(path)
    except OSError:
        return [-1, -1]
    return [st.st_mtime_ns, st.st_size]


def _index(store: Path, home: Path, catalog: Catalog, state: CatalogState, plan: _Plan, report: SyncReport,
           progress) -> None:
    expect = {p: (state.runs[p].stamp if p in state.runs else None) for p in plan.todo}
    rows: list[RunRow] = []
    parts: list = []
    gathered, step_rows, names = 0, 0, set()
    for path in plan.todo:
        run_dir = store / path
        seen = stamp(run_dir, deep=True)  # taken before the log is read: a log that grows meanwhile is read again
        info = run_info(run_dir)
        if info.status == "running":
            report.live += 1
            rows.append(_row(store, path, seen, info, live=True))
            continue
        from ol.store.index import write as index_write  # pyarrow and numpy only when a sealed run is written

        part = index_write.read_sealed(path, seen, info, report.warnings)
        if part is None:
            rows.append(_row(store, path, seen, info))
            continue
        steps = part.tables["steps"]
        wider = names | set(steps.column_names)
        if parts and (step_rows + steps.num_rows) * len(wider) > BATCH_STEP_CELLS:
            _commit_batch(store, home, catalog, parts, rows, expect, {}, [], report)
            parts, rows, gathered, step_rows, wider = [], [], 0, 0, set(steps.column_names)
        parts.append(part)
        names, step_rows = wider, step_rows + steps.num_rows
        gathered += part.tables["metrics"].num_rows + steps.num_rows
        if progress:
            progress(info.key)
        if len(parts) >= BATCH_RUNS or gathered >= BATCH_ROWS:
            _commit_batch(store, home, catalog, parts, rows, expect, {}, [], report)
            parts, rows, gathered, step_rows, names = [], [], 0, 0, set()
    _commit_batch(store, home, catalog, parts, rows, expect, plan.dirs, plan.forget, report)
    report.forgotten = len(plan.forget)
    if report.unwritten:
        catalog.unsettle()  # list every directory next time, so the runs not written are tried again


def _commit_batch(store: Path, home: Path, catalog: Catalog, parts: list, rows: list[RunRow],
                  expect: dict, dirs: dict, forget: list[str], report: SyncReport) -> None:
    batch = None
    if parts:
        try:
            from ol.store.index.write import write_batch

            batch, indexes = write_batch(store, home, parts)
        except OSError as e:  # a full disk, a quota, a read-only index: readers read these runs from their logs
            report.warnings.append(f"index: cannot write to {home} ({e.strerror or e}); {len(parts)} run(s) are "
                                   "read from their logs until it can — free space there or run `ol index du`")
            # a stamp that matches nothing: tried again once the directories are listed
            retry = [_row(store, p.path, "{}", p.info) for p in parts]
            catalog.commit(dirs=dirs, forget=forget, rows=rows + retry, expect=expect)
            report.unwritten += len(parts)
            return
        for part, index in zip(parts, indexes, strict=True):
            rows.append(_row(store, part.path, part.stamp, part.info, batch=batch.id, series=json.dumps(index)))
        report.batches += 1
        report.indexed += len(parts)
    if rows or dirs or forget or batch:
        catalog.commit(dirs=dirs, forget=forget, rows=rows, expect=expect, batch=batch)


def _row(store: Path, path: str, seen: str, info: RunInfo, *, live: bool = False, batch: str | None = None,
         series: str | None = None) -> RunRow:
    return RunRow(path, path.partition("/")[0], seen, live, record_json(info, store), batch, series,
                  summaries_json(info), bool(info.problems()))
