"""Integrity check of a run: its log, and the checkpoint files its log vouches for; the one repair
allowed is cutting a torn tail."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ol.schemas import Checkpoint, MediaFile
from ol.store.errors import StoreError
from ol.store.log.format import HeaderError
from ol.store.log.reader import Damage, LogReader, Lost, ReadReport, Tail
from ol.store.log.rundir import WriterLock, log_path, writer_active
from ol.store.log.segments import list_segments, read_segment_header
from ol.store.log.writer import LogWriter


@dataclass
class VerifyReport:
    run_dir: Path
    segments: int = 0
    events: int = 0
    read: ReadReport = field(default_factory=ReadReport)  # what the reader found: lost, damaged, torn, unknown
    problems: list[str] = field(default_factory=list)  # what verify found besides: segment headers, checkpoints
    notes: list[str] = field(default_factory=list)  # worth saying, not wrong (a pruned checkpoint)
    writing: bool = False  # a process holds the run's writer lock: its torn tail may be a write in flight
    repaired_bytes: int = 0

    @property
    def frames(self) -> int:
        return self.read.frames_read

    @property
    def lost(self) -> list[Lost]:
        return self.read.lost

    @property
    def damaged(self) -> list[Damage]:
        return self.read.damaged

    @property
    def torn_tail(self) -> Tail | None:
        return self.read.torn_tail

    @property
    def unknown(self) -> dict[str, int]:
        return dict(self.read.unknown)

    @property
    def invalid(self) -> list[str]:
        return self.read.invalid

    @property
    def ok(self) -> bool:
        """Clean: nothing lost, nothing invalid. A torn tail of a live run is just a write in flight."""
        torn = self.torn_tail is not None and not self.writing
        return not (self.lost or self.damaged or self.invalid or self.problems or torn)


def verify_run(run_dir: Path) -> VerifyReport:
    run_dir = Path(run_dir)
    report = VerifyReport(run_dir, writing=writer_active(run_dir))
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
    reader = LogReader(log_path(run_dir))
    checkpoints = []
    for frame in reader.frames():
        events = reader.decode(frame)
        report.events += len(events)
        checkpoints += [e for _, e in events if type(e) in (Checkpoint, MediaFile)]
    # a path holds one file: a checkpoint written again in place (Lightning's last.ckpt) is vouched for by
    # its newest event, and the older events of that path describe files that no longer exist
    for event in {e.path: e for e in checkpoints}.values():
        why = checkpoint_problem(run_dir, event)
        what = "checkpoint" if type(event) is Checkpoint else f"{event.media} file"
        if why == MISSING:
            report.notes.append(f"{what} {event.path} (step {event.step}) is no longer there")
        elif why:
            report.problems.append(f"{what} {event.path} (step {event.step}) {why}")
    report.read = reader.report
    return report


MISSING = "is missing"


def checkpoint_problem(run_dir: Path, event: Checkpoint | MediaFile) -> str | None:
    """What is wrong with the file a checkpoint (or media file) event vouches for, or None when it matches. A
    log is untrusted input: a path out of the run's folder, or through a link, is a problem, never read."""
    path = _inside(run_dir, event.path)
    if isinstance(path, str):
        return path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return MISSING
    if size != event.size:
        return f"has {size} bytes, the log recorded {event.size} (changed or truncated)"
    if sha256_file(path) != event.sha256:
        return "does not match the sha256 the log recorded (changed or damaged)"
    return None


def on_disk(run_dir: Path, relative: str) -> bool:
    """Whether the file a run's event names (a checkpoint a framework may since have deleted) is still in the run's
    folder — looked at, never read, and never through a link or out of the folder."""
    path = _inside(run_dir, relative)
    return not isinstance(path, str) and path.is_file()


def _inside(run_dir: Path, relative: str) -> Path | str:
    """The path ``relative`` names in the run's folder, or what is wrong with it (a log is untrusted input)."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        return "names a place outside the run's folder"
    path = Path(run_dir).resolve() / relative
    if path.resolve() != path:
        return "is reached through a link (not followed)"
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
