"""Reading a run's log from the start or a saved position, once or following a live writer.

Outcomes are distinct types: whole frames (decoded to events), ``Lost`` sequence ranges
(a corrupt frame was skipped and the reader resynced at the next valid header), a ``torn_tail``
(an incomplete last frame: wait and retry at the same offset), and ``VersionMismatch``
(raised: a newer ol wrote this). Not thread-safe: one reader per thread.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from ol.schemas import Event
from ol.store.codec import PayloadDecoder, PayloadError
from ol.store.format import FILE_HEADER_SIZE, CorruptSpan, FrameRef, HeaderError, scan_frames
from ol.store.segments import list_segments, read_segment_header


class Position(msgspec.Struct, frozen=True):
    """Where to continue reading: the next frame starts at ``offset`` of segment ``segment``."""

    segment: int = 0
    offset: int = 0
    next_seq: int = 0


@dataclass(frozen=True)
class Lost:
    """Sequence numbers that could not be read; ``last_seq`` None when nothing valid followed."""

    first_seq: int
    last_seq: int | None
    segment: int
    offset: int
    reason: str

    def describe(self) -> str:
        last = "?" if self.last_seq is None else self.last_seq
        return f"events {self.first_seq}..{last} lost (segment {self.segment} @ {self.offset}: {self.reason})"


@dataclass(frozen=True)
class Frame:
    segment: int
    offset: int
    end: int
    first_seq: int
    count: int
    payload: bytes


@dataclass(frozen=True)
class Tail:
    """An incomplete frame at the end of the log (a live writer mid-write, or a crash)."""

    segment: int
    offset: int
    nbytes: int


class LogReader:
    """Reads ``log_dir`` forward from ``position``. Not thread-safe."""

    def __init__(self, log_dir: Path, position: Position | None = None):
        self.log_dir = Path(log_dir)
        self.position = position or Position()
        self.lost: list[Lost] = []
        self.unknown: Counter[str] = Counter()
        self.invalid: list[str] = []
        self.torn_tail: Tail | None = None
        self.frames_read = 0
        self._pending: tuple[int, int, str] | None = None  # (segment, offset, reason) of a bad span
        self._decoder = PayloadDecoder()

    # frames ---------------------------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        """Every whole, valid frame available now; advances ``position`` past each."""
        while True:
            indexes = [i for i, _ in list_segments(self.log_dir)]
            cur = self.position.segment
            later = [i for i in indexes if i > cur]
            if cur not in indexes:
                if not later:
                    return
                self._move_to(later[0])
                continue
            data = self._read_from(cur, self.position.offset)
            if data is None:  # the segment's header is not there yet (or never will be)
                if later:
                    self._note_bad(cur, 0, "segment header unreadable")
                    self._move_to(later[0])
                    continue
                return
            base = self.position.offset
            for item in scan_frames(data, 0, base):
                if isinstance(item, FrameRef):
                    frame = self._accept(cur, item)
                    if frame is not None:
                        yield frame
                elif isinstance(item, CorruptSpan):
                    self._corrupt(cur, item)
                else:
                    if later:  # a sealed segment never grows again: its tail is lost bytes
                        self._note_bad(cur, item.offset, "segment ends in an incomplete frame")
                        break
                    self.torn_tail = Tail(cur, item.offset, item.nbytes)
                    return
            else:
                self.torn_tail = None
                if not later:
                    self._flush_pending(last_seq=None)
                    return
            self._move_to(later[0])

    def _read_from(self, segment: int, offset: int) -> bytes | None:
        path = self.log_dir / f"{segment:08d}.olog"
        with open(path, "rb") as f:
            if offset == 0:
                head = f.read(FILE_HEADER_SIZE)
                try:
                    header = read_segment_header(path, head)
                except HeaderError:
                    return None
                if header.first_seq > self.position.next_seq:
                    self._note_bad(segment, 0, "missing events before this segment")
                    self._flush_pending(last_seq=header.first_seq - 1)
                self.position = Position(segment, FILE_HEADER_SIZE, max(header.first_seq, self.position.next_seq))
                return f.read()
            f.seek(offset)
            return f.read()

    def _accept(self, segment: int, ref: FrameRef) -> Frame | None:
        h = ref.header
        expected = self.position.next_seq
        if h.first_seq > expected:
            if self._pending is None:
                self._pending = (segment, ref.offset, "frames missing")
            self._flush_pending(last_seq=h.first_seq - 1)
        self._pending = None
        self.position = Position(segment, ref.end, max(expected, h.first_seq + h.count))
        if h.first_seq + h.count <= expected:
            return None  # already read (overlap): never yield an event twice
        self.frames_read += 1
        return Frame(segment, ref.offset, ref.end, h.first_seq, h.count, ref.payload)

    def _corrupt(self, segment: int, span: CorruptSpan) -> None:
        if span.header is not None:
            h = span.header
            self._note_bad(segment, span.offset, span.reason)
            self._flush_pending(last_seq=h.first_seq + h.count - 1)
            self.position = Position(segment, span.end, h.first_seq + h.count)
        else:
            self._note_bad(segment, span.offset, span.reason)
            self.position = Position(segment, span.end, self.position.next_seq)

    def _note_bad(self, segment: int, offset: int, reason: str) -> None:
        if self._pending is None:
            self._pending = (segment, offset, reason)

    def _flush_pending(self, last_seq: int | None) -> None:
        if self._pending is None:
            return
        segment, offset, reason = self._pending
        first = self.position.next_seq
        if last_seq is None or last_seq >= first:
            self.lost.append(Lost(first, last_seq, segment, offset, reason))
        self._pending = None
        if last_seq is not None:
            self.position = Position(self.position.segment, self.position.offset, max(first, last_seq + 1))

    def _move_to(self, segment: int) -> None:
        self.position = Position(segment, 0, self.position.next_seq)

    # events ---------------------------------------------------------------------------------

    def events(self) -> Iterator[tuple[int, Event]]:
        """(sequence number, event) for every event available now."""
        for frame in self.frames():
            decoded = self.decode(frame)
            if decoded is not None:
                yield from decoded

    def decode(self, frame: Frame) -> list[tuple[int, Event]] | None:
        try:
            decoded = self._decoder.events(frame.payload, frame.first_seq)
        except PayloadError as e:
            self.lost.append(Lost(frame.first_seq, frame.first_seq + frame.count - 1,
                                  frame.segment, frame.offset, str(e)))
            return None
        self.unknown.update(decoded.unknown)
        self.invalid.extend(decoded.invalid)
        return decoded.events

    def follow(self, until: Callable[[], bool], poll_interval: float = 0.02) -> Iterator[tuple[int, Event]]:
        """Events as they are written, until ``until()`` is true after a full drain."""
        while True:
            got = False
            for item in self.events():
                got = True
                yield item
            if not got:
                if until():
                    yield from self.events()  # whatever landed between the drain and the check
                    return
                time.sleep(poll_interval)


def read_events(log_dir: Path) -> list[tuple[int, Event]]:
    """Every readable event of a log, in order."""
    return list(LogReader(log_dir).events())
