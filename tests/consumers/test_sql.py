"""`ol query`: views checked against values computed from the events, caching, read-only, bad input."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import QueryError, connect
from ol.producer import Run
from ol.schemas import Epoch, HookMetrics, Step
from ol.store.index.files import DATA_DIR, index_home
from ol.store.log.format import SegmentHeader, pack_segment_header
from ol.store.log.reader import read_events
from ol.store.read.projection import project
from ol.store.read.snapshot import open_snapshot

runner = CliRunner()


def _projected(run_dir, kind):
    return [e for _, e in project(read_events(run_dir / "log")) if isinstance(e, kind)]


def test_steps_and_metrics_match_the_events(store):
    conn = connect(store)
    for run_id in ("r-stride-1", "r-stride-2", "r-random-1"):
        steps = _projected(store / "exp" / run_id, Step)
        rows = conn.query("SELECT step, loss, lr, grad_norm FROM steps WHERE run_id = $r ORDER BY step",
                          {"r": run_id}).to_pylist()
        assert rows == [{"step": s.step, "loss": s.loss, "lr": s.lr, "grad_norm": s.extra["grad_norm"]}
                        for s in steps]
        epochs = _projected(store / "exp" / run_id, Epoch)
        got = conn.query("SELECT epoch, step, train_loss, test_acc FROM epochs WHERE run_id = $r ORDER BY epoch",
                         {"r": run_id}).to_pylist()
        assert got == [{"epoch": e.epoch, "step": e.step, **e.metrics} for e in epochs]
        hooks = _projected(store / "exp" / run_id, HookMetrics)
        long = conn.query("SELECT source, name, sum(value) AS v, count(*) AS n FROM metrics WHERE run_id = $r "
                          "GROUP BY ALL ORDER BY source, name", {"r": run_id}).to_pylist()
        expected = {("train", "loss"): [s.loss for s in steps], ("train", "lr"): [s.lr for s in steps],
                    ("train", "grad_norm"): [s.extra["grad_norm"] for s in steps],
                    ("train", "train_loss"): [e.metrics["train_loss"] for e in epochs],
                    ("eval", "test_acc"): [e.metrics["test_acc"] for e in epochs],
                    ("norms", "total"): [h.metrics["total"] for h in hooks]}
        assert {(r["source"], r["name"]): (r["v"], r["n"]) for r in long} == \
            {k: (pytest.approx(sum(v)), len(v)) for k, v in expected.items()}


def test_a_resumed_run_has_each_step_once_with_the_values_after_the_resume(store):
    conn = connect(store)
    rows = conn.query("SELECT step, loss FROM steps WHERE run_id = 'r-random-1' ORDER BY step").to_pylist()
    assert [r["step"] for r in rows] == list(range(1, 31))
    assert all(r["loss"] < 100 for r in rows if r["step"] <= 15) and all(r["loss"] > 100 for r in rows[15:])
    epochs = conn.query("SELECT epoch, train_loss FROM epochs WHERE run_id = 'r-random-1' ORDER BY epoch").to_pylist()
    assert [e["epoch"] for e in epochs] == [0, 1, 2] and epochs[0]["train_loss"] < 100 < epochs[1]["train_loss"]


def test_runs_view_has_identity_status_and_config_columns(store):
    rows = connect(store).query("SELECT run_id, strategy, seed, status, width, lr, last_step, config FROM runs "
                                "ORDER BY run_id").to_pylist()
    assert [(r["run_id"], r["strategy"], r["seed"], r["status"], r["width"], r["last_step"]) for r in rows] == [
        ("r-random-1", "random", 1, "completed", 9, 30), ("r-stride-1", "stride", 1, "completed", 9, 30),
        ("r-stride-2", "stride", 2, "completed", 10, 30)]
    assert json.loads(rows[0]["config"]) == {"lr": 0.1, "width": 9}


def test_checkpoints_notes_and_events_views(store):
    conn = connect(store)
    # four checkpoints were recorded, but r-random-1's first one (step 30) lies past its resume point
    # (step 15): the projection drops it with the rest of that abandoned stretch
    assert conn.query("SELECT run_id, step FROM checkpoints ORDER BY run_id").to_pylist() == [
        {"run_id": "r-random-1", "step": 30}, {"run_id": "r-stride-1", "step": 30},
        {"run_id": "r-stride-2", "step": 30}]
    assert conn.query("SELECT count(*) AS n FROM notes WHERE message = 'done'").to_pylist() == [{"n": 3}]
    rows = conn.query("SELECT kind, count(*) AS n FROM events WHERE run_id = 'r-stride-1' GROUP BY kind").to_pylist()
    assert {r["kind"]: r["n"] for r in rows} == {"run_started": 1, "epoch": 3, "hook_metrics": 3, "checkpoint": 1,
                                                 "note": 1, "run_ended": 1}


def _batch(store, run_id):
    snap = open_snapshot(store, sync_first=False)
    return snap.batch_of(next(r for r in snap.runs if r.run_id == run_id))


def test_a_run_that_grows_is_indexed_again_and_deleting_the_index_loses_nothing(store):
    run_dir = store / "exp" / "r-stride-1"
    connect(store)
    before = _batch(store, "r-stride-1")
    again = Run.resume(run_dir, step=30)
    again.log({"loss": 0.5}, step=31)
    again.close()
    conn = connect(store)
    assert conn.query("SELECT max(step) AS s FROM steps WHERE run_id = 'r-stride-1'").to_pylist() == [{"s": 31}]
    assert _batch(store, "r-stride-1") not in (None, before)
    shutil.rmtree(index_home(store))
    assert connect(store).query("SELECT count(*) AS n FROM steps WHERE run_id = 'r-stride-1'").to_pylist() == \
        [{"n": 31}]


def test_a_live_run_is_read_from_its_log(store):
    run = Run.start(store=store, experiment="exp", run_id="r-live", strategy="target")
    run.log({"loss": 2.0}, step=1)
    run.flush()
    conn = connect(store)
    assert conn.query("SELECT status FROM runs WHERE run_id = 'r-live'").to_pylist() == [{"status": "running"}]
    assert conn.query("SELECT loss FROM steps WHERE run_id = 'r-live'").to_pylist() == [{"loss": 2.0}]
    snap = open_snapshot(store)
    live = [r for r in snap.runs if r.run_id == "r-live"][0]
    assert snap.from_log(live) and snap.batch_of(live) is None  # a live run is never indexed
    run.close()


def test_other_engines_read_the_indexed_store_and_get_the_same_rows(store):
    conn = connect(store)
    ours = sorted(conn.query("SELECT run_id, step, loss FROM steps").to_pylist(),
                  key=lambda r: (r["run_id"], r["step"]))
    files = sorted(str(p) for p in (index_home(store) / DATA_DIR).glob("*/steps.parquet"))
    plain = ds.dataset(files).to_table(columns=["run_id", "step", "loss"]).to_pylist()
    assert sorted(plain, key=lambda r: (r["run_id"], r["step"])) == ours
    code = ("import duckdb, json, sys\n"
            "rows = duckdb.sql(\"SELECT run_id, step, loss FROM read_parquet(?, union_by_name=true)\","
            " params=[sys.argv[1]]).fetchall()\n"
            "print(json.dumps(sorted(rows)))")
    glob = str(index_home(store) / DATA_DIR / "*" / "steps.parquet")
    out = subprocess.run([sys.executable, "-c", code, glob], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert [tuple(r) for r in json.loads(out)] == [(r["run_id"], r["step"], r["loss"]) for r in ours]


def test_the_connection_is_read_only(store):
    conn = connect(store)
    for sql in ("COPY (SELECT 1) TO 'x.csv'", "CREATE TABLE t AS SELECT 1", "DROP VIEW runs"):
        with pytest.raises(QueryError, match="read-only"):
            conn.query(sql)
    with pytest.raises(QueryError, match="Permission|disabled"):
        conn.query("SELECT * FROM read_csv('/etc/hostname')")


def test_cli_formats_parameters_and_errors(store, tmp_path):
    def ol(*args):
        return runner.invoke(app, ["query", *map(str, args), "--store", str(store)])

    csv_out = ol("SELECT step, loss FROM steps WHERE run_id = $r AND step <= 2 ORDER BY step", "-p", "r=r-stride-1",
                 "-f", "csv")
    assert csv_out.exit_code == 0 and csv_out.output.splitlines()[0] == "step,loss"
    # unquoted unless a value must be: ids go straight into `xargs`/`cut`; the csv module reads both back
    ids = ol("SELECT run_id, 'a,b' AS odd, 'say \"hi\"' AS quote FROM runs ORDER BY run_id", "-f", "csv").output
    assert ids.splitlines()[0] == "run_id,odd,quote"
    assert list(csv.reader(io.StringIO(ids)))[1] == ["r-random-1", "a,b", 'say "hi"']
    plain = ol("SELECT run_id FROM runs ORDER BY run_id", "-f", "csv").output
    assert plain.splitlines() == ["run_id", "r-random-1", "r-stride-1", "r-stride-2"]
    js = json.loads(ol("SELECT count(*) AS n FROM steps", "-f", "json").output)
    assert js == [{"n": 90}]
    out = tmp_path / "steps.parquet"
    assert ol("SELECT * FROM steps", "-f", "parquet", "--out", out).exit_code == 0
    assert ds.dataset(str(out)).count_rows() == 90
    schema = ol("--schema")
    assert "metrics" in schema.output and "source" in schema.output
    bad = ol("SELEC 1")
    assert bad.exit_code == 1 and bad.output.startswith("error: query:") and "views: runs" in bad.output
    assert ol("SELECT 1", "-p", "nonsense").exit_code == 1


def test_a_run_that_does_not_decode_is_skipped_with_a_warning(store):
    seg = store / "exp" / "r-stride-2" / "log" / "00000000.olog"
    data = seg.read_bytes()
    seg.write_bytes(pack_segment_header(SegmentHeader(99, 1, 0, 0, "r-stride-2")) + data[96:])
    result = runner.invoke(app, ["query", "SELECT DISTINCT run_id FROM steps ORDER BY run_id", "--store", str(store),
                                 "-f", "csv"])
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("r-")]
    assert rows == ["r-random-1", "r-stride-1"]
    assert "warning: r-stride-2" in result.output and "upgrade ol" in result.output


def test_metric_stats_match_the_events(store):
    conn = connect(store)
    steps = _projected(store / "exp" / "r-random-1", Step)
    losses = [s.loss for s in steps]
    (row,) = conn.query("SELECT * FROM metric_stats WHERE run_id = 'r-random-1' AND name = 'loss'").to_pylist()
    assert (row["source"], row["count"], row["first_step"], row["final_step"]) == ("train", 30, 1, 30)
    assert row["min"] == min(losses) and row["max"] == max(losses) and row["final"] == losses[-1]
    assert row["first"] == losses[0] and row["mean"] == pytest.approx(sum(losses) / len(losses))
    hooks = conn.query("SELECT source, final FROM metric_stats WHERE run_id = 'r-random-1' AND name = 'total'")
    assert hooks.to_pylist() == [{"source": "norms", "final": 30 * 2.0 + 100}]


def test_metric_stats_and_each_runs_record_summarise_a_metric_alike(store):
    """One computation of a metric's statistics: the metric_stats view and the summaries in each run's record
    (the dashboard's table) say the same count, final and extremes of every metric."""
    conn, snapshot = connect(store), open_snapshot(store)
    for info in snapshot.runs:
        snapshot.summaries(info)
        rows = conn.query("SELECT source, name, count, final, final_step, min, max FROM metric_stats "
                          "WHERE run_id = $r", {"r": info.run_id}).to_pylist()
        assert rows and len(rows) == len(info.summaries)
        for row in rows:
            assert info.summaries[f"{row.pop('source')}/{row.pop('name')}"] == row


def test_two_live_runs_one_without_epochs_yet_query_together(tmp_path):
    """A view over live runs' tables: one run's epochs table is empty (plain columns), the other's filled
    (dictionary-encoded identity columns) — they failed to merge, so `ol query` over a running sweep did too."""
    store = tmp_path / "runs"
    a = Run.start(store=store, experiment="e", run_id="a", handle_signals=False)
    b = Run.start(store=store, experiment="e", run_id="b", handle_signals=False)
    try:
        a.log({"loss": 1.0}, step=0)
        a.epoch(0, {"acc": 0.5})
        b.log({"loss": 2.0}, step=0)
        a.flush()
        b.flush()
        con = connect(store)
        assert con.query("SELECT run_id, epoch, acc FROM epochs").to_pylist() == [
            {"run_id": "a", "epoch": 0, "acc": 0.5}]
        assert con.query("SELECT run_id FROM steps ORDER BY run_id").to_pylist() == [{"run_id": "a"}, {"run_id": "b"}]
    finally:
        a.close()
        b.close()
