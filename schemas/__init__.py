"""Typed events of the ol log: one tagged msgspec union, versioned, plus the project's base error."""

from ol.schemas.errors import OlError
from ol.schemas.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    ArrayData,
    Checkpoint,
    Dropped,
    Environment,
    Epoch,
    Event,
    HookMetrics,
    Note,
    RunContract,
    RunEnded,
    RunResumed,
    RunStarted,
    Step,
    TargetReached,
    event_kind,
)

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "ArrayData",
    "Checkpoint",
    "Dropped",
    "Environment",
    "Epoch",
    "Event",
    "HookMetrics",
    "Note",
    "OlError",
    "RunContract",
    "RunEnded",
    "RunResumed",
    "RunStarted",
    "Step",
    "TargetReached",
    "event_kind",
]
