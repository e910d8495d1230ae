"""The resume projection — the one place its rule is written: after "resumed from step S", the events that came
before that marker with a step past S never happened.

An event survives if its step is at most the smallest step of the resume markers that come after it in the
log (``cutoffs``). Every reader applies it through here: ``project`` to a list of events, ``keep`` to a table's
seq and step columns (store/read/arrow.py), and readers that hold points as a run goes on (the fold, the dashboard's
live follower, replay) drop what they hold past each marker as it arrives (``survives``) — which, marker by
marker, is the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ol.schemas import Event, RunResumed

NO_CUT = np.iinfo(np.int64).max


def markers(events: Iterable[tuple[int, Event]]) -> list[tuple[int, int]]:
    """(seq, step) of each resume marker, in log order."""
    return [(seq, e.step) for seq, e in events if type(e) is RunResumed]


def cutoffs(seqs: np.ndarray, found: list[tuple[int, int]]) -> np.ndarray:
    """For each seq, the smallest step of the markers after it (NO_CUT where none follows)."""
    marker_seq = np.array([m[0] for m in found], dtype=np.int64)
    # the smallest step from each marker to the last: a reversed running minimum
    suffix_min = np.minimum.accumulate(np.array([m[1] for m in found], dtype=np.int64)[::-1])[::-1]
    after = np.searchsorted(marker_seq, seqs, side="right")  # the first marker after each seq
    return np.append(suffix_min, NO_CUT)[after]


def keep(seqs: np.ndarray, steps: np.ndarray, found: list[tuple[int, int]]) -> np.ndarray:
    """Which rows (seq, step) survive the markers ``found``: ``survives`` against each row's cutoff."""
    return survives(steps, cutoffs(seqs, found))


def survives(step, cutoff):
    """The rule itself: whether something at ``step`` (None: no step; or an array of steps) held when a marker of
    step ``cutoff`` arrives is kept."""
    return step is None or step <= cutoff


def project(events: Iterable[tuple[int, Event]]) -> list[tuple[int, Event]]:
    """Drop each step-bearing event whose step exceeds the step of a later run-resumed marker."""
    events = list(events)
    found = markers(events)
    if not found:
        return events  # never resumed: nothing to drop (the common case, and a full pass cheaper)
    stepped = [(i, seq, e.step) for i, (seq, e) in enumerate(events)
               if type(e) is not RunResumed and isinstance(getattr(e, "step", None), int)]
    if not stepped:
        return events
    index, seqs, steps = (np.array(c, dtype=np.int64) for c in zip(*stepped, strict=True))
    dropped = set(index[~keep(seqs, steps, found)].tolist())
    return [item for i, item in enumerate(events) if i not in dropped]
