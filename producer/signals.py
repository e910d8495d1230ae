"""How a recording process is told to stop, on one path: SIGTERM and Ctrl+C, and the main thread
ending in an uncaught exception.

Signals: while a run is open, ``GUARD`` owns SIGTERM/SIGINT. By default a signal raises in the main
thread (``KeyboardInterrupt`` / ``Terminated``) so ``with`` blocks unwind and the run records
*interrupted*. The training engine asks instead to be told (``GUARD.stopping(callback)``): it finishes
the step, checkpoints and ends the run itself. Python raises a signal's exception at whatever bytecode
the main thread is running; raised inside a ``threading`` primitive (say, ``Event.set`` under
backpressure) it can leak that primitive's lock and hang the process at exit. So while the main thread
is inside ol's lock-taking code (a ``critical`` section), the exception is held back and raised as the
section ends.

Uncaught exceptions: ``EXITS`` hooks ``sys.excepthook`` while runs are open (from ``Run.start`` to the
last close), so a run its worker closes at interpreter exit records why the program died.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM so ``with`` blocks unwind and record 'interrupted'."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(128 + signum)
        self.signum = signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _Guard:
    def __init__(self):
        self.depth = 0  # main-thread critical sections in progress
        self.pending: BaseException | None = None
        self.terminated = False  # a SIGTERM arrived (for runs closed at exit)
        self.users = 0
        self.previous: dict[int, object] = {}
        self.stoppers: list[Callable[[], None]] = []  # who asked to be told instead (the engine), newest last

    def handler(self, signum, frame) -> None:
        if signum == signal.SIGTERM:
            self.terminated = True
        if self.stoppers:
            self.stoppers[-1]()  # a cooperative stop: the step in flight finishes, then training ends
            return
        error: BaseException = Terminated(signum) if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.depth:
            self.pending = error  # raised when the critical section ends
            return
        raise error

    def enter(self) -> None:
        if _main_thread():
            self.depth += 1

    def leave(self) -> None:
        if not _main_thread():
            return
        self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            error, self.pending = self.pending, None
            raise error

    def install(self) -> None:
        """Take SIGTERM and SIGINT while a run is open, unless someone else already handles them."""
        if not _main_thread():
            return
        self.users += 1
        if self.users > 1:
            return
        for signum, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler)):
            if signal.getsignal(signum) is default:
                self.previous[signum] = signal.signal(signum, self.handler)

    def uninstall(self) -> None:
        if not _main_thread() or self.users == 0:
            return
        self.users -= 1
        if self.users:
            return
        for signum, previous in self.previous.items():
            if signal.getsignal(signum) == self.handler:  # bound methods compare equal, never identical
                signal.signal(signum, previous)
        self.previous.clear()

    @contextmanager
    def stopping(self, stop: Callable[[], None]) -> Iterator[None]:
        """While inside: SIGTERM and Ctrl+C call ``stop()`` instead of raising. Takes the signals even from
        another handler (a cluster launcher's, say), since a training loop that stops cleanly checkpoints,
        and gives them back on exit."""
        if not _main_thread():
            yield
            return
        taken = {s: signal.signal(s, self.handler) for s in SIGNALS if signal.getsignal(s) != self.handler}
        self.stoppers.append(stop)
        try:
            yield
        finally:
            self.stoppers.remove(stop)
            for signum, previous in taken.items():
                if signal.getsignal(signum) == self.handler:
                    signal.signal(signum, previous)


class _Exits:
    """``sys.excepthook`` while runs are open: it notes the uncaught exception, then hands it on."""

    def __init__(self):
        self.exception: BaseException | None = None
        self.users = 0
        self.previous = None

    def install(self) -> None:
        self.users += 1
        if self.users == 1:
            self.previous, sys.excepthook = sys.excepthook, self.hook

    def uninstall(self) -> None:
        if self.users == 0:
            return
        self.users -= 1
        if self.users == 0:
            if sys.excepthook == self.hook:  # someone who hooked after us keeps their hook
                sys.excepthook = self.previous
            self.previous = None

    def hook(self, exc_type, exc, tb) -> None:
        self.exception = exc
        (self.previous or sys.__excepthook__)(exc_type, exc, tb)


GUARD = _Guard()
EXITS = _Exits()
