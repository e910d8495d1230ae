"""Values ``Run.log`` records as their own typed events, beside a step's scalars: ``Histogram``, ``Image``
and ``Table`` (as ``ol.Histogram(...)``, ``ol.Image(...)``, ``ol.Table(...)``, like W&B's).

Each is reduced when it is made, in the caller's thread, to what its event stores: a histogram to its
bin edges and counts (never the raw values), an image to PNG bytes, a table to rows of plain values.
So ``log()`` only queues an event, and what is kept is small whatever was passed in.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ol.errors import UsageError
from ol.schemas import HistogramData, ImageData, TableData
from ol.schemas.checks import MAX_BINS, MAX_IMAGE_PIXELS, PNG_SIGNATURE, check_histogram, check_image, image_size

CELL_TYPES = (str, int, float, bool, type(None))


def _numpy(values: Any) -> np.ndarray:
    """A tensor (any device), an array or a sequence of numbers, as a flat float64 array."""
    if hasattr(values, "detach"):  # a torch tensor: no torch import needed to recognise one
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


class Histogram:
    """The distribution of ``values`` (a tensor, an array, a list) in ``bins`` equal bins over their finite
    range; or, with ``np_histogram=(counts, edges)``, one you computed. NaN and ±inf are counted apart."""

    def __init__(self, values: Any = None, bins: int = 64, *, np_histogram: tuple | None = None):
        if np_histogram is not None:
            counts, edges = (np.asarray(a, dtype=np.float64) for a in np_histogram)
            if edges.ndim != 1 or counts.shape != (edges.size - 1,) or edges.size < 2:
                raise UsageError("Histogram: np_histogram is (counts, edges) with one more edge than counts")
            try:
                check_histogram(edges.tolist(), counts.tolist())
            except ValueError as e:
                raise UsageError(f"Histogram: np_histogram: {e}") from None
            self.counts, self.edges = counts, edges
            centres = (edges[:-1] + edges[1:]) / 2
            self.count, self.total = int(counts.sum()), float((counts * centres).sum())
            self.squares = float((counts * centres**2).sum())
            self.low, self.high, self.nonfinite = float(edges[0]), float(edges[-1]), 0
            return
        if not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
            raise UsageError(f"Histogram: bins must be an integer from 1 to {MAX_BINS}, got {bins!r}")
        data = _numpy(values)
        finite = data[np.isfinite(data)]
        self.nonfinite = int(data.size - finite.size)
        if finite.size == 0:
            finite = np.zeros(0)
            low, high = 0.0, 1.0
        else:
            low, high = float(finite.min()), float(finite.max())
            if low == high:  # one value: a bin of width 1 around it, as numpy does
                low, high = low - 0.5, high + 0.5
        counts, edges = np.histogram(finite, bins=bins, range=(low, high))
        self.counts, self.edges = counts.astype(np.float64), edges
        self.count, self.total = int(finite.size), float(finite.sum())
        self.squares = float(np.dot(finite, finite))
        self.low = float(finite.min()) if finite.size else 0.0
        self.high = float(finite.max()) if finite.size else 0.0

    def event(self, name: str, step: int, epoch: int | None, source: str) -> HistogramData:
        return HistogramData(name=name, step=step, epoch=epoch, source=source, edges=self.edges.tolist(),
                              counts=self.counts.tolist(), count=self.count, min=self.low, max=self.high,
                              sum=self.total, sum_squares=self.squares, nonfinite=self.nonfinite)


class Image:
    """An image: an array (H×W grey, H×W×3 RGB or H×W×4 RGBA; floats in [0, 1] or uint8; a tensor is
    fine, C×H×W too) or a PNG/JPEG file. Stored as the encoded file, as W&B and TensorBoard store them."""

    def __init__(self, data: Any, caption: str = ""):
        self.caption = str(caption)
        if isinstance(data, (str, Path)):
            self._from_file(Path(data))
            return
        pixels = _pixels(data)
        self.height, self.width, self.channels = pixels.shape
        self.format, self.data = "png", encode_png(pixels)

    def _from_file(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise UsageError(f"Image: cannot read {path}: {e.strerror}") from None
        self.format = "png" if raw[:8] == PNG_SIGNATURE else "jpeg"
        size = image_size(self.format, raw)  # from the file's own header, before anything decodes it
        if size is None:
            raise UsageError(f"Image: {path} is neither a PNG nor a JPEG file; pass an array or one of those")
        self.width, self.height = size
        self.channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(raw[25], 3) if self.format == "png" else 3
        try:
            check_image(self.format, raw, self.width, self.height)
        except ValueError as e:
            raise UsageError(f"Image: {path}: {e}") from None
        self.data = raw

    def event(self, name: str, step: int, epoch: int | None, source: str) -> ImageData:
        return ImageData(name=name, step=step, epoch=epoch, source=source, format=self.format, data=self.data,
                          width=self.width, height=self.height, channels=self.channels, caption=self.caption)


class Table:
    """Rows under named columns: ``Table(columns=[...], rows=[[...], ...])``, ``Table(data={col: [...]})`` or
    ``Table(dataframe)``. Cells are strings, numbers, booleans or None."""

    def __init__(self, columns: list[str] | None = None, rows: list[list] | None = None, data: Any = None):
        if data is not None and hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
            columns, rows = [str(c) for c in data.columns], data.astype(object).values.tolist()
        elif isinstance(data, dict):
            columns = [str(c) for c in data]
            lengths = {len(v) for v in data.values()}
            if len(lengths) > 1:
                raise UsageError("Table: every column of data= needs the same number of values")
            rows = [list(r) for r in zip(*data.values(), strict=True)]
        if not columns:
            raise UsageError("Table: give columns= and rows=, data={column: values}, or a DataFrame")
        self.columns = [str(c) for c in columns]
        self.rows = [[_cell(v) for v in row] for row in rows or []]
        for row in self.rows:
            if len(row) != len(self.columns):
                raise UsageError(f"Table: a row has {len(row)} cells for {len(self.columns)} columns")

    def event(self, name: str, step: int, epoch: int | None, source: str) -> TableData:
        return TableData(name=name, step=step, epoch=epoch, source=source, columns=self.columns, rows=self.rows)


MEDIA = (Histogram, Image, Table)


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, CELL_TYPES):
        raise UsageError(f"Table: cells are strings, numbers, booleans or None, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        return value  # NaN and ±inf stay floats, as everywhere in the log
    return value


def _pixels(data: Any) -> np.ndarray:
    """H×W×C uint8 from what people pass: grey or colour, floats in [0, 1] or integers, HWC or CHW."""
    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    a = np.asarray(data)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):  # C×H×W, as torch has it
        a = np.transpose(a, (1, 2, 0))
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.shape[0] * a.shape[1] == 0:
        raise UsageError(f"Image: an array of shape {a.shape} is not an image; pass H×W, H×W×3 or H×W×4")
    if a.shape[0] * a.shape[1] > MAX_IMAGE_PIXELS:
        raise UsageError(f"Image: {a.shape[1]}×{a.shape[0]} pixels is more than a log should hold; downscale it")
    if a.dtype.kind == "f":
        a = np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0) * 255.0 + 0.5
    elif a.dtype.kind == "b":
        a = a * 255
    return np.clip(a, 0, 255).astype(np.uint8)




def encode_png(pixels: np.ndarray) -> bytes:
    """A PNG of H×W×C uint8 pixels (C = 1, 3 or 4), written directly: no imaging library on the training side."""
    height, width, channels = pixels.shape
    colour = {1: 0, 3: 2, 4: 6}[channels]
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * channels)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + \
        chunk(b"IEND", b"")
