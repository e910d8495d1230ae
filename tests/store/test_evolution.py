"""Logs from a newer ol: unknown event kinds are skipped and counted; a newer format is refused."""

from __future__ import annotations

import msgspec
import pytest
import zstandard

from ol.schemas import SCHEMA_VERSION, Note
from ol.store.errors import VersionMismatch
from ol.store.log.format import FORMAT_VERSION, SegmentHeader, pack_frame, pack_segment_header
from ol.store.log.reader import LogReader


def _segment(tmp_path, frames, fmt=FORMAT_VERSION):
    log = tmp_path / "exp" / "r" / "log"
    log.mkdir(parents=True)
    data = pack_segment_header(SegmentHeader(fmt, SCHEMA_VERSION + 1, 0, 0, "r"))
    seq = 0
    for items in frames:
        payload = zstandard.ZstdCompressor().compress(msgspec.msgpack.encode(items))
        data += pack_frame(seq, len(items), payload)
        seq += len(items)
    (log / "00000000.olog").write_bytes(data)
    return log


def test_unknown_kinds_are_skipped_and_counted_not_fatal(tmp_path):
    future = {"kind": "gpu_telemetry", "watts": 300.0}
    log = _segment(tmp_path, [[{"kind": "note", "message": "a"}, future, future],
                              [{"kind": "note", "message": "b", "shiny_new_field": 1}]])
    reader = LogReader(log)
    events = list(reader.events())
    assert events == [(0, Note("a")), (3, Note("b"))]  # skipped events keep their sequence numbers
    assert reader.report.unknown == {"gpu_telemetry": 2} and reader.report.lost == []


def test_a_malformed_event_is_reported_naming_the_field(tmp_path):
    log = _segment(tmp_path, [[{"kind": "step", "step": "seven"}, {"kind": "note", "message": "ok"}]])
    reader = LogReader(log)
    assert list(reader.events()) == [(1, Note("ok"))]
    invalid = reader.report.invalid
    assert len(invalid) == 1 and "$.step" in invalid[0] and "Expected `int`" in invalid[0]


def test_a_newer_format_version_is_refused_with_an_actionable_message(tmp_path):
    log = _segment(tmp_path, [[{"kind": "note", "message": "a"}]], fmt=FORMAT_VERSION + 1)
    with pytest.raises(VersionMismatch, match="upgrade ol"):
        list(LogReader(log).events())
