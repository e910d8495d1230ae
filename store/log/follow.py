"""The one follower: a run's log read on from a position, once or for as long as the run is being written.

Every reader that watches a run goes through here — ``ol tail`` and the training console, ``ol events
--follow``, ``ol replay --follow``, the dashboard's live curves (store/read/live.py) — so whether a run is still
being written, and when following it ends, is decided in one place: after a full drain, when the run has
ended or no writer holds it any more (a sealed run: at once, after what it holds).

The resume rule is applied as events arrive: a resume marker is delivered in its place in the log, and a
reader holding points drops those past its step there (store/read/projection.py's ``survives``). ``settled``
asks for the rule over what the log already holds before the first event is handed on, so a destination
that cannot take anything back (replay to W&B) is never sent what a later resume abandoned.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from ol.schemas import Event, RunEnded, RunResumed
from ol.store.log.reader import Frame, LogReader, Position, ReadReport
from ol.store.log.rundir import log_path, writer_active
from ol.store.read.projection import project

POLL_SECONDS = 0.05


class Follower:
    """Reads ``run_dir``'s log forward from ``position``. Not thread-safe: one follower per reading thread."""

    def __init__(self, run_dir: Path, position: Position | None = None):
        self.dir = Path(run_dir)
        self._reader = LogReader(log_path(self.dir), position)
        self.ended: str | None = None  # the status of the last run-ended event, until a resume

    @property
    def report(self) -> ReadReport:
        """What reading found besides events so far (lost, damaged, unknown kinds): grows as it reads on."""
        return self._reader.report

    @property
    def position(self) -> Position:
        return self._reader.position

    def frames(self) -> Iterator[Frame]:
        """Every whole frame written since the last call (column blocks left as blocks, for readers of points)."""
        for frame in self._reader.frames():
            for item in frame.items:
                self._saw(item)
            yield frame

    def events(self) -> Iterator[tuple[int, Event]]:
        """(sequence number, event) of every event written since the last call."""
        for seq, event in self._reader.events():
            self._saw(event)
            yield seq, event

    def follow(self, settled: bool = False, poll_seconds: float = POLL_SECONDS) -> Iterator[tuple[int, Event]]:
        """Events now and as they are written, until the run has ended or its writer is gone."""
        if settled:
            yield from project(self.events())
        while True:
            got = False
            for item in self.events():
                got = True
                yield item
            if not got:
                if self.done():
                    yield from self.events()  # whatever landed between the drain and the check
                    return
                time.sleep(poll_seconds)

    def done(self) -> bool:
        """Nothing more will be written: the run said it ended, or no process holds its writer."""
        return self.status() != "running"

    def status(self) -> str:
        """The run's status as far as its log has been read: how it ended, or running while written, else crashed."""
        return self.ended or ("running" if writer_active(self.dir) else "crashed")

    def _saw(self, item) -> None:
        kind = type(item)
        if kind is RunEnded:
            self.ended = item.status
        elif kind is RunResumed:
            self.ended = None

