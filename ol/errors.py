"""The errors ol raises on purpose: one base, one subclass per layer, and a hint saying what to do.

Every layer may import this module (it imports nothing of ol). The CLI prints an ``OlError`` as one
line, ``error: <message>; <hint>``, and exits 1; anything else is an internal error.
"""

from __future__ import annotations


class OlError(Exception):
    """Base of every error ol raises on purpose. ``message`` names the subsystem and what is wrong;
    ``hint``, when there is one, what the user can do about it."""

    def __init__(self, message: str, *, hint: str = ""):
        super().__init__(message)
        self.message, self.hint = message, hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(OlError):
    """What the user asked for cannot be done as asked: a wrong flag, value, name or combination."""


class StoreError(OlError):
    """Something about a store, a run directory or a log that the user can act on."""


class ProducerError(OlError):
    """Recording or training cannot go on: a closed run, a checkpoint that does not fit, a failed worker."""


class ConsumerError(OlError):
    """A view of the runs cannot be made: no such metric in them, nothing to plot, a sink that refused."""
