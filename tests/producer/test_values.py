"""What people pass to log(), config and summary (as they would to wandb): converted where it is given, or
refused at that call with one line — and never a writer that dies and takes queued events with it."""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from ol.consumers.analytics.sql import connect
from ol.errors import ProducerError
from ol.producer.run import Run
from ol.schemas import Event
from ol.store.read.fold import fold_log


class Colour(enum.Enum):
    RED = "red"


CONVERTED = [
    (np.float32(0.5), 0.5), (np.int64(3), 3), (np.bool_(True), True), (np.array(2.5), 2.5),
    (np.array([1, 2]), [1, 2]), (Path("/data/x"), "/data/x"), (datetime.date(2026, 1, 2), "2026-01-02"),
    (datetime.datetime(2026, 1, 2, 3, 4), "2026-01-02T03:04:00"), (decimal.Decimal("0.25"), 0.25),
    (Colour.RED, "red"), ((1, 2), [1, 2]), ({3, 1}, [1, 3]), ({1: "a", 2.5: "b"}, {"1": "a", "2.5": "b"}),
    ({"nested": {"deep": np.float64(1.5)}}, {"nested": {"deep": 1.5}}), (Fraction(1, 4), 0.25), (2**63 - 1, 2**63 - 1),
]
REFUSED = [(2**70, "64-bit"), (2**63, "64-bit"), (torch.tensor(1.0), ".item()"), (object(), "cannot hold"),
           ({(1, 2): "x"}, "keys are strings"), (np.zeros(200_000), "elements")]


@pytest.mark.parametrize("given, stored", CONVERTED)
def test_config_and_summary_convert_what_people_pass(tmp_path, given, stored):
    with Run.start(store=tmp_path, experiment="v", config={"given": given}, handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
        run.config.update({"later": given})
        run.summary["best"] = given
    view = fold_log(run.dir)
    assert view.config_updates == {"later": stored} and view.summary == {"best": stored}
    row = connect(tmp_path).query("SELECT config FROM runs").to_pylist()[0]
    assert '"given"' in row["config"]


@pytest.mark.parametrize("given, needle", REFUSED)
def test_what_cannot_be_recorded_is_refused_at_the_call_and_nothing_queued_is_lost(tmp_path, given, needle):
    with Run.start(store=tmp_path, experiment="v", handle_signals=False) as run:
        for step in range(100):
            run.log({"loss": float(step)}, step=step)
        with pytest.raises(ProducerError, match=needle.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
            run.summary["best"] = given
        with pytest.raises(ProducerError):
            run.config.update({"a": given})
        for step in range(100, 300):
            run.log({"loss": float(step)}, step=step)
    steps = connect(tmp_path).query("SELECT count(*) AS n FROM steps").column("n")[0].as_py()
    assert steps == 300 and fold_log(run.dir).ended == "completed"
    with pytest.raises(ProducerError):
        Run.start(store=tmp_path / "other", experiment="v", config={"n": given}, handle_signals=False)


def test_log_takes_numpy_scalars_big_ints_and_non_finite_numbers(tmp_path):
    with Run.start(store=tmp_path, experiment="v", handle_signals=False) as run:
        run.log({"a": np.float32(0.5), "b": np.int64(2), "c": 2**70, "d": math.nan, "e": math.inf}, step=0)
        run.log({"val": np.float32(0.25)}, step=0, source="eval")
    row = connect(tmp_path).query("SELECT a, b, c, d, e FROM steps").to_pylist()[0]
    assert row["a"] == 0.5 and row["b"] == 2 and row["c"] == float(2**70)
    assert math.isnan(row["d"]) and row["e"] == math.inf
    assert connect(tmp_path).query("SELECT value FROM metrics WHERE name = 'val'").column("value")[0].as_py() == 0.25


class Odd(Event, frozen=True, tag="odd_test_event"):
    """An event holding a value no encoder knows: the writer's last line of defence."""

    thing: object = None


def test_an_event_that_cannot_be_encoded_is_dropped_alone_with_a_note(tmp_path):
    with Run.start(store=tmp_path, experiment="v", handle_signals=False) as run:
        for step in range(50):
            run.log({"loss": float(step)}, step=step)
        run.emit(Odd(thing=object()))
        for step in range(50, 80):
            run.log({"loss": float(step)}, step=step)
    conn = connect(tmp_path)
    assert conn.query("SELECT count(*) AS n FROM steps").column("n")[0].as_py() == 80
    notes = conn.query("SELECT level, message FROM notes").to_pylist()
    assert any(n["level"] == "error" and "dropped" in n["message"] for n in notes)
    assert fold_log(run.dir).ended == "completed"


@pytest.mark.parametrize("fields", [
    {"dtype": "<f8", "shape": [1], "data": b"\0" * 7}, {"dtype": "O", "shape": [1], "data": b"\0" * 8},
    {"dtype": "<U2", "shape": [1], "data": b"\0" * 8}, {"dtype": "V8", "shape": [1], "data": b"\0" * 8},
    {"dtype": "garbage", "shape": [1], "data": b"\0" * 8}, {"dtype": "<f4", "shape": [-1], "data": b""},
])
def test_a_malformed_array_is_refused_where_it_is_made(fields):
    from ol.schemas import ArrayData

    with pytest.raises(ValueError, match="array"):
        ArrayData(name="a", **fields)


def test_media_values_are_checked_before_they_are_queued(tmp_path):
    import ol
    from ol.errors import UsageError

    with pytest.raises(UsageError, match="bins"):
        ol.Histogram(np_histogram=(np.ones(2_000_000), np.arange(2_000_001.0)))
    with pytest.raises(UsageError, match="finite"):
        ol.Histogram(np_histogram=(np.array([np.nan]), np.array([0.0, 1.0])))
    bomb = tmp_path / "bomb.png"  # a header that promises 40000×40000 pixels
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (40000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
    with pytest.raises(UsageError, match="pixels"):
        ol.Image(bomb)
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff" + b"not a jpeg at all")
    with pytest.raises(UsageError, match="neither a PNG nor a JPEG"):
        ol.Image(fake)


def test_an_event_too_large_for_a_frame_is_dropped_alone_and_readers_never_take_one_for_a_torn_tail(
        tmp_path, monkeypatch):
    import ol.store.log.writer as writer_module
    from ol.schemas import ArrayData
    from ol.store.log.format import (
        FILE_HEADER_SIZE,
        FRAME_HEADER_SIZE,
        MAX_PAYLOAD_BYTES,
        CorruptSpan,
        TornTail,
        pack_frame,
        scan_frames,
    )

    monkeypatch.setattr(writer_module, "MAX_PAYLOAD_BYTES", 20_000)  # a small limit stands in for 1 GiB
    noise = np.random.default_rng(0).bytes(80_000)  # incompressible
    with Run.start(store=tmp_path, experiment="v", handle_signals=False) as run:
        for step in range(40):
            run.log({"loss": float(step)}, step=step)
        run.emit(ArrayData(name="big", dtype="u1", shape=[len(noise)], data=noise, step=39))
        for step in range(40, 60):
            run.log({"loss": float(step)}, step=step)
    conn = connect(tmp_path)
    assert conn.query("SELECT count(*) AS n FROM steps").column("n")[0].as_py() == 60
    assert any("past the" in n for n in conn.query("SELECT message FROM notes").column("message").to_pylist())
    # a frame header (valid CRC) that claims more than any writer makes, at the end of a segment
    segment = sorted((run.dir / "log").iterdir())[-1]
    huge = bytearray(pack_frame(10_000, 1, b"x"))
    struct.pack_into("<I", huge, 20, MAX_PAYLOAD_BYTES + 1)
    struct.pack_into("<I", huge, 32, zlib.crc32(bytes(huge[:32])))
    with open(segment, "ab") as f:
        f.write(bytes(huge[:FRAME_HEADER_SIZE]) + b"\0" * 100)
    found = list(scan_frames(segment.read_bytes(), FILE_HEADER_SIZE))
    assert isinstance(found[-1], CorruptSpan) and "past the" in found[-1].reason
    assert not any(isinstance(x, TornTail) for x in found)


@pytest.mark.parametrize("values", [{1: 0.5}, {"": 0.5}, {"ok": 1.0, None: 2.0}])
def test_log_refuses_a_name_that_is_not_a_name_at_the_call_and_loses_no_step(tmp_path, values):
    """Plain numbers take log()'s fast path; a key that is not a non-empty string must not ride it to the
    writer's thread (where a step was once dropped without a word)."""
    with Run.start(store=tmp_path, experiment="v", handle_signals=False) as run:
        run.log({"loss": 0.0}, step=0)
        with pytest.raises(ProducerError, match="keys are non-empty strings"):
            run.log(values, step=1)
        run.log({"loss": 2.0}, step=2)
    rows = connect(tmp_path).query("SELECT step, loss FROM steps ORDER BY step").to_pylist()
    assert rows == [{"step": 0, "loss": 0.0}, {"step": 2, "loss": 2.0}] and fold_log(run.dir).ended == "completed"
