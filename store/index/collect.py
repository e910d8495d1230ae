"""Seeing and bounding the disk a store's derived data takes: sizes by kind, and collecting what the index
no longer needs (retired batches, a crashed indexer's leftovers, batches mostly of forgotten runs, and the
per-run caches older versions of ol wrote)."""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from ol.store.index.catalog import open_catalog
from ol.store.index.files import DATA_DIR, index_home
from ol.store.index.indexer import indexer_lock, sync
from ol.store.log.rundir import CACHE_DIR
from ol.store.read.listing import iter_run_dirs

GRACE_SECONDS = 600.0  # a reader may still be reading a retired batch this long after its snapshot
OLD_CACHES = ("compact", "view.json")  # what ol wrote per run before the store-level index


@dataclass
class Usage:
    kinds: dict[str, int] = field(default_factory=dict)  # bytes per kind of file
    runs: list[tuple[str, int]] = field(default_factory=list)  # (run, bytes of its log), largest first
    index_home: str = ""


def disk_usage(store: Path) -> Usage:
    """Bytes by kind: logs, checkpoints, artifacts, the index (catalog and data), caches older ol left.
    Walks every run (this is the one command that must), following no link."""
    usage = Usage(index_home=str(index_home(store)))
    kinds = dict.fromkeys(("logs", "checkpoints", "artifacts", "index", "old per-run caches", "other"), 0)
    for run_dir in iter_run_dirs(store):
        for entry in os.scandir(run_dir):
            size = _tree_size(Path(entry.path))
            if entry.name == "log":
                kinds["logs"] += size
                usage.runs.append((f"{run_dir.parent.name}/{run_dir.name}", size))
            elif entry.name in ("checkpoints", "artifacts"):
                kinds[entry.name] += size
            elif entry.name == CACHE_DIR:
                old = sum(_tree_size(Path(entry.path) / name) for name in OLD_CACHES)
                kinds["old per-run caches"] += old
                kinds["other"] += size - old
            else:
                kinds["other"] += size
    kinds["index"] = _tree_size(Path(usage.index_home))
    usage.kinds = kinds
    usage.runs.sort(key=lambda r: -r[1])
    return usage


def _tree_size(path: Path) -> int:
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if stat.S_ISREG(st.st_mode) else 0
    total = 0
    for root, _, files in os.walk(path):  # os.walk does not follow links by default
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


@dataclass
class Collected:
    batches: int = 0
    leftovers: int = 0
    rewritten_runs: int = 0
    old_caches: int = 0
    freed: int = 0


def collect(store: Path, grace: float = GRACE_SECONDS, old_caches: bool = False) -> Collected:
    """Delete what no snapshot can still need, and rewrite batches whose runs are mostly gone."""
    home = index_home(store)
    out = Collected()
    _rewrite_sparse(store, home, out)
    with indexer_lock(home), open_catalog(home) as catalog:
        state = catalog.read(records=False)
        now = time.time()
        stale = [b.id for b in state.batches.values() if b.retired is not None and now - b.retired > grace]
        data = home / DATA_DIR
        known = set(state.batches)
        for batch in stale:
            out.freed += _remove(data / batch)
        catalog.drop_batches(stale)
        out.batches = len(stale)
        if data.is_dir():  # a crashed indexer's directories, never named in the catalog
            for entry in os.scandir(data):
                if entry.name not in known and now - entry.stat(follow_symlinks=False).st_mtime > grace:
                    out.freed += _remove(Path(entry.path))
                    out.leftovers += 1
    if old_caches:
        for run_dir in iter_run_dirs(store):
            for name in OLD_CACHES:
                path = run_dir / CACHE_DIR / name
                if os.path.lexists(path):
                    out.freed += _remove(path)
                    out.old_caches += 1
    return out


def _rewrite_sparse(store: Path, home: Path, out: Collected) -> None:
    """Batches where fewer than half the runs written are still indexed there: their runs are indexed
    again into a new batch (from their logs), so the old one retires."""
    with indexer_lock(home), open_catalog(home) as catalog:
        state = catalog.read(records=False)
        members: dict[str, int] = {}
        for row in state.runs.values():
            if row.batch is not None:
                members[row.batch] = members.get(row.batch, 0) + 1
        sparse = [b.id for b in state.batches.values()
                  if b.retired is None and 0 < members.get(b.id, 0) < len(b.written) / 2]
        if sparse:
            out.rewritten_runs = sum(members[b] for b in sparse)
            catalog.invalidate(sparse)
    if out.rewritten_runs:
        sync(store)


def _remove(path: Path) -> int:
    size = _tree_size(path)
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError:
        return 0
    return size
