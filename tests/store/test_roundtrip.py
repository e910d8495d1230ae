"""Any list of events, NaN and ±inf included, round-trips through the log bit for bit."""

from __future__ import annotations

import math
import struct

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ol.schemas import ArrayData, Checkpoint, Epoch, HookMetrics, Note, RunEnded, RunResumed, RunStarted, Step
from ol.store.log.codec import PayloadDecoder, PayloadEncoder

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
ints = st.integers(min_value=-(2**62), max_value=2**62)
small = st.integers(min_value=0, max_value=10**9)
opt_int = st.none() | small
scalars = st.dictionaries(names, floats, max_size=4)

# a producer's fractional epoch (a Trainer's 0.156) beside whole ones: a column block keeps each as it was given
fractions = st.floats(min_value=0, max_value=1e9, allow_nan=False).filter(lambda f: not f.is_integer())
steps = st.builds(Step, step=ints, epoch=opt_int | fractions, time=floats, loss=st.none() | floats,
                  lr=st.none() | floats, extra=scalars)
events = st.one_of(
    steps,
    steps,  # steps dominate real logs; weight them so column blocks get exercised
    st.builds(Epoch, epoch=small, step=small, time=floats, metrics=scalars),
    st.builds(HookMetrics, hook=names, point=st.sampled_from(["post_step", "snapshot"]), step=small,
              epoch=opt_int, metrics=scalars),
    st.builds(Note, message=st.text(max_size=20), level=st.sampled_from(["info", "warning"])),
    st.builds(RunStarted, run_id=names, experiment=names, seed=opt_int, config=st.dictionaries(names, small)),
    st.builds(RunResumed, step=small, epoch=opt_int),
    st.builds(RunEnded, status=st.sampled_from(["completed", "failed", "interrupted"]), error=st.text(max_size=10)),
    st.builds(Checkpoint, step=small, path=names, size=small,
              sha256=st.text("0123456789abcdef", min_size=64, max_size=64)),
    # a well-formed array: as many bytes as its shape and dtype say (a malformed one is refused, tested apart)
    st.lists(st.integers(0, 3), max_size=3).flatmap(lambda shape: st.builds(
        ArrayData, name=names, dtype=st.just("<f4"), shape=st.just(shape),
        data=st.binary(min_size=4 * math.prod(shape), max_size=4 * math.prod(shape)))),
)


def _bits(value):
    """Float fields compared by their bits, so NaN == NaN and -0.0 != 0.0."""
    if isinstance(value, float):
        return ("f", struct.pack("<d", value))
    if isinstance(value, dict):
        return {k: _bits(v) for k, v in value.items()}
    if hasattr(value, "__struct_fields__"):
        return (type(value).__name__, tuple(_bits(getattr(value, f)) for f in value.__struct_fields__))
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, max_size=40))
@example([Step(step=0, epoch=0, time=0.0), Step(step=0, epoch=0, time=-0.0)])  # -0.0 s once became 0.0
# scalars named like a block's own columns (older logs have them): they once replaced the step, epoch and time
@example([Step(step=3, epoch=1, time=0.5, extra={"step": 100.0, "epoch": 7.5, "time": 9.0})] * 2)
def test_any_events_round_trip_exactly(evs):
    payload, count = PayloadEncoder().encode(list(evs))
    assert count == len(evs)
    decoded = PayloadDecoder().events(payload, first_seq=5)
    assert [s for s, _ in decoded.events] == list(range(5, 5 + len(evs)))
    assert [_bits(e) for _, e in decoded.events] == [_bits(e) for e in evs]


def test_special_floats_survive_in_a_column_block():
    specials = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
    evs = [Step(step=i, time=i / 1e6, loss=v, extra={"x": v}) for i, v in enumerate(specials)]
    decoded = PayloadDecoder().events(PayloadEncoder().encode(evs)[0], 0)
    assert [_bits(e) for _, e in decoded.events] == [_bits(e) for e in evs]
