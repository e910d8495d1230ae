"""Errors of the store; each message names the subsystem and says what to do."""

from __future__ import annotations

from ol.schemas import OlError


class StoreError(OlError):
    """Something about a store, a run directory or a log that the user can act on."""


class VersionMismatch(StoreError):
    """A segment written by a newer ol: refuse rather than misread it."""

    def __init__(self, path, version: int, supported: int):
        self.path, self.version, self.supported = path, version, supported
        super().__init__(
            f"store: {path} has format version {version}; this ol reads up to {supported} — upgrade ol"
        )


class RunLocked(StoreError):
    """A second writer tried to open a run that a live process is writing."""

    def __init__(self, run_dir, holder: str):
        self.run_dir, self.holder = run_dir, holder
        super().__init__(
            f"store: run {run_dir} is being written by {holder}; one writer per run — "
            "wait for it to end or stop that process"
        )


class NotARun(StoreError):
    """A path that is not a run directory."""

    def __init__(self, path, why: str):
        self.path = path
        super().__init__(f"store: {path} is not an ol run ({why}); pass a run directory, a run id or 'latest'")


class RunNotFound(StoreError):
    """A run reference that matches no run, or several."""

    def __init__(self, ref: str, message: str):
        self.ref = ref
        super().__init__(message)
