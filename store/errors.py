"""The store's own kinds of StoreError, for callers that act on which one it is."""

from __future__ import annotations

from ol.errors import StoreError

__all__ = ["StoreError", "VersionMismatch", "RunLocked", "NotARun", "RunNotFound", "PayloadError"]


class VersionMismatch(StoreError):
    """A segment written by a newer ol: refuse rather than misread it."""

    def __init__(self, path, version: int, supported: int):
        self.path, self.version, self.supported = path, version, supported
        super().__init__(f"store: {path} has format version {version}; this ol reads up to {supported}",
                         hint="upgrade ol")


class RunLocked(StoreError):
    """A second writer tried to open a run that a live process is writing."""

    def __init__(self, run_dir, holder: str):
        self.run_dir, self.holder = run_dir, holder
        super().__init__(f"store: run {run_dir} is being written by {holder} (one writer per run)",
                         hint="wait for it to end or stop that process")


class NotARun(StoreError):
    """A path that is not a run directory."""

    def __init__(self, path, why: str):
        self.path = path
        super().__init__(f"store: {path} is not an ol run ({why})", hint="pass a run directory, a run id or 'latest'")


class RunNotFound(StoreError):
    """A run reference that matches no run, or several."""

    def __init__(self, ref: str, message: str):
        self.ref = ref
        super().__init__(message)


class PayloadError(ValueError):
    """A payload passed its CRC but does not decompress or decode (a writer bug)."""
