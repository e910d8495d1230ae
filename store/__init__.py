"""ol.store: the store's public face. Consumers, the CLI and the integrations import from here only; the
modules behind it are the store's own business and may move.

Names load on first use (PEP 562), so ``from ol.store import resolve_run`` costs what that module costs, not
the index's pyarrow: `ol runs` still starts without loading what it does not read.

- the read interface: ``open_snapshot`` (a store's runs and their data through the index),
  ``resolve_run`` (every kind of run reference), ``RunInfo`` (a run's record: the one type a reader gets
  about a run) and ``main_fields`` (its main metric's flat fields), ``RunFold`` (the one fold: status, progress,
  best), ``project`` (the resume rule), ``LogReader`` (a
  log's events and what was lost), the series and tables the readers draw and query;
- the write entry points others need: ``LogWriter`` (an importer's own log), ``new_run_id``, ``run_path``,
  ``ensure_dir``/``replace_file`` (derived files, never through a link), ``sha256_file``, ``make_dir``/
  ``share_file`` (what a writer creates stays usable by a shared store's group: store/log/sharing.py);
- the store's upkeep: ``sync``, ``verify_run``/``repair_run``, ``collect``/``disk_usage``.
"""

from __future__ import annotations

import importlib

# public name -> (module under ol.store: its part, log / index / read, and module; its name there). The store's
# parts show in its folder: the log (format, writer, reader, follower), the index, the read side.
_PUBLIC = {
    # runs: records, references, directories
    **{n: ("read.listing", n) for n in ("STATUSES", "iter_run_dirs", "rank_streams", "require_store",
                                   "run_info", "run_started", "started_order")},
    **{n: ("read.refs", n) for n in ("rank_stream", "resolve_run")},
    **{n: ("log.rundir", n) for n in ("CACHE_DIR", "check_name", "is_run_dir", "log_path", "new_run_id",
                                  "other_ranks", "plain_name", "run_path")},
    "StoreError": ("errors", "StoreError"),
    # the fold and the resume rule
    "RunFold": ("read.fold", "RunFold"),
    **{n: ("read.record", n) for n in ("RunInfo", "main_fields")},
    **{n: ("read.projection", n) for n in ("project", "survives")},
    # logs
    **{n: ("log.reader", n) for n in ("LogReader", "ReadReport", "damage_summary")},
    **{n: ("log.columns", n) for n in ("StepColumns", "decode_arrays")},
    "LogWriter": ("log.writer", "LogWriter"),
    **{n: ("read.orders", n) for n in ("digest", "ids_of", "recorded_orders")},
    # a long-lived reader (the dashboard's), the one follower
    **{n: ("read.store_reader", n) for n in ("Progress", "StoreReader")},
    "Follower": ("log.follow", "Follower"),
    # the read model and the index
    **{n: ("read.snapshot", n) for n in ("Snapshot", "open_snapshot")},
    "paused_gc": ("read.listing", "paused_gc"),
    **{n: ("index.indexer", n) for n in ("indexer_lock", "sync")},
    "RunRow": ("index.catalog", "RunRow"),
    **{n: ("index.files", n) for n in ("CATALOG", "DATA_DIR", "index_home")},
    **{n: ("index.collect", n) for n in ("collect", "disk_usage")},
    # tables, series, curves
    **{n: ("read.tables", n) for n in ("EMPTY_SCHEMAS", "TABLES")},
    **{n: ("read.runs_table", n) for n in ("dir_in", "scalar", "utc_time")},
    "runs_arrow": ("read.runs_table", "runs_table"),
    **{n: ("read.series", n) for n in ("TIME", "X_AXES", "is_x_axis", "Series", "SeriesFile", "cumulative_time", "join",
                                  "metric_key", "part", "plan", "split_key")},
    "series_summary": ("read.series", "summary"),
    "bucket_ids": ("read.downsample", "bucket_ids"),
    "downsample_xy": ("read.downsample", "downsample"),
    # sweeps
    **{n: ("read.sweep_plans", n) for n in ("SWEEPS_DIR", "Plan", "Precision", "check_plan",
                                                     "check_precision", "list_plans", "load_plan")},
    **{n: ("read.sweep_tasks", n) for n in ("record_slurm_tasks", "slurm_states")},
    **{n: ("read.sweep_status", n) for n in ("compare", "contrasts", "main_key", "newest_runs",
                                                      "next_seeds", "precision", "precision_rule")},
    **{n: ("read.intervals", n) for n in ("BAND", "BOOTSTRAP", "METHOD", "STATISTICS", "bootstrap_of", "estimate",
                                          "improvement", "method_of", "permutation_p")},
    "mean_band": ("read.intervals", "band"),
    "reached_interval": ("read.intervals", "reached"),
    # derived files, integrity
    **{n: ("log.derived", n) for n in ("ensure_dir", "replace_file")},
    **{n: ("log.sharing", n) for n in ("make_dir", "make_dirs", "share_dir", "share_file")},
    **{n: ("log.verify", n) for n in ("VerifyReport", "on_disk", "repair_run", "sha256_file", "verify_run")},
}


def __getattr__(name: str):
    found = _PUBLIC.get(name)
    if found is None:
        raise AttributeError(f"module 'ol.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ol.store.{found[0]}"), found[1])
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(_PUBLIC)


__all__ = sorted(_PUBLIC)
