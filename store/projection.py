"""The resume projection: after "resumed from step S", earlier events past S never happened.

Every view of a run (SQL, replays, summaries, tables) applies this so each step appears once.
"""

from __future__ import annotations

from collections.abc import Iterable

from ol.schemas import Event, RunResumed


def project(events: Iterable[tuple[int, Event]]) -> list[tuple[int, Event]]:
    """Drop each step-bearing event whose step exceeds the step of a later run-resumed marker."""
    events = list(events)
    if not any(type(e) is RunResumed for _, e in events):
        return events  # never resumed: nothing to drop (the common case, and a full pass cheaper)
    keep: list[tuple[int, Event]] = []
    cutoff = None  # the smallest resume step among the markers after the current event
    for seq, event in reversed(events):
        if isinstance(event, RunResumed):
            cutoff = event.step if cutoff is None else min(cutoff, event.step)
            keep.append((seq, event))
            continue
        step = getattr(event, "step", None)
        if cutoff is not None and isinstance(step, int) and step > cutoff:
            continue
        keep.append((seq, event))
    keep.reverse()
    return keep
