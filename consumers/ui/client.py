"""The client a dashboard request is answered for, seen by the handler on its worker thread: when the client
leaves (the page closed, curl stopped), work registered with ``on_gone`` stops then (a user's SQL is
interrupted) rather than at its time limit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar


class Client:
    """The client a request is answered for; when it leaves (the page closed, curl stopped), what was
    registered with ``on_gone`` runs, so a user's SQL stops then rather than at its time limit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hooks: dict[int, Callable[[], None]] = {}
        self.gone = False

    def on_gone(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` when the client leaves (now, if it has); returns what unregisters it."""
        with self._lock:
            if not self.gone:
                self._hooks[id(hook)] = hook
                return lambda: self._hooks.pop(id(hook), None)
        hook()
        return lambda: None

    def left(self) -> None:
        with self._lock:
            self.gone = True
            hooks, self._hooks = list(self._hooks.values()), {}
        for hook in hooks:
            hook()


# the request's client, seen by the handler on its worker thread (the thread runs in a copy of the
# request's context), so handlers keep one signature and only the ones that can stop early ask for it
CLIENT: ContextVar[Client | None] = ContextVar("ol_ui_client", default=None)
