"""The dashboard's HTTP connections: uvicorn's h11 protocol with a deadline on a request's headers.

uvicorn bounds only the idle time between requests (keep-alive); a client that opens connections and sends
half a request line, or a header a byte at a time, holds each connection (a file descriptor) for as long as
it likes, and a thousand of them exhaust the server's. Here each request's headers must arrive whole within
HEADER_TIMEOUT seconds of its first byte (of the connection, for the first), or the connection is closed.
A request's body has its own deadline where it is read (app.py).
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0


class DeadlineH11(H11Protocol):
    """H11Protocol whose requests' headers have a deadline (module docstring). Not thread-safe: like its base,
    it lives on the event loop."""

    _deadline = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of the next request on a kept-alive connection
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # its headers arrived: a request is under way
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
