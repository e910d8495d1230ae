"""A run's vector and media events as Arrow tables, for the ``arrays``, ``histograms``, ``images``, ``tables``
and ``files`` (videos, audio, HTML kept in the run's folder: where, with their hashes) views: list columns
DuckDB, Polars and pyarrow read as arrays, built from each event's bytes or lists with numpy (no Python loop
over the values themselves).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ol.schemas import ArrayData, HistogramData, ImageData, MediaFile, TableData

_ID = [("experiment", pa.string()), ("run_id", pa.string())]
_AT = [("step", pa.int64()), ("epoch", pa.int64()), ("source", pa.string()), ("name", pa.string())]

MEDIA_SCHEMAS = {
    # hook arrays (Fourier frequencies, per-layer values, trajectory points): flat values and their shape
    "arrays": pa.schema([*_ID, *_AT, ("dtype", pa.string()), ("shape", pa.list_(pa.int64())),
                         ("values", pa.list_(pa.float64()))]),
    "histograms": pa.schema([*_ID, *_AT, ("edges", pa.list_(pa.float64())), ("counts", pa.list_(pa.float64())),
                             ("count", pa.int64()), ("min", pa.float64()), ("max", pa.float64()),
                             ("sum", pa.float64()), ("sum_squares", pa.float64()), ("nonfinite", pa.int64())]),
    "images": pa.schema([*_ID, *_AT, ("format", pa.string()), ("width", pa.int64()), ("height", pa.int64()),
                         ("channels", pa.int64()), ("caption", pa.string()), ("data", pa.binary())]),
    # cells as JSON text: a table's columns are its own, so they cannot be columns of one view
    "tables": pa.schema([*_ID, *_AT, ("columns", pa.list_(pa.string())), ("rows", pa.int64()),
                         ("data", pa.string())]),
    "files": pa.schema([*_ID, *_AT, ("media", pa.string()), ("path", pa.string()), ("size", pa.int64()),
                        ("sha256", pa.string()), ("caption", pa.string())]),
}
MEDIA_TABLES = tuple(MEDIA_SCHEMAS)


def media_tables(events: list, ident: dict[str, str]) -> dict[str, pa.Table]:
    """The media tables of a run's (projected) events; each empty when the run logged none of its kind."""
    by_kind: dict[type, list] = {ArrayData: [], HistogramData: [], ImageData: [], TableData: [], MediaFile: []}
    for _, e in events:
        if type(e) in by_kind:
            by_kind[type(e)].append(e)
    return {"arrays": _arrays(by_kind[ArrayData], ident), "histograms": _histograms(by_kind[HistogramData], ident),
            "images": _images(by_kind[ImageData], ident), "tables": _tables(by_kind[TableData], ident),
            "files": _files(by_kind[MediaFile], ident)}


def _base(events: list, ident: dict[str, str], source) -> dict[str, pa.Array]:
    n = len(events)
    return {"experiment": pa.array([ident["experiment"]] * n, pa.string()),
            "run_id": pa.array([ident["run_id"]] * n, pa.string()),
            "step": pa.array([e.step for e in events], pa.int64()),
            "epoch": pa.array([e.epoch for e in events], pa.int64()),
            "source": pa.array([source(e) for e in events], pa.string()),
            "name": pa.array([e.name for e in events], pa.string())}


def _lists(parts: list[np.ndarray], kind: pa.DataType) -> pa.ListArray:
    """One list per part, from a single concatenation and its offsets."""
    offsets = np.zeros(len(parts) + 1, dtype=np.int32)
    np.cumsum([p.size for p in parts], out=offsets[1:])
    flat = np.concatenate(parts) if parts else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, kind))


def _arrays(events: list[ArrayData], ident) -> pa.Table:
    if not events:
        return MEDIA_SCHEMAS["arrays"].empty_table()
    values = [np.frombuffer(e.data, dtype=np.dtype(e.dtype)).astype(np.float64) for e in events]
    cols = _base(events, ident, lambda e: e.hook or "train")
    cols.update(dtype=pa.array([e.dtype for e in events], pa.string()),
                shape=pa.array([list(e.shape) for e in events], pa.list_(pa.int64())),
                values=_lists(values, pa.float64()))
    return pa.table(cols, schema=MEDIA_SCHEMAS["arrays"])


def _histograms(events: list[HistogramData], ident) -> pa.Table:
    if not events:
        return MEDIA_SCHEMAS["histograms"].empty_table()
    cols = _base(events, ident, lambda e: e.source)
    cols.update(edges=_lists([np.asarray(e.edges, np.float64) for e in events], pa.float64()),
                counts=_lists([np.asarray(e.counts, np.float64) for e in events], pa.float64()),
                **{f: pa.array([getattr(e, f) for e in events], MEDIA_SCHEMAS["histograms"].field(f).type)
                   for f in ("count", "min", "max", "sum", "sum_squares", "nonfinite")})
    return pa.table(cols, schema=MEDIA_SCHEMAS["histograms"])


def _images(events: list[ImageData], ident) -> pa.Table:
    if not events:
        return MEDIA_SCHEMAS["images"].empty_table()
    cols = _base(events, ident, lambda e: e.source)
    cols.update({f: pa.array([getattr(e, f) for e in events], MEDIA_SCHEMAS["images"].field(f).type)
                 for f in ("format", "width", "height", "channels", "caption", "data")})
    return pa.table(cols, schema=MEDIA_SCHEMAS["images"])


def _tables(events: list[TableData], ident) -> pa.Table:
    import msgspec

    if not events:
        return MEDIA_SCHEMAS["tables"].empty_table()
    encode = msgspec.json.Encoder().encode
    cols = _base(events, ident, lambda e: e.source)
    cols.update(columns=pa.array([list(e.columns) for e in events], pa.list_(pa.string())),
                rows=pa.array([len(e.rows) for e in events], pa.int64()),
                data=pa.array([encode(e.rows).decode() for e in events], pa.string()))
    return pa.table(cols, schema=MEDIA_SCHEMAS["tables"])


def _files(events: list[MediaFile], ident) -> pa.Table:
    if not events:
        return MEDIA_SCHEMAS["files"].empty_table()
    cols = _base(events, ident, lambda e: e.source)
    cols.update({f: pa.array([getattr(e, f) for e in events], MEDIA_SCHEMAS["files"].field(f).type)
                 for f in ("media", "path", "size", "sha256", "caption")})
    return pa.table(cols, schema=MEDIA_SCHEMAS["files"])
