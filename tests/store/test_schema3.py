"""A log written by the ol of 2026-12-01 before schema 4 (commit ba7eb44: `ol train mod_arithmetic` with the
norms and training_metrics hooks), committed: today's readers read it as its writer meant it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.schemas import Epoch
from ol.store.log.reader import LogReader
from ol.store.read.fold import fold_log
from ol.store.read.listing import run_info
from ol.store.read.summary import summarize

FIXTURE = Path(__file__).parent / "fixtures" / "schema3"
RUN = FIXTURE / "mod_arithmetic" / "20261201-220209-88dc4b"


def _store(tmp_path) -> Path:
    store = tmp_path / "runs"
    shutil.copytree(FIXTURE, store)  # readers write caches beside a log: never into the committed fixture
    return store


def test_its_events_read_and_its_epochs_carry_no_source_list():
    reader = LogReader(RUN / "log")
    epochs = [e for _, e in reader.events() if isinstance(e, Epoch)]
    assert reader.report.lost == [] and not reader.report.unknown and len(epochs) == 4
    assert all(e.eval is None for e in epochs)  # written before producers said which metrics are evaluation


def test_sources_follow_the_rule_its_writer_followed(tmp_path):
    conn = connect(_store(tmp_path))
    rows = conn.query("SELECT DISTINCT source, name FROM metric_stats ORDER BY source, name").to_pylist()
    pairs = {(r["source"], r["name"]) for r in rows}
    assert {("eval", "test_acc"), ("eval", "test_loss"), ("train", "train_acc"), ("train", "loss"),
            ("training_metrics", "test_acc")} <= pairs
    assert ("train", "test_acc") not in pairs


def test_the_fold_agrees_with_the_summary_written_then(tmp_path):
    store = _store(tmp_path)
    run = store / RUN.relative_to(FIXTURE)
    then = json.loads((RUN / "summary_written_then.json").read_text())
    now = summarize(run)
    # summary.json then named the best "best" and the target's epoch "target_reached_epoch"; the record's names now
    renamed = {"main_best": "best", "target_epoch": "target_reached_epoch"}
    for key in ("run_id", "status", "steps", "epochs", "last_epoch", "main_metric", "direction", "main_best", "target",
                "target_epoch", "initial", "final"):
        assert now[key] == then[renamed.get(key, key)], key
    view = fold_log(run)
    assert (view.best, view.best_epoch, view.target_epoch, view.contract.target) == (then["best"], 0, None,
                                                                                     then["target"])
    info = run_info(run)
    assert (info.status, info.last_step, info.last_epoch) == ("completed", 36, 3)
    result = CliRunner().invoke(app, ["runs", "--store", str(store), "--format", "table"])
    assert result.exit_code == 0 and "test_acc ↑" in result.output and "0.05 ✗" in result.output
