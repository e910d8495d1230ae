"""The event union: tags are the file format, so they are pinned here."""

from __future__ import annotations

import msgspec
import pytest

from ol.schemas import EVENT_TYPES, Event, Step, event_kind
from ol.schemas.events import AnyEvent

# Never rename or reuse one of these: old logs are read by them.
PINNED_TAGS = ["run_started", "run_resumed", "run_ended", "step", "epoch", "hook_metrics", "array",
               "checkpoint", "note", "dropped", "target_reached", "scalars", "config_updated",
               "summary_updated", "histogram", "image", "table", "order", "media_file"]


def test_tags_are_pinned_and_unique():
    assert [event_kind(t) for t in EVENT_TYPES] == PINNED_TAGS


def test_events_are_frozen_structs_of_one_base():
    for t in EVENT_TYPES:
        assert issubclass(t, Event) and t.__struct_config__.frozen


def test_decode_errors_name_the_field():
    decoder = msgspec.msgpack.Decoder(AnyEvent)
    bad = msgspec.msgpack.encode({"kind": "step", "step": 1, "loss": "low"})
    with pytest.raises(msgspec.ValidationError, match=r"\$\.loss"):
        decoder.decode(bad)


def test_defaults_are_omitted_so_new_fields_cost_old_events_nothing():
    encoded = msgspec.msgpack.encode(Step(step=1))
    assert msgspec.msgpack.decode(encoded) == {"kind": "step", "step": 1}


def test_a_run_started_written_before_the_contract_reads_with_an_empty_one():
    """Schema 1 logs (the golden fixture among them) carry no contract: readers see it as unknown."""
    from ol.schemas import RunContract, RunStarted

    old = msgspec.msgpack.encode({"kind": "run_started", "run_id": "r", "experiment": "e", "config": {"lr": 0.1}})
    event = msgspec.msgpack.Decoder(AnyEvent).decode(old)
    assert isinstance(event, RunStarted) and event.contract == RunContract()
    assert event.contract.main_metric == "" and event.contract.direction is None and event.contract.target is None
