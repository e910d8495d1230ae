"""A log written by ol 0.1.0 (format 1, schema 1), committed: this code must keep reading it."""

from __future__ import annotations

import math
from pathlib import Path

from ol.schemas import (
    ArrayData,
    Checkpoint,
    Dropped,
    Environment,
    Epoch,
    HookMetrics,
    Note,
    RunEnded,
    RunResumed,
    RunStarted,
    Step,
)
from ol.store.log.reader import LogReader
from ol.store.read.listing import run_info

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "exp" / "golden-run"


def test_golden_log_still_reads_event_for_event():
    reader = LogReader(GOLDEN / "log")
    events = list(reader.events())
    assert reader.report.lost == [] and reader.report.torn_tail is None and not reader.report.unknown
    assert len(list((GOLDEN / "log").iterdir())) >= 2  # it spans segments
    got = [e for _, e in events]
    assert [s for s, _ in events] == list(range(len(got)))
    assert got[0] == RunStarted(run_id="golden-run", experiment="exp", strategy="stride", seed=7, group="g1",
                                config={"p": 97, "lr": 0.001}, environment=Environment(python="3.11.7", host="h"),
                                started_at=1800000000.0)
    assert got[1:6] == [Step(step=i, epoch=0, time=i / 1000, loss=2.0 - i / 10, lr=0.001,
                             extra={"grad_norm": float(i)}) for i in range(5)]
    epoch = got[6]
    assert isinstance(epoch, Epoch) and epoch.metrics["train_acc"] == 0.5 and math.isnan(epoch.metrics["test_acc"])
    assert got[7:11] == [
        HookMetrics(hook="norms", point="post_epoch", step=4, epoch=0, metrics={"total": 1.5}),
        ArrayData(name="spectrum", dtype="<f4", shape=[2], data=b"\x00\x00\x80\x3f\x00\x00\x00\x40", step=4),
        Checkpoint(step=4, path="checkpoints/step-4.pt", size=10, sha256="ab" * 32, reason="periodic", epoch=0),
        Note("generalised", level="info", step=4, epoch=0),
    ]
    assert got[11] == RunEnded(status="interrupted", wall_time=1.5, ended_at=1800000001.5)
    assert got[12] == RunResumed(step=2, epoch=0, checkpoint="checkpoints/step-2.pt", resumed_at=1800000002.0)
    assert got[13].step == 3 and got[13].loss == -math.inf
    assert got[14:] == [Dropped(count=2, first_step=4, last_step=5),
                        RunEnded(status="completed", wall_time=2.0, ended_at=1800000004.0)]


def test_golden_run_in_the_catalog():
    info = run_info(GOLDEN)
    assert (info.run_id, info.experiment, info.strategy, info.seed, info.status) == (
        "golden-run", "exp", "stride", 7, "completed")
    assert info.last_step == 3


def test_latest_means_the_latest_start_even_within_one_second(tmp_path):
    from ol.producer import Run
    from ol.store.read.refs import resolve_run

    # ids from the same second sort by their random suffix; "latest" must follow the start time
    for run_id in ("20260101-000000-ffffff", "20260101-000000-000000"):
        Run.start(store=tmp_path, experiment="exp", run_id=run_id).close()
    assert resolve_run(tmp_path, "latest").name == "20260101-000000-000000"
