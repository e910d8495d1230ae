"""Appending frames to a run's log: exclusive-create segments, one write per frame, rolling.

Not thread-safe: exactly one thread (the recorder's background writer) owns a LogWriter, and
the run's WriterLock guarantees one writing process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ol.schemas import SCHEMA_VERSION
from ol.store.errors import StoreError
from ol.store.log.codec import PayloadEncoder, Unencodable
from ol.store.log.format import (
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    MAX_PAYLOAD_BYTES,
    CorruptSpan,
    FrameRef,
    HeaderError,
    SegmentHeader,
    TornTail,
    pack_frame,
    pack_segment_header,
    scan_frames,
    segment_name,
)
from ol.store.log.segments import list_segments, read_segment_header
from ol.store.log.sharing import make_dir, share_file

SEGMENT_BYTES = 64 << 20
FSYNC_INTERVAL = 5.0  # seconds; kill -9 needs no fsync (the page cache survives), power loss does


class LogWriter:
    """Writes frames into ``log_dir``. Not thread-safe."""

    def __init__(self, log_dir: Path, run_id: str, *, next_seq: int = 0, segment_index: int = 0,
                 fd: int | None = None, size: int = 0, segment_bytes: int = SEGMENT_BYTES,
                 fsync_interval: float = FSYNC_INTERVAL, level: int = 3):
        self.log_dir = Path(log_dir)
        self.run_id = run_id
        self.next_seq = next_seq
        self.segment_bytes = segment_bytes
        self.fsync_interval = fsync_interval
        self.cut_bytes = 0  # torn tail cut when reopening
        self._encoder = PayloadEncoder(level)
        self._index = segment_index
        self._fd = fd
        self._size = size
        self._last_fsync = time.monotonic()
        self._dirty = False

    @classmethod
    def create(cls, log_dir: Path, run_id: str, **kw) -> LogWriter:
        Path(log_dir).parent.mkdir(parents=True, exist_ok=True)
        make_dir(log_dir, exist_ok=True)
        writer = cls(log_dir, run_id, **kw)
        writer._open_segment(0)
        return writer

    @classmethod
    def reopen(cls, log_dir: Path, **kw) -> LogWriter:
        """Continue an existing log: cut a torn tail of its last segment, continue the sequence."""
        segments = list_segments(log_dir)
        if not segments:
            raise StoreError(f"store: {log_dir} holds no log segments; start a new run instead")
        index, path = segments[-1]
        data = path.read_bytes()
        try:
            header = read_segment_header(path, data)
        except HeaderError as e:
            if len(data) >= FILE_HEADER_SIZE:
                raise StoreError(f"store: {path} has a damaged header ({e}); this is not a torn tail, "
                                 "so it is left as it is — run `ol verify` on the run") from None
            # the crash came while this segment was being created: it holds no events
            os.unlink(path)
            if len(segments) == 1:
                return cls.create(log_dir, Path(log_dir).parent.name, **kw)
            prev = cls.reopen(log_dir, **kw)
            prev.cut_bytes += len(data)
            prev.roll()
            return prev
        run_id = header.run_id
        next_seq, end = header.first_seq, FILE_HEADER_SIZE
        for item in scan_frames(data, FILE_HEADER_SIZE):
            if isinstance(item, FrameRef) or (isinstance(item, CorruptSpan) and item.header):
                h = item.header
                next_seq, end = max(next_seq, h.first_seq + h.count), item.end
            elif isinstance(item, CorruptSpan):
                end = item.end
            elif isinstance(item, TornTail):
                break
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        cut = len(data) - end
        if cut:
            os.ftruncate(fd, end)  # the one permitted change to written bytes: a torn tail
            os.fsync(fd)
        writer = cls(log_dir, run_id, next_seq=next_seq, segment_index=index, fd=fd, size=end, **kw)
        writer.cut_bytes = cut
        return writer

    def _open_segment(self, index: int) -> None:
        path = self.log_dir / segment_name(index)
        # exclusive create: an existing segment is never opened in a way that could truncate it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        share_file(fd, self.log_dir)
        header = pack_segment_header(
            SegmentHeader(FORMAT_VERSION, SCHEMA_VERSION, index, self.next_seq, self.run_id)
        )
        _write_all(fd, header)
        fsync_dir(self.log_dir)
        self._fd, self._index, self._size = fd, index, len(header)

    def append(self, items: list) -> tuple[int, int]:
        """Encode items as one frame and write it; returns (first_seq, count)."""
        payload, count = self._encoder.encode(items)
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Unencodable(f"store: a frame of {len(payload):,} bytes is past the {MAX_PAYLOAD_BYTES:,}-byte limit")
        frame = pack_frame(self.next_seq, count, payload)
        if self._size + len(frame) > self.segment_bytes and self._size > FILE_HEADER_SIZE:
            self.roll()
        first = self.next_seq
        try:
            _write_all(self._fd, frame)
        except OSError as e:
            self._cut_partial_write()
            path = self.log_dir / segment_name(self._index)
            raise StoreError(f"store: cannot write to {path}: {e.strerror or e} — free space, raise the file size "
                             "limit or fix permissions; what was written before is kept") from e
        self._size += len(frame)
        self.next_seq += count
        self._dirty = True
        if self.fsync_interval >= 0 and time.monotonic() - self._last_fsync >= self.fsync_interval:
            self.fsync()
        return first, count

    def _cut_partial_write(self) -> None:
        """A write that failed halfway (disk full, file size limit) leaves part of a frame: cut it, so the
        segment still ends on a whole frame. Shrinking a file works even when growing it does not."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            pass  # readers see a torn tail instead, which they handle

    def append_last(self, items: list) -> bool:
        """Best effort after a failed append: write ``items`` (the run's end) here or, when this segment
        cannot grow, into a new one; returns whether it was written. Never raises."""
        for attempt in range(2):
            try:
                if attempt:
                    self.roll()
                self.append(items)
                return True
            except (OSError, StoreError):
                continue
        return False

    def roll(self) -> None:
        self.fsync()
        os.close(self._fd)
        self._open_segment(self._index + 1)

    def fsync(self) -> None:
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False
        self._last_fsync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.fsync()
            os.close(self._fd)
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: Path) -> None:
    """A directory's entries (a file created or renamed in it) made durable, as the file's own fsync is not."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
