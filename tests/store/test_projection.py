"""The resume rule is one rule: applied marker by marker as a log is read (what a follower's readers do) it
gives what the whole-log projection gives (what tables, the index and replay's backlog use)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ol.schemas import RunResumed, Step
from ol.store import project, survives

# a log: steps and resume markers in any order, as a run resumed (even to a step it never reached) writes them
_LOG = st.lists(st.one_of(st.tuples(st.just("step"), st.integers(0, 30)),
                          st.tuples(st.just("resume"), st.integers(0, 30))), max_size=60)


def _events(log):
    return [(seq, Step(step=s, time=0.0) if kind == "step" else RunResumed(step=s, resumed_at=0.0))
            for seq, (kind, s) in enumerate(log)]


@settings(max_examples=300, deadline=None)
@given(_LOG)
def test_marker_by_marker_is_the_whole_log_projection(log):
    events = _events(log)
    held = []
    for seq, event in events:  # a reader holding what it has read drops, at each marker, what does not survive
        if type(event) is RunResumed:  # (the markers themselves stay: each says a stretch began)
            held = [(q, e) for q, e in held if type(e) is RunResumed or survives(e.step, event.step)]
        held.append((seq, event))
    assert project(events) == held


def test_a_resume_to_an_earlier_step_drops_later_steps_only_before_it():
    log = [("step", 0), ("step", 1), ("step", 2), ("resume", 1), ("step", 2), ("step", 3)]
    kept = [(type(e).__name__, e.step) for _, e in project(_events(log))]
    assert kept == [("Step", 0), ("Step", 1), ("RunResumed", 1), ("Step", 2), ("Step", 3)]
