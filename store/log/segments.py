"""Listing and opening a log's segment files (shared by the writer, reader and verifier)."""

from __future__ import annotations

import os
from pathlib import Path

from ol.store.errors import VersionMismatch
from ol.store.log.format import (
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    SEGMENT_NAME_DIGITS,
    SEGMENT_SUFFIX,
    HeaderError,
    SegmentHeader,
    unpack_segment_header,
)


def list_segments(log_dir: Path) -> list[tuple[int, Path]]:
    """(index, path) of each segment, in order; stray files are ignored."""
    out = []
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    for name in names:
        stem = name[: -len(SEGMENT_SUFFIX)]
        if name.endswith(SEGMENT_SUFFIX) and len(stem) == SEGMENT_NAME_DIGITS and stem.isdigit():
            out.append((int(stem), Path(log_dir) / name))
    return sorted(out)


def read_segment_header(path: Path, data: bytes | None = None) -> SegmentHeader:
    """The header of a segment; HeaderError if torn or foreign, VersionMismatch if newer."""
    if data is None:
        with open(path, "rb") as f:
            data = f.read(FILE_HEADER_SIZE)
    header = unpack_segment_header(data)
    if header.format_version > FORMAT_VERSION:
        raise VersionMismatch(path, header.format_version, FORMAT_VERSION)
    return header


__all__ = ["HeaderError", "list_segments", "read_segment_header"]
