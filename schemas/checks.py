"""What a well-formed array, histogram, image or table event is, checked whenever one is made or decoded.

The media events' ``__post_init__`` calls these, and msgspec runs ``__post_init__`` on decoding too, so a
malformed event is refused at ``emit``/``log`` (a ValueError naming what is wrong) and, in a log someone
else wrote, skipped and reported by every reader as an invalid event — never decoded into a crash. The
limits are part of the format: an event past them is not one this ol writes.
"""

from __future__ import annotations

import math
import re
import struct

MAX_BINS = 512  # a histogram's bins
MAX_IMAGE_PIXELS = 4096 * 4096  # width × height, read from the image's own header
MAX_ARRAY_BYTES = 256 << 20
MAX_ARRAY_DIMS = 8
MAX_TABLE_COLUMNS = 10_000
# a run's scalar names: how many, and how long one may be. Past these a run stops being one that readers can
# list, chart and index in bounded time (1,000 names × 200 steps is fine; a million columns is not data)
MAX_METRIC_NAMES = 10_000
MAX_NAME_CHARS = 512
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DTYPE = re.compile(r"^[<>|=]?(f[248]|i[1248]|u[1248]|b1)$")
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def check_array(dtype: str, shape: list[int], data: bytes) -> None:
    if not isinstance(dtype, str) or not _DTYPE.match(dtype):
        raise ValueError(f"array dtype {dtype!r} is not a numeric numpy dtype (f2/f4/f8, i1–i8, u1–u8, b1)")
    if len(shape) > MAX_ARRAY_DIMS or any(type(n) is not int or n < 0 for n in shape):
        raise ValueError(f"array shape {shape!r} is not up to {MAX_ARRAY_DIMS} non-negative sizes")
    if len(data) > MAX_ARRAY_BYTES:
        raise ValueError(f"array of {len(data):,} bytes is past the {MAX_ARRAY_BYTES:,}-byte limit")
    expected = math.prod(shape) * int(dtype[-1])
    if expected != len(data):
        raise ValueError(f"array shape {shape} of {dtype} needs {expected:,} bytes, the event holds {len(data):,}")


def check_histogram(edges: list[float], counts: list[float]) -> None:
    if not 1 <= len(counts) <= MAX_BINS or len(edges) != len(counts) + 1:
        raise ValueError(f"histogram of {len(counts)} bins and {len(edges)} edges: it needs 1 to {MAX_BINS} bins "
                         "and one more edge than bins")
    if not all(math.isfinite(e) for e in edges) or any(edges[i + 1] < edges[i] for i in range(len(counts))):
        raise ValueError("histogram edges must be finite and increasing")
    if not all(math.isfinite(c) and c >= 0 for c in counts):
        raise ValueError("histogram counts must be finite and not negative")


def image_size(fmt: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's or JPEG's own header, None when ``data`` is not such a file."""
    if fmt == "png":
        if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
            return None
        return struct.unpack(">II", data[16:24])
    if fmt == "jpeg" and data[:3] == b"\xff\xd8\xff":
        at = 2
        while at + 9 <= len(data):  # walk the marker segments to the frame header (SOF)
            if data[at] != 0xFF:
                return None
            marker = data[at + 1]
            if marker == 0xFF:  # fill byte
                at += 1
                continue
            length = struct.unpack(">H", data[at + 2:at + 4])[0]
            if marker in _SOF:
                height, width = struct.unpack(">HH", data[at + 5:at + 9])
                return width, height
            at += 2 + length
    return None


def check_image(fmt: str, data: bytes, width: int, height: int) -> None:
    size = image_size(fmt, data)
    if size is None:
        raise ValueError(f"image data is not a {fmt.upper()} file (its header does not say so)")
    if size[0] * size[1] > MAX_IMAGE_PIXELS or 0 in size:
        raise ValueError(f"image of {size[0]}×{size[1]} pixels: images hold 1 to {MAX_IMAGE_PIXELS:,} pixels")
    if (width, height) != size and (width, height) != (0, 0):  # 0×0: older events that left it to readers
        raise ValueError(f"image says {width}×{height} but its {fmt.upper()} header says {size[0]}×{size[1]}")


def check_table(columns: list[str], rows: list[list]) -> None:
    if len(columns) > MAX_TABLE_COLUMNS:
        raise ValueError(f"table of {len(columns):,} columns is past the {MAX_TABLE_COLUMNS:,}-column limit")
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"table row {i} has {len(row)} cells for {len(columns)} columns")
