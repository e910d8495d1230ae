"""Writing the index's batches (store/index/indexer.py decides what goes in): each sealed run read from its log
into tables, series and its whole-log view, then many runs' tables written together as Parquet files and
their series as one ``series.arrow``, in a fresh directory renamed into place. Imported only when a sync
has runs to write, so a sync that finds nothing new never loads pyarrow or numpy."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ol.errors import OlError
from ol.store.index.catalog import BatchRow
from ol.store.index.files import DATA_DIR, SERIES_FILE, file_identity, fresh_dir
from ol.store.log.derived import ensure_dir
from ol.store.log.rundir import log_path
from ol.store.log.sharing import share_dir, share_file
from ol.store.read import series
from ol.store.read.arrow import read_run
from ol.store.read.fold import fold_data
from ol.store.read.listing import RunInfo
from ol.store.read.runs_table import RUNS_FILE, runs_table
from ol.store.read.tables import TABLES, run_tables


@dataclass
class Part:
    """One sealed run read for a batch."""

    path: str
    stamp: str
    info: RunInfo
    tables: dict[str, pa.Table]
    series: dict[str, series.Series]


def read_sealed(path: str, seen: str, info: RunInfo, warnings: list[str]) -> Part | None:
    """A sealed run's tables, series and whole-log view; None (with a warning) when its log cannot be read."""
    try:
        data = read_run(log_path(info.dir))
        tables = run_tables(info.dir, info.experiment, info.run_id, data)
    except (OlError, OSError) as e:
        info.problem = info.problem or str(e)
        warnings.append(f"{info.run_id}: skipped, its log cannot be read ({e}); run `ol verify {info.run_id}`")
        return None
    info.adopt(fold_data(data))
    built = series.build(tables)
    info.summaries = {k: series.summary(s) for k, s in built.items() if k != series.TIME}
    info.damage = [str(x) for x in data.reader.report.problems()]
    return Part(path, seen, info, tables, built)


def write_batch(store: Path, home: Path, parts: list[Part]) -> tuple[BatchRow, list[dict]]:
    import pyarrow.parquet as pq  # only when there is something to write: a warm sync stays light

    data_dir = ensure_dir(home, DATA_DIR, group_writes=True)
    tmp = fresh_dir(data_dir, ".tmp-")
    # the runs' rows of SQL's runs view, so a query over runs decodes no record (dir relative to the store)
    runs = runs_table([p.info for p in parts], store)
    pq.write_table(runs, tmp / RUNS_FILE, **write_options("runs", runs))
    files = [RUNS_FILE]
    for name in TABLES:
        pieces = [p.tables[name] for p in parts if p.tables[name].num_rows]
        if pieces:
            table = pa.concat_tables(pieces, promote_options="permissive")
            pq.write_table(table, tmp / f"{name}.parquet", **write_options(name, table))
            files.append(f"{name}.parquet")
    keyed = {f"{i}\x1f{k}": s for i, p in enumerate(parts) for k, s in p.series.items()}
    index = series.write(tmp / SERIES_FILE, keyed)
    files.append(SERIES_FILE)
    per_run: list[dict] = [{} for _ in parts]
    for key, entry in index.items():
        i, _, metric = key.partition("\x1f")
        per_run[int(i)][metric] = entry
    for name in files:  # in a lab's index, every member's indexer reads them and may retire the batch
        fd = os.open(tmp / name, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            share_file(fd, tmp)
        finally:
            os.close(fd)
    share_dir(tmp, group_writes=True)
    batch_id = f"b{time.time_ns():x}-{secrets.token_hex(3)}"
    final = data_dir / batch_id
    os.rename(tmp, final)  # whole or not at all; a new name, so nothing in place is ever replaced
    identities = {name: file_identity(final / name) for name in files}
    written = [[p.info.experiment, p.info.run_id] for p in parts]
    return BatchRow(batch_id, identities, written, time.time(), None), per_run


def write_options(name: str, table: pa.Table) -> dict:
    """Dictionaries for string columns, statistics for the columns queries filter on, and for numbers the
    encodings that suit them: steps and sequence numbers as deltas, floats byte-split (values from float32
    tensors leave whole bytes zero, which zstd then removes; lossless)."""
    strings = [f.name for f in table.schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)]
    stats = [c for c in ("experiment", "run_id", "seq", "step", "epoch") if c in table.column_names]
    encoding = {f.name: "DELTA_BINARY_PACKED" for f in table.schema if pa.types.is_int64(f.type)}
    encoding.update({f.name: "BYTE_STREAM_SPLIT" for f in table.schema if pa.types.is_float64(f.type)})
    return {"compression": "zstd", "use_dictionary": strings, "write_statistics": stats,
            "column_encoding": encoding, "row_group_size": 1 << 20}
