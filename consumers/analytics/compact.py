"""Compaction: a sealed run's log materialised once as Parquet under ``<run>/.cache/compact/``.

The cache is keyed by what it was built from (each segment's name, size and mtime, plus the
compaction version) and rebuilt whenever the log changed. It is used only while every file in it
is still the very file compaction wrote: the manifest, written last and atomically, records each
file's size, mtime (ns) and inode, so a file written by anything else afterwards (a forged or
half-copied cache) makes the whole cache stale and it is rebuilt from the log. Deleting the cache
loses nothing. Files are ``<table>.parquet`` with ``experiment`` and ``run_id`` columns,
so ``<store>/*/*/.cache/compact/steps.parquet`` reads a whole store with any Parquet engine, and
``series.arrow``, each metric ready for charts with coarse levels (consumers/series.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ol.consumers.analytics import series
from ol.consumers.analytics.tables import TABLES, run_tables
from ol.store.arrow import read_run
from ol.store.rundir import CACHE_DIR, log_path, other_ranks
from ol.store.segments import list_segments

# 2: metric_stats; 3: the identity of every cache file; 4: series.arrow; 5: rank_steps;
# 6: arrays, histograms, images, tables
COMPACT_VERSION = 6
COMPACT_DIR = "compact"
MANIFEST = "manifest.json"


def cache_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CACHE_DIR / COMPACT_DIR


def source_key(run_dir: Path) -> dict:
    """What a cache is built from: every segment of the run's log and of its other ranks' streams."""
    segments = []
    for stream in [Path(run_dir)] + [path for _, path in other_ranks(run_dir)]:
        for _, path in list_segments(log_path(stream)):
            st = path.stat()
            segments.append([str(path.relative_to(run_dir)), st.st_size, st.st_mtime_ns])
    return {"version": COMPACT_VERSION, "segments": segments}


def is_fresh(run_dir: Path) -> bool:
    """True when the cache was built from exactly these segments and no file in it changed since."""
    return fresh_manifest(run_dir) is not None


def fresh_manifest(run_dir: Path) -> dict | None:
    """The cache's manifest when the cache is fresh (see is_fresh), else None; its ``lost`` lists what
    compaction could not read of the log."""
    folder = cache_dir(run_dir)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if not isinstance(manifest, dict) or manifest.get("source") != source_key(run_dir):
            return None
        files = manifest.get("files") or {}
        fresh = all(files.get(name) == _identity(folder / filename) for name, filename in _cache_files().items())
    except (OSError, ValueError):
        return None
    return manifest if fresh else None


def _cache_files() -> dict[str, str]:
    return {**{t: f"{t}.parquet" for t in TABLES}, "series": series.SERIES_FILE}


def series_path(run_dir: Path) -> Path:
    return cache_dir(run_dir) / series.SERIES_FILE


def _identity(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def parquet_paths(run_dir: Path) -> dict[str, Path]:
    return {t: cache_dir(run_dir) / f"{t}.parquet" for t in TABLES}


def _write_options(name: str, table) -> dict:
    """Measured (bench/query_bench.py): dictionaries only for string columns, statistics only for the
    columns queries filter on, and lz4 for the big long table, whose decode speed bounds queries."""
    strings = [f.name for f in table.schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)]
    stats = [c for c in ("seq", "step", "epoch") if c in table.column_names]
    return {"compression": "lz4" if name == "metrics" else "zstd", "use_dictionary": strings,
            "write_statistics": stats, "row_group_size": 1 << 20}


def compact(run_dir: Path, experiment: str, run_id: str) -> dict:
    """Build the Parquet files of one run; returns what was written (rows and points)."""
    key = source_key(run_dir)  # taken first: a log that grows meanwhile leaves the cache stale, not wrong
    data = read_run(log_path(run_dir))
    tables = run_tables(run_dir, experiment, run_id, data)
    folder = cache_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # the manifest goes last: no manifest, no trust
    for name, table in tables.items():
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(table, tmp, **_write_options(name, table))
        os.replace(tmp, folder / f"{name}.parquet")
    tmp = folder / f".{series.SERIES_FILE}.tmp"
    index = series.write(tmp, series.build(tables))
    os.replace(tmp, series_path(run_dir))
    lost = data.reader.report.problems()
    manifest = {"source": key, "rows": {k: t.num_rows for k, t in tables.items()}, "lost": lost,
                "series": {k: {f: v for f, v in entry.items() if f != "levels"} for k, entry in index.items()},
                "files": {name: _identity(folder / filename) for name, filename in _cache_files().items()}}
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, folder / MANIFEST)
    return manifest
