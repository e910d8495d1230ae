"""The background writer: the training thread hands items over, this thread frames and writes.

Follows TensorBoard's _AsyncWriter: a bounded queue, the worker keeps its exception and the
caller re-raises it on its next call, and a dead worker releases blocked producers. Unlike it:
not a daemon thread, and a flush interval in milliseconds. Producers append to a deque (atomic
under the GIL) without taking a lock; the worker wakes every ``flush_interval`` or when a
frame's worth of items is waiting. Thread-safe for any number of producer threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ol.errors import OlError, UsageError
from ol.producer.signals import GUARD
from ol.schemas import Dropped, Note
from ol.store.log.codec import Unencodable
from ol.store.log.writer import LogWriter

FLUSH_INTERVAL = 0.2  # seconds: live views stay live, frames stay large enough to compress well
MAX_FRAME_EVENTS = 8192
MAX_QUEUE = 200_000


class WriterStopped(OlError):
    """The background writer died; the message carries what killed it."""


class BackgroundWriter:
    """Owns a LogWriter on a worker thread; ``queue`` is where producers append items."""

    def __init__(self, log: LogWriter, *, flush_interval: float = FLUSH_INTERVAL,
                 max_queue: int = MAX_QUEUE, max_frame_events: int = MAX_FRAME_EVENTS,
                 on_full: str = "block", t0_ns: int = 0, on_orphaned: Callable[[], None] | None = None):
        if on_full not in ("block", "drop"):
            raise UsageError(f"producer: on_full={on_full!r} is not valid; choose 'block' or 'drop'")
        self.log = log
        self.queue: deque = deque()
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.max_frame_events = max_frame_events
        self.on_full = on_full
        self.t0_ns = t0_ns  # Run.log rows carry time.monotonic_ns(); written as seconds since t0
        self.failure: BaseException | None = None
        self._on_orphaned = on_orphaned
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._flush_requested = 0
        self._flush_done = 0
        self._fsync_requested = False
        self._stopping = False
        self._dropped = 0
        self._drop_steps: list = [None, None]
        self._thread = threading.Thread(target=self._run, name="ol-writer", daemon=False)
        self._thread.start()

    # called by producers ----------------------------------------------------------------

    def pressure(self) -> None:
        """Called when the queue holds a frame's worth or more: wake the worker, maybe block."""
        GUARD.enter()
        try:
            self._pressure()
        finally:
            GUARD.leave()

    def _pressure(self) -> None:
        self._wake.set()
        if len(self.queue) < self.max_queue:
            return
        if self.on_full == "drop":
            item = self.queue.pop()
            self._dropped += 1
            step = item[0] if type(item) is tuple else None
            self._drop_steps = [self._drop_steps[0] if self._drop_steps[0] is not None else step, step]
            return
        with self._progress:  # block: the default backpressure
            while len(self.queue) >= self.max_queue and self.failure is None and self._thread.is_alive():
                self._progress.wait(0.1)
        self.raise_failure()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise WriterStopped(f"producer: the log writer stopped: {self.failure}") from self.failure

    def flush(self, fsync: bool = False) -> None:
        """Return once everything queued before this call is written (and fsynced if asked)."""
        GUARD.enter()
        try:
            self._flush(fsync)
        finally:
            GUARD.leave()

    def _flush(self, fsync: bool) -> None:
        with self._progress:
            self._flush_requested += 1
            ticket = self._flush_requested
            self._fsync_requested |= fsync
            self._wake.set()
            while self._flush_done < ticket and self.failure is None and self._thread.is_alive():
                self._progress.wait(0.1)
        self.raise_failure()

    def close(self) -> None:
        GUARD.enter()
        try:
            self._stopping = True
            self._wake.set()
            if threading.current_thread() is not self._thread:
                self._thread.join()
        finally:
            GUARD.leave()
        self.raise_failure()

    def write_last(self, items: list) -> bool:
        """After the worker died: one attempt, on this thread, to record ``items`` (how the run ended)
        so a run whose disk filled up is known as failed, with why, rather than crashed."""
        if self._thread.is_alive():
            return False
        written = self.log.append_last(items)
        try:
            self.log.close()
        except OSError:
            pass
        return written

    # the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            deadline = time.monotonic() + self.flush_interval
            while True:
                # a deadline, not a sleep: the time spent draining counts against the interval, so an
                # event waits at most one interval (plus one drain) before it is written
                self._wake.wait(max(0.0, deadline - time.monotonic()))
                self._wake.clear()
                deadline = time.monotonic() + self.flush_interval
                if not self._stopping and not threading.main_thread().is_alive() and self._on_orphaned:
                    self._on_orphaned()  # the program ended without closing the run: close it
                ticket = self._flush_requested  # read before draining: see flush()
                self._drain()
                if self._stopping and not self.queue:
                    self.log.close()
                    self._finish_flush(ticket)
                    return
                self._finish_flush(ticket)
        except BaseException as e:  # kept for the producer's next call, as TensorBoard does
            self.failure = e
            self.queue.clear()
            with self._progress:
                self._progress.notify_all()

    def _drain(self) -> None:
        queue, limit = self.queue, self.max_frame_events
        while queue:
            batch = []
            t0 = self.t0_ns
            try:
                while len(batch) < limit:
                    item = queue.popleft()
                    if type(item) is tuple:  # a Run.log row: monotonic ns -> whole µs since start
                        item = (item[0], item[1], ((item[2] - t0) // 1000) / 1e6, item[3])
                    batch.append(item)
            except IndexError:
                pass
            if self._dropped:
                batch.append(Dropped(self._dropped, *self._drop_steps))
                self._dropped, self._drop_steps = 0, [None, None]
            self._write(batch)
            with self._progress:
                self._progress.notify_all()

    def _write(self, batch: list) -> None:
        """Append a frame; when it cannot be encoded (a value no check at the call foresaw) or is too large
        for one frame, halve it until the culprit stands alone, and write an error note in its place: one
        bad event never takes the others with it."""
        try:
            self.log.append(batch)
        except Unencodable as e:
            if len(batch) == 1:
                kind = "a log() row" if type(batch[0]) is tuple else type(batch[0]).__name__
                self.log.append([Note(f"an event could not be recorded and was dropped ({kind}): {e}", level="error")])
                return
            half = len(batch) // 2
            self._write(batch[:half])
            self._write(batch[half:])

    def _finish_flush(self, ticket: int) -> None:
        with self._progress:
            if ticket > self._flush_done:
                if self._fsync_requested:
                    self.log.fsync()
                    self._fsync_requested = False
                self._flush_done = ticket
                self._progress.notify_all()

