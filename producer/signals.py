"""SIGTERM and Ctrl+C for recording runs, delivered only where it is safe.

Python raises a signal's exception at whatever bytecode the main thread is running. Raised inside
a ``threading`` primitive (say, ``Event.set`` under backpressure) it can leak that primitive's lock
and hang the process at exit. So while the main thread is inside ol's lock-taking code (a
``critical`` section), the exception is held back and raised as the section ends.
"""

from __future__ import annotations

import signal
import threading


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM so ``with`` blocks unwind and record 'interrupted'."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(128 + signum)
        self.signum = signum


class _Guard:
    def __init__(self):
        self.depth = 0  # main-thread critical sections in progress
        self.pending: BaseException | None = None
        self.terminated = False  # a SIGTERM arrived (for runs closed at exit)
        self.users = 0
        self.previous: dict[int, object] = {}

    def handler(self, signum, frame) -> None:
        if signum == signal.SIGTERM:
            self.terminated = True
        error: BaseException = Terminated(signum) if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.depth:
            self.pending = error  # raised when the critical section ends
            return
        raise error

    def enter(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.depth += 1

    def leave(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            error, self.pending = self.pending, None
            raise error

    def install(self) -> None:
        """Take SIGTERM and SIGINT while a run is open, unless someone else already handles them."""
        if threading.current_thread() is not threading.main_thread():
            return
        self.users += 1
        if self.users > 1:
            return
        for signum, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler)):
            if signal.getsignal(signum) is default:
                self.previous[signum] = signal.signal(signum, self.handler)

    def uninstall(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self.users == 0:
            return
        self.users -= 1
        if self.users:
            return
        for signum, previous in self.previous.items():
            if signal.getsignal(signum) == self.handler:  # bound methods compare equal, never identical
                signal.signal(signum, previous)
        self.previous.clear()


GUARD = _Guard()
