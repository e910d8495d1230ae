"""Integrity check of a run's log, and the one repair allowed: cutting a torn tail."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ol.store.errors import StoreError, VersionMismatch
from ol.store.format import HeaderError
from ol.store.reader import Damage, LogReader, Lost, Tail
from ol.store.rundir import WriterLock, log_path, writer_active
from ol.store.segments import list_segments, read_segment_header
from ol.store.writer import LogWriter


@dataclass
class VerifyReport:
    run_dir: Path
    segments: int = 0
    frames: int = 0
    events: int = 0
    lost: list[Lost] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)
    torn_tail: Tail | None = None
    unknown: dict[str, int] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    writer_active: bool = False
    repaired_bytes: int = 0

    @property
    def ok(self) -> bool:
        """Clean: nothing lost, nothing invalid. A torn tail of a live run is just a write in flight."""
        torn = self.torn_tail is not None and not self.writer_active
        return not (self.lost or self.damaged or self.invalid or self.problems or torn)


def verify_run(run_dir: Path) -> VerifyReport:
    run_dir = Path(run_dir)
    report = VerifyReport(run_dir, writer_active=writer_active(run_dir))
    segments = list_segments(log_path(run_dir))
    report.segments = len(segments)
    if not segments:
        report.problems.append("the log holds no segments")
        return report
    for index, path in segments:
        try:
            read_segment_header(path)
        except HeaderError as e:
            size = path.stat().st_size
            what = "is empty" if size == 0 else str(e)
            report.problems.append(f"segment {index} ({path.name}) {what}")
        except VersionMismatch:
            raise
    reader = LogReader(log_path(run_dir))
    for frame in reader.frames():
        report.events += len(reader.decode(frame))
    report.frames = reader.frames_read
    report.lost, report.damaged, report.torn_tail = reader.lost, reader.damaged, reader.torn_tail
    report.unknown, report.invalid = dict(reader.unknown), reader.invalid
    return report


def repair_run(run_dir: Path) -> int:
    """Cut a torn tail; refuses while a writer holds the run. Returns the bytes cut."""
    lock = WriterLock(run_dir)
    try:
        lock.acquire()
    except StoreError:
        raise StoreError(f"store: {run_dir} is being written; --repair only runs when no writer holds it") from None
    try:
        writer = LogWriter.reopen(log_path(run_dir))
        writer.close()
        return writer.cut_bytes
    finally:
        lock.release()
