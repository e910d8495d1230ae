"""Reading a run's log from the start or a saved position, once or following a live writer.

Outcomes are distinct types: whole frames (decoded once, here) and, in the reader's ``report`` (one
``ReadReport`` that callers hand on whole), ``Lost`` sequence ranges (a corrupt frame was skipped and the
reader resynced at the next valid header), ``Damage`` (bytes that are not what a log holds — garbage, a
frame that passes its CRCs but does not decode or disagrees with its own header, a repeated or reordered
segment — recorded whether or not events were lost with them), a ``torn_tail`` (an incomplete last frame:
wait and retry at the same offset), unknown and invalid events; ``VersionMismatch`` is raised (a newer ol
wrote this). Frames are walked by store/log/format.py's one walker. Not thread-safe: one reader per thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from ol.schemas import Event
from ol.store.errors import PayloadError
from ol.store.log.codec import PayloadDecoder, expand
from ol.store.log.columns import StepColumns
from ol.store.log.format import FILE_HEADER_SIZE, CorruptSpan, FrameRef, HeaderError, scan_frames, segment_name
from ol.store.log.segments import list_segments, read_segment_header


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
class Damage:
    """Bytes in the log that are not a frame of it, whether or not events were lost with them."""

    segment: int
    offset: int
    reason: str

    def describe(self) -> str:
        return f"segment {self.segment} @ {self.offset}: {self.reason}"


@dataclass(frozen=True)
class Frame:
    """A whole frame whose payload decoded: its items are events, column blocks, and None for events
    that could not be used (counted in the reader's ``unknown`` / ``invalid``)."""

    segment: int
    offset: int
    end: int
    first_seq: int
    count: int
    items: list


@dataclass(frozen=True)
class Tail:
    """An incomplete frame at the end of the log (a live writer mid-write, or a crash)."""

    segment: int
    offset: int
    nbytes: int


@dataclass
class ReadReport:
    """What reading a log found besides its events, so far: grows as a follower reads on."""

    lost: list[Lost] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)  # events of kinds a newer ol writes, by kind
    invalid: list[str] = field(default_factory=list)  # events that do not decode as their kind
    torn_tail: Tail | None = None
    frames_read: int = 0

    def problems(self) -> list[str]:
        """Everything found wrong, one line each: lost events, damaged bytes, invalid events."""
        return ([x.describe() for x in self.lost] + [f"damaged {d.describe()}" for d in self.damaged]
                + [f"invalid event skipped: {m}" for m in self.invalid])


class LogReader:
    """Reads ``log_dir`` forward from ``position``; ``report`` says what it found besides events. Not
    thread-safe."""

    def __init__(self, log_dir: Path, position: Position | None = None):
        self.log_dir = Path(log_dir)
        self.position = position or Position()
        self.report = ReadReport()
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
                if self._header_complete(cur):  # whole but wrong: it will never become a segment
                    self._note_bad(cur, 0, "not an ol segment (its header is whole but wrong)")
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
                    self.report.torn_tail = Tail(cur, item.offset, item.nbytes)
                    return
            else:
                self.report.torn_tail = None
                if not later:
                    self._flush_pending(last_seq=None)
                    return
            self._move_to(later[0])

    def _read_from(self, segment: int, offset: int) -> bytes | None:
        path = self.log_dir / segment_name(segment)
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
                elif header.first_seq < self.position.next_seq:
                    read = self.position.next_seq
                    self._note_bad(segment, 0, f"segment starts at event {header.first_seq}, before the {read} "
                                               "already read (a copied or reordered segment?)")
                    self._pending = None
                self.position = Position(segment, FILE_HEADER_SIZE, max(header.first_seq, self.position.next_seq))
                return f.read()
            f.seek(offset)
            return f.read()

    def _header_complete(self, segment: int) -> bool:
        try:
            return (self.log_dir / segment_name(segment)).stat().st_size >= FILE_HEADER_SIZE
        except OSError:
            return False

    def _accept(self, segment: int, ref: FrameRef) -> Frame | None:
        h = ref.header
        expected = self.position.next_seq
        decoded, why = self._decoded(ref)
        if decoded is None:
            # a frame that passes its CRCs and still is not one (a writer bug, a crafted file):
            # its header's sequence numbers are not trusted either, the frames around it decide
            self._note_bad(segment, ref.offset, why)
            self.position = Position(segment, ref.end, expected)
            return None
        if h.first_seq > expected:
            self._note_bad(segment, ref.offset, "frames missing")
            self._flush_pending(last_seq=h.first_seq - 1)
        self._pending = None
        self.position = Position(segment, ref.end, max(expected, h.first_seq + h.count))
        if h.first_seq < expected:  # never yield an event twice
            repeated = f"{h.first_seq}..{h.first_seq + h.count - 1}"
            self._note_bad(segment, ref.offset, f"frame repeats events {repeated}, already read "
                                                "(a copied or reordered segment?)")
            self._pending = None  # nothing is lost by skipping a repeat
            return None
        self.report.unknown.update(decoded.unknown)
        self.report.invalid.extend(decoded.invalid)
        self.report.frames_read += 1
        return Frame(segment, ref.offset, ref.end, h.first_seq, h.count, decoded.items)

    def _decoded(self, ref: FrameRef):
        """(decoded payload, None), or (None, why the frame is not one)."""
        try:
            decoded = self._decoder.items(ref.payload)
        except PayloadError as e:
            return None, str(e)
        items = decoded.items
        count = sum(item.n if type(item) is StepColumns else 1 for item in items)
        if count != ref.header.count:
            return None, f"frame holds {count} events, its header says {ref.header.count}"
        if items and not decoded.unknown and all(item is None for item in items):
            return None, f"frame holds no valid event ({decoded.invalid[0]})"
        return decoded, None

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
        last = self.report.damaged[-1] if self.report.damaged else None
        if last is None or (last.segment, last.offset) != (segment, offset):
            self.report.damaged.append(Damage(segment, offset, reason))
        if self._pending is None:
            self._pending = (segment, offset, reason)

    def _flush_pending(self, last_seq: int | None) -> None:
        if self._pending is None:
            return
        segment, offset, reason = self._pending
        first = self.position.next_seq
        if last_seq is None or last_seq >= first:
            self.report.lost.append(Lost(first, last_seq, segment, offset, reason))
        self._pending = None
        if last_seq is not None:
            self.position = Position(self.position.segment, self.position.offset, max(first, last_seq + 1))

    def _move_to(self, segment: int) -> None:
        self.position = Position(segment, 0, self.position.next_seq)

    # events ---------------------------------------------------------------------------------

    def events(self) -> Iterator[tuple[int, Event]]:
        """(sequence number, event) for every event available now."""
        for frame in self.frames():
            yield from expand(frame.items, frame.first_seq)

    def decode(self, frame: Frame) -> list[tuple[int, Event]]:
        return expand(frame.items, frame.first_seq)


def damage_summary(run_id: str, problems: list[str]) -> str:
    """One line for a damaged run, however much is wrong with it, saying where to look."""
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{run_id}: damaged log, read up to and around the damage: {problems[0]}{more}; run `ol verify {run_id}`"


def read_events(log_dir: Path) -> list[tuple[int, Event]]:
    """Every readable event of a log, in order."""
    return list(LogReader(log_dir).events())
