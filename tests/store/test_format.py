"""Byte layout of segments and frames, torn writes at every offset, flipped bytes mid-file."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib

import pytest

from ol.schemas import Step
from ol.store.log.format import (
    FILE_HEADER_SIZE,
    FRAME_HEADER_SIZE,
    SegmentHeader,
    pack_frame,
    pack_segment_header,
    unpack_frame_header,
    unpack_segment_header,
)
from ol.store.log.reader import LogReader
from ol.store.log.verify import verify_run


def test_segment_header_bytes_are_exactly_the_documented_layout():
    raw = pack_segment_header(SegmentHeader(1, 1, 7, 1234, "run-x"))
    assert len(raw) == FILE_HEADER_SIZE == 96
    magic, size = struct.unpack_from("<II", raw, 0)
    assert (magic, size) == (0x184D2A50, 88)  # a zstd skippable frame
    body = raw[8:92]
    assert body[:4] == b"OLOG"
    assert struct.unpack_from("<HHIQ", body, 4) == (1, 1, 7, 1234)
    assert body[20:84] == b"run-x" + b"\0" * 59
    assert struct.unpack_from("<I", raw, 92)[0] == zlib.crc32(body)
    assert unpack_segment_header(raw) == SegmentHeader(1, 1, 7, 1234, "run-x")


def test_frame_header_bytes_are_exactly_the_documented_layout():
    payload = b"\x28\xb5\x2f\xfd-not-really-zstd"
    raw = pack_frame(42, 3, payload)
    assert len(raw) == FRAME_HEADER_SIZE + len(payload) and FRAME_HEADER_SIZE == 36
    assert struct.unpack_from("<IIQIIIHH", raw, 0) == (0x184D2A51, 28, 42, 3, len(payload), zlib.crc32(payload), 1, 0)
    assert struct.unpack_from("<I", raw, 32)[0] == zlib.crc32(raw[:32])
    assert raw[36:] == payload
    header = unpack_frame_header(raw, 0)
    assert (header.first_seq, header.count, header.payload_len) == (42, 3, len(payload))


def test_a_flipped_header_bit_invalidates_the_header():
    raw = bytearray(pack_frame(1, 1, b"x"))
    raw[10] ^= 0x01
    assert unpack_frame_header(bytes(raw), 0) is None


def test_standard_zstd_tool_validates_and_decompresses_a_segment(make_log, three_frames):
    if shutil.which("zstd") is None:
        pytest.skip("the zstd command-line tool is not installed")
    run = make_log(three_frames)
    seg = run / "log" / "00000000.olog"
    subprocess.run(["zstd", "-q", "-t", str(seg)], check=True, timeout=60)
    out = subprocess.run(["zstd", "-q", "-dc", str(seg)], check=True, capture_output=True, timeout=60).stdout
    assert b"run_started" in out


def _all_events(run_dir):
    reader = LogReader(run_dir / "log")
    return list(reader.events()), reader


def test_torn_write_at_every_offset_of_the_last_frame(make_log, three_frames):
    run = make_log(three_frames)
    seg = run / "log" / "00000000.olog"
    data = seg.read_bytes()
    complete, _ = _all_events(run)
    assert [s for s, _ in complete] == list(range(33))
    reader = LogReader(run / "log")
    frames = list(reader.frames())
    last_start = frames[-1].offset
    expected_before = [e for e in complete if e[0] < frames[-1].first_seq]
    for cut in range(last_start, len(data)):
        seg.write_bytes(data[:cut])
        events, reader = _all_events(run)
        assert events == expected_before, f"cut at {cut}"
        assert reader.report.lost == []
        if cut == last_start:
            assert reader.report.torn_tail is None
        else:
            assert reader.report.torn_tail is not None and reader.report.torn_tail.offset == last_start, f"cut at {cut}"
            assert reader.report.torn_tail.nbytes == cut - last_start
            report = verify_run(run)
            assert report.torn_tail is not None and not report.ok and report.events == len(expected_before)


@pytest.mark.parametrize("where", ["header", "payload"])
def test_flipped_bytes_in_a_middle_frame_lose_only_that_frame(make_log, three_frames, where):
    run = make_log(three_frames)
    seg = run / "log" / "00000000.olog"
    frames = list(LogReader(run / "log").frames())
    middle = frames[1]
    data = bytearray(seg.read_bytes())
    pos = middle.offset + (12 if where == "header" else FRAME_HEADER_SIZE + 5)
    data[pos] ^= 0xFF
    data[pos + 1] ^= 0x55
    seg.write_bytes(bytes(data))
    events, reader = _all_events(run)
    seqs = [s for s, _ in events]
    assert seqs == list(range(0, 11)) + list(range(21, 33))
    assert len(reader.report.lost) == 1
    lost = reader.report.lost[0]
    assert (lost.first_seq, lost.last_seq) == (11, 20)
    assert lost.offset == middle.offset
    report = verify_run(run)
    assert not report.ok and report.events == 23 and [(x.first_seq, x.last_seq) for x in report.lost] == [(11, 20)]


def test_garbage_between_frames_is_skipped_and_reported(make_log, three_frames):
    run = make_log(three_frames[:1])
    seg = run / "log" / "00000000.olog"
    from ol.store.log.writer import LogWriter

    with open(seg, "ab") as f:
        f.write(b"\x00" * 100)
    w = LogWriter.reopen(run / "log")  # trailing garbage is a torn tail: cut on reopen
    assert w.cut_bytes == 100
    w.append([Step(step=99, loss=1.0)])
    w.close()
    events, reader = _all_events(run)
    assert [s for s, _ in events] == list(range(12)) and reader.report.lost == [] and reader.report.torn_tail is None


def test_the_catalog_walks_past_a_damaged_frame_header_as_readers_do(tmp_path):
    """One walker for everyone: a frame whose header is garbage no longer hides the frames after it from the
    catalog (it used to stop there, and a completed run with a bad middle frame listed as crashed)."""
    import sys
    from pathlib import Path

    from ol.store.read.listing import run_info

    sys.path.insert(0, str(Path(__file__).parents[1]))
    import damage

    run_dir = damage.healthy_run(tmp_path, "r1", segment_bytes=1 << 20)  # one segment: the damage is mid-log
    frames = list(LogReader(run_dir / "log").frames())
    seg = run_dir / "log" / "00000000.olog"
    data = bytearray(seg.read_bytes())
    data[frames[3].offset + 12] ^= 0xFF  # the sequence number: the header fails its CRC
    seg.write_bytes(bytes(data))
    info = run_info(run_dir)
    assert info.status == "completed" and info.last_step == 119 and info.problem == ""
