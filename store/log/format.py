"""Byte layout of an ol log segment, and the code that packs, unpacks and scans it.

A run's log is a sequence of segment files ``log/<index>.olog``. Every header is a zstd
*skippable frame*, so ``zstd -t`` validates a segment and ``zstd -dc`` prints its payloads::

    segment      := file_header frame*
    file_header  := u32 0x184D2A50 | u32 88 |                        (skippable frame, 96 bytes)
                    "OLOG" | u16 format_version | u16 schema_version |
                    u32 segment_index | u64 first_seq | 64s run_id (utf-8, NUL padded) |
                    u32 crc32(the 84 bytes from "OLOG")
    frame        := frame_header payload
    frame_header := u32 0x184D2A51 | u32 28 |                        (skippable frame, 36 bytes)
                    u64 first_seq | u32 count | u32 payload_len | u32 crc32(payload) |
                    u16 encoding | u16 reserved(0) | u32 crc32(the 32 bytes before it)
    payload      := one zstd frame (content size set) of a msgpack array of items

All integers little-endian. ``count`` is the number of events the frame holds (a column block
expands to many events). A frame is written with one ``write`` so a crash leaves at most one
torn frame, always the last; a reader sees a torn frame as a prefix and waits for the rest.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

FORMAT_VERSION = 1
SEGMENT_SUFFIX = ".olog"
SEGMENT_NAME_DIGITS = 8

SKIPPABLE_HEADER = struct.Struct("<II")  # zstd skippable frame: magic, content size
FILE_MAGIC = 0x184D2A50
FRAME_MAGIC = 0x184D2A51
OL_MAGIC = b"OLOG"
RUN_ID_BYTES = 64

# u32 magic | u32 size | "OLOG" | u16 fmt | u16 schema | u32 segment | u64 first_seq | 64s run id
_FILE_BODY = struct.Struct(f"<4sHHIQ{RUN_ID_BYTES}s")
FILE_HEADER_SIZE = SKIPPABLE_HEADER.size + _FILE_BODY.size + 4  # + crc32
# u32 magic | u32 size | u64 first_seq | u32 count | u32 payload_len | u32 payload_crc | u16 enc | u16 0
_FRAME_BODY = struct.Struct("<IIQIIIHH")
FRAME_HEADER_SIZE = _FRAME_BODY.size + 4  # + crc32 of the header
_FRAME_MAGIC_BYTES = SKIPPABLE_HEADER.pack(FRAME_MAGIC, FRAME_HEADER_SIZE - SKIPPABLE_HEADER.size)
_CRC = struct.Struct("<I")

ENCODING_MSGPACK_ITEMS = 1  # payload: msgpack array of events and step-column blocks
KNOWN_ENCODINGS = frozenset({ENCODING_MSGPACK_ITEMS})
MAX_PAYLOAD_BYTES = 1 << 30  # a larger frame is damage, not data: writers split or refuse before this


@dataclass(frozen=True)
class SegmentHeader:
    format_version: int
    schema_version: int
    segment_index: int
    first_seq: int
    run_id: str


@dataclass(frozen=True)
class FrameHeader:
    first_seq: int
    count: int
    payload_len: int
    payload_crc: int
    encoding: int


class HeaderError(ValueError):
    """A segment's file header is missing, torn, of another format, or fails its CRC."""


def segment_name(index: int) -> str:
    return f"{index:0{SEGMENT_NAME_DIGITS}d}{SEGMENT_SUFFIX}"


def pack_segment_header(h: SegmentHeader) -> bytes:
    run_id = h.run_id.encode()
    if len(run_id) > RUN_ID_BYTES:
        raise ValueError(f"run id longer than {RUN_ID_BYTES} bytes: {h.run_id!r}")
    body = _FILE_BODY.pack(
        OL_MAGIC, h.format_version, h.schema_version, h.segment_index, h.first_seq, run_id
    )
    size = len(body) + _CRC.size
    return SKIPPABLE_HEADER.pack(FILE_MAGIC, size) + body + _CRC.pack(zlib.crc32(body))


def unpack_segment_header(buf: bytes | memoryview) -> SegmentHeader:
    """Parse a file header; HeaderError says what is wrong with it."""
    if len(buf) < FILE_HEADER_SIZE:
        raise HeaderError(f"file header torn ({len(buf)} of {FILE_HEADER_SIZE} bytes)")
    magic, size = SKIPPABLE_HEADER.unpack_from(buf, 0)
    body = bytes(buf[SKIPPABLE_HEADER.size : SKIPPABLE_HEADER.size + _FILE_BODY.size])
    if magic != FILE_MAGIC or size != _FILE_BODY.size + _CRC.size or body[:4] != OL_MAGIC:
        raise HeaderError("not an ol log segment (wrong magic)")
    (crc,) = _CRC.unpack_from(buf, SKIPPABLE_HEADER.size + _FILE_BODY.size)
    if crc != zlib.crc32(body):
        raise HeaderError("file header fails its CRC")
    _, fmt, schema, index, first_seq, run_id = _FILE_BODY.unpack(body)
    return SegmentHeader(fmt, schema, index, first_seq, run_id.rstrip(b"\0").decode(errors="replace"))


def pack_frame(first_seq: int, count: int, payload: bytes, encoding: int = ENCODING_MSGPACK_ITEMS) -> bytes:
    """Header + payload, ready for a single write."""
    body = _FRAME_BODY.pack(
        FRAME_MAGIC,
        FRAME_HEADER_SIZE - SKIPPABLE_HEADER.size,
        first_seq,
        count,
        len(payload),
        zlib.crc32(payload),
        encoding,
        0,
    )
    return body + _CRC.pack(zlib.crc32(body)) + payload


def unpack_frame_header(buf: bytes | memoryview, pos: int) -> FrameHeader | None:
    """The frame header at ``pos`` if its magic and CRC are right, else None."""
    body = bytes(buf[pos : pos + _FRAME_BODY.size])
    if len(body) < _FRAME_BODY.size or body[:8] != _FRAME_MAGIC_BYTES:
        return None
    (crc,) = _CRC.unpack_from(buf, pos + _FRAME_BODY.size)
    if crc != zlib.crc32(body):
        return None
    _, _, first_seq, count, length, payload_crc, encoding, _ = _FRAME_BODY.unpack(body)
    return FrameHeader(first_seq, count, length, payload_crc, encoding)  # an oversized one is the walker's to skip


# Scan outcomes: distinct types, as TensorBoard's tf_record reader has them.


@dataclass(frozen=True)
class FrameRef:
    """A whole frame whose header and payload CRCs check out."""

    offset: int
    end: int
    header: FrameHeader
    payload: bytes | None  # None from scan_file_frames, which reads headers only


@dataclass(frozen=True)
class CorruptSpan:
    """Bytes that do not form a valid frame, followed by a valid one: skipped."""

    offset: int
    end: int
    reason: str
    header: FrameHeader | None  # known when only the payload was damaged


@dataclass(frozen=True)
class TornTail:
    """Bytes at the end that are not (yet) a whole valid frame: a growing or crashed log."""

    offset: int
    nbytes: int


def scan_frames(buf: bytes | memoryview, start: int, base: int = 0):
    """Yield FrameRef / CorruptSpan for ``buf[start:]``, then at most one TornTail.

    ``base`` is the file offset of ``buf[0]``, so reported offsets are file offsets.
    """
    yield from _walk(_Buffer(buf), start, base, payloads=True)


def scan_file_frames(f: BinaryIO, start: int):
    """The same walk over an open segment file, reading only frame headers: FrameRefs come without their
    payload (``payload`` None, its CRC not yet checked; ``read_payload`` reads and checks one). For the
    catalog, which decodes a log's first and last frames only."""
    yield from _walk(_File(f), start, 0, payloads=False)


def read_payload(f: BinaryIO, ref: FrameRef) -> bytes | None:
    """The payload of a frame found by ``scan_file_frames``, or None when it fails its CRC."""
    f.seek(ref.offset + FRAME_HEADER_SIZE)
    payload = f.read(ref.header.payload_len)
    return payload if zlib.crc32(payload) == ref.header.payload_crc else None


# The one frame walker: the reader, the writer's reopen, verify and the catalog all walk frames with it,
# over bytes in memory or a file read header by header.


class _Buffer:
    def __init__(self, buf: bytes | memoryview):
        self.buf, self.size = buf, len(buf)
        self._bytes = buf if isinstance(buf, bytes) else None

    def read(self, pos: int, n: int) -> bytes:
        return bytes(self.buf[pos : pos + n])

    def find(self, needle: bytes, pos: int) -> int:
        if self._bytes is None:  # memoryview has no find; copy once, only when resyncing
            self._bytes = bytes(self.buf)
        return self._bytes.find(needle, pos)


class _File:
    CHUNK = 1 << 20

    def __init__(self, f: BinaryIO):
        self.f = f
        self.size = os.fstat(f.fileno()).st_size

    def read(self, pos: int, n: int) -> bytes:
        self.f.seek(pos)
        return self.f.read(n)

    def find(self, needle: bytes, pos: int) -> int:
        while pos < self.size:
            chunk = self.read(pos, self.CHUNK + len(needle) - 1)  # overlapping: a match across chunks counts
            hit = chunk.find(needle)
            if hit >= 0:
                return pos + hit
            pos += self.CHUNK
        return -1


def _walk(src: _Buffer | _File, start: int, base: int, payloads: bool):
    n = src.size
    pos = start
    while pos < n:
        header = unpack_frame_header(src.read(pos, FRAME_HEADER_SIZE), 0) if n - pos >= FRAME_HEADER_SIZE else None
        if header is None:
            nxt = _resync(src, pos + 1)
            if nxt is None:
                yield TornTail(base + pos, n - pos)
                return
            yield CorruptSpan(base + pos, base + nxt, "unreadable frame header", None)
            pos = nxt
            continue
        end = pos + FRAME_HEADER_SIZE + header.payload_len
        if header.payload_len > MAX_PAYLOAD_BYTES:  # no writer makes one: damage, never a frame still being written
            end = min(end, n)
            yield CorruptSpan(base + pos, base + end, f"a frame of {header.payload_len:,} bytes, past the "
                              f"{MAX_PAYLOAD_BYTES:,}-byte limit", header)
            pos = end
            continue
        if end > n:
            yield TornTail(base + pos, n - pos)
            return
        payload = src.read(pos + FRAME_HEADER_SIZE, header.payload_len) if payloads else None
        if payload is not None and zlib.crc32(payload) != header.payload_crc:
            yield CorruptSpan(base + pos, base + end, "payload fails its CRC", header)
        elif header.encoding not in KNOWN_ENCODINGS:
            yield CorruptSpan(base + pos, base + end, f"unknown payload encoding {header.encoding}", header)
        else:
            yield FrameRef(base + pos, base + end, header, payload)
        pos = end


def _resync(src: _Buffer | _File, pos: int) -> int | None:
    """Offset of the next valid frame header at or after ``pos``, if any."""
    while True:
        pos = src.find(_FRAME_MAGIC_BYTES, pos)
        if pos < 0:
            return None
        if unpack_frame_header(src.read(pos, FRAME_HEADER_SIZE), 0) is not None:
            return pos
        pos += 1
