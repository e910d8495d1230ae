"""The store-level index: answers through it equal answers straight from the logs, whatever happened to the
store, the index or the processes around it."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from ol.consumers.analytics.sql import connect
from ol.producer.run import Run
from ol.schemas import Epoch, RunEnded, RunResumed, RunStarted
from ol.store.index.catalog import CATALOG
from ol.store.index.files import DATA_DIR, INDEX_DIR, index_home
from ol.store.index.indexer import sync
from ol.store.log.writer import LogWriter
from ol.store.read.fold import fold_log
from ol.store.read.listing import run_info
from ol.store.read.snapshot import open_snapshot
from ol.store.read.tables import TABLES, run_tables
from tests.damage import damage, healthy_run
from tests.processes import wait_all

PYTHON = sys.executable
KEYS = {"steps": ("seq",), "epochs": ("seq",), "metrics": ("step", "source", "name"),
        "metric_stats": ("source", "name"),
        "checkpoints": ("seq",), "notes": ("seq",), "events": ("seq",), "rank_steps": ("rank", "seq"),
        "arrays": ("seq",), "histograms": ("seq",), "images": ("seq",), "tables": ("seq",)}


def _write(store: Path, run_id: str, frames: list[list], experiment: str = "exp") -> Path:
    run_dir = store / experiment / run_id
    writer = LogWriter.create(run_dir / "log", run_id)
    for items in frames:
        writer.append(items)
    writer.close()
    return run_dir


def _started(run_id: str, seed: int) -> RunStarted:
    return RunStarted(run_id=run_id, experiment="exp", strategy=random.Random(seed).choice(["a", "b"]), seed=seed,
                      config={"lr": 0.1 * seed, "p": 97}, started_at=1.0e9 + seed)


def mixed_store(root: Path, seed: int = 0) -> Path:
    """Completed, crashed, resumed, interrupted and damaged runs, from a seeded generator."""
    rng = random.Random(seed)
    store = root / "store"
    for i in range(8):
        run_id = f"run{i}"
        kind = ["completed", "crashed", "resumed", "interrupted", "damaged"][i % 5]
        if kind == "damaged":
            damage(healthy_run(store, run_id, seed=i), random.Random(seed * 100 + i))
            continue
        steps = rng.randint(5, 60)
        frames = [[_started(run_id, i)] + [(s, s // 10, s * 0.01, {"loss": rng.random(), "acc": s / 100})
                                            for s in range(steps)]]
        frames.append([Epoch(epoch=e, step=e * 10 + 9, metrics={"val_acc": rng.random()}) for e in range(steps // 10)])
        if kind == "resumed":
            back = steps // 2
            frames.append([RunResumed(step=back, epoch=back // 10)]
                          + [(s, s // 10, s * 0.01, {"loss": -rng.random()}) for s in range(back + 1, steps + 5)])
        if kind != "crashed":
            frames.append([RunEnded(status="interrupted" if kind == "interrupted" else "completed", wall_time=1.0)])
        _write(store, run_id, frames)
    return store


def _rows(table: pa.Table, name: str) -> list:
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: (str(r.get("run_id")), *(str(r.get(k)) for k in KEYS[name])))


def assert_matches_logs(store: Path) -> None:
    """Every view, run by run, equals the same table computed straight from that run's log."""
    conn = connect(store)
    ids = conn.query("SELECT run_id FROM runs ORDER BY run_id").column("run_id").to_pylist()
    expected_ids = []
    for run_dir in sorted(p for p in (store / "exp").iterdir()):
        info = run_info(run_dir)
        try:
            tables = run_tables(run_dir, info.experiment, info.run_id)
        except Exception:  # noqa: BLE001 - a log the store cannot read is skipped by both paths
            continue
        expected_ids.append(info.run_id)
        for name in TABLES:
            want = tables[name]
            other_ranks = " AND rank > 0" if name == "rank_steps" else ""  # the view adds rank 0 from steps
            got = conn.query(f'SELECT * FROM "{name}" WHERE run_id = $r{other_ranks}', {"r": info.run_id})
            columns = [c for c in want.column_names if c != "rank" or name == "rank_steps"]
            got = got.select(columns) if got.num_rows else got
            assert _rows(got, name) == _rows(want.select(columns), name) if got.num_rows else want.num_rows == 0, \
                (name, info.run_id)
        row = conn.query("SELECT status, last_step, main_best, config FROM runs WHERE run_id = $r",
                         {"r": info.run_id}).to_pylist()[0]
        view = fold_log(run_dir)
        assert (row["status"], row["last_step"], row["main_best"]) == (info.status, info.last_step, view.best)
        assert json.loads(row["config"]) == {**info.config, **view.config_updates}
    assert sorted(ids) == sorted(expected_ids)


def snapshot_answers(store: Path) -> dict:
    conn = connect(store)
    return {name: _rows(conn.query(f'SELECT * FROM "{name}"'), name) for name in TABLES} | {
        "runs": conn.query("SELECT * EXCLUDE (dir) FROM runs ORDER BY run_id").to_pylist()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_view_through_the_index_equals_the_logs(tmp_path, seed):
    store = mixed_store(tmp_path, seed)
    assert_matches_logs(store)
    assert sync(store).indexed == 0  # a second look finds nothing new


def test_a_live_run_is_read_from_its_log_and_joins_the_index_when_it_seals(tmp_path):
    store = mixed_store(tmp_path)
    run = Run.start(store=store, experiment="exp", config={"lr": 1.0}, run_id="live1", handle_signals=False)
    for s in range(30):
        run.log({"loss": 1.0 / (s + 1)}, step=s)
    run.flush()
    snap = open_snapshot(store)
    live = [r for r in snap.runs if r.run_id == "live1"]
    assert live and snap.from_log(live[0]) and snap.batch_of(live[0]) is None
    assert connect(store).query("SELECT count(*) AS n FROM steps WHERE run_id = 'live1'").column("n")[0].as_py() == 30
    run.close()
    snap = open_snapshot(store)
    sealed = [r for r in snap.runs if r.run_id == "live1"][0]
    assert sealed.status == "completed" and snap.batch_of(sealed) is not None
    assert_matches_logs(store)


def test_deleting_or_damaging_the_index_changes_no_answer(tmp_path):
    store = mixed_store(tmp_path)
    before = snapshot_answers(store)
    shutil.rmtree(store / INDEX_DIR)
    assert snapshot_answers(store) == before
    (store / INDEX_DIR / CATALOG).write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)  # truncated
    assert snapshot_answers(store) == before
    home = index_home(store)
    batch = next((home / DATA_DIR).iterdir())
    parquet = batch / "steps.parquet"
    data = parquet.read_bytes()
    parquet.unlink()
    parquet.write_bytes(data)  # the same bytes, but not the file the index wrote: never trusted
    assert snapshot_answers(store) == before
    forged = next(p for p in (home / DATA_DIR).iterdir() if p.name != batch.name) / "metrics.parquet"
    with open(forged, "ab") as f:
        f.write(b"garbage")
    assert snapshot_answers(store) == before


def test_deleted_resumed_and_grown_runs_are_noticed(tmp_path):
    store = mixed_store(tmp_path)
    sync(store)
    shutil.rmtree(store / "exp" / "run0")
    assert "run0" not in [r.run_id for r in open_snapshot(store).runs]
    # a crashed run, indexed, then resumed by a writer: its new steps appear, its abandoned ones go
    with Run.resume(store / "exp" / "run1", step=2, epoch=0, handle_signals=False) as run:
        for s in range(3, 7):
            run.log({"loss": 100.0 + s}, step=s)
    losses = connect(store).query("SELECT step, loss FROM steps WHERE run_id = 'run1' ORDER BY step").to_pylist()
    assert [r["step"] for r in losses] == list(range(7))
    assert [r["loss"] for r in losses][3:] == [103.0, 104.0, 105.0, 106.0]
    assert_matches_logs(store)


def test_a_symlinked_index_is_never_written_through(tmp_path, monkeypatch):
    store = mixed_store(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (store / INDEX_DIR).symlink_to(victim)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert_matches_logs(store)
    assert list(victim.iterdir()) == []
    assert index_home(store).is_relative_to(tmp_path / "cache")


def test_a_store_with_old_per_run_caches_is_indexed_without_migration(tmp_path):
    store = mixed_store(tmp_path)
    for run_dir in (store / "exp").iterdir():  # what ol wrote per run before the index
        (run_dir / ".cache" / "compact").mkdir(parents=True)
        (run_dir / ".cache" / "compact" / "steps.parquet").write_bytes(b"not parquet")
        (run_dir / ".cache" / "view.json").write_text("{}")
    assert_matches_logs(store)
    from ol.store.index.collect import collect

    assert collect(store, old_caches=True).old_caches == 16
    assert not list(store.glob("exp/*/.cache/compact"))


INDEXER = "import sys; from ol.store.index.indexer import sync; sync(sys.argv[1])"


def test_killing_the_indexer_at_any_moment_leaves_every_answer_right(tmp_path):
    store = tmp_path / "store"
    for i in range(40):
        healthy_run(store, f"h{i:02d}", seed=i, steps=60)
    expected = None
    rng = random.Random(7)
    for _ in range(6):
        shutil.rmtree(store / INDEX_DIR, ignore_errors=True) if rng.random() < 0.3 else None
        proc = subprocess.Popen([PYTHON, "-c", INDEXER, str(store)])
        time.sleep(rng.uniform(0.3, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        answers = snapshot_answers(store)
        expected = expected or answers
        assert answers == expected


WRITER = """
import sys
from ol.producer.run import Run
with Run.start(store=sys.argv[1], experiment="exp", run_id=sys.argv[2], handle_signals=False) as run:
    for s in range(200):
        run.log({"loss": float(s)}, step=s)
"""
READER = """
import sys, time
from ol.consumers.analytics.sql import connect
end = time.time() + float(sys.argv[2])
while time.time() < end:
    conn = connect(sys.argv[1])
    n = conn.query("SELECT count(*) AS n FROM steps").column("n")[0].as_py()
    runs = conn.query("SELECT count(*) AS n FROM runs").column("n")[0].as_py()
    assert n <= 200 * runs, (n, runs)
"""


def test_writers_indexers_and_readers_at_once(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    procs = [subprocess.Popen([PYTHON, "-c", WRITER, str(store), f"w{i:02d}"]) for i in range(20)]
    procs += [subprocess.Popen([PYTHON, "-c", INDEXER, str(store)]) for _ in range(2)]
    procs += [subprocess.Popen([PYTHON, "-c", READER, str(store), "4"]) for _ in range(2)]
    codes = wait_all(procs, timeout=240)
    assert codes == [0] * len(procs)
    conn = connect(store)
    assert conn.query("SELECT count(*) AS n FROM runs WHERE status = 'completed'").column("n")[0].as_py() == 20
    counts = conn.query("SELECT run_id, count(*) AS n FROM steps GROUP BY ALL").column("n").to_pylist()
    assert counts == [200] * 20
    state_rows = open_snapshot(store).runs
    assert len({r.run_id for r in state_rows}) == len(state_rows) == 20
    assert os.path.isdir(store / INDEX_DIR / DATA_DIR)


def test_a_catalog_made_by_someone_else_is_rebuilt_not_believed(tmp_path, monkeypatch):
    """A store copied with its index (a download, a shared folder): the catalog is sealed with another user's
    key, so its records — which could name any path or claim anything of a run — are never used."""
    store = mixed_store(tmp_path)
    before = snapshot_answers(store)
    import sqlite3

    con = sqlite3.connect(store / INDEX_DIR / CATALOG)
    con.execute("UPDATE runs SET record = replace(record, '\"completed\"', '\"failed\"')")
    con.execute("INSERT INTO runs (path, experiment, stamp, live, record, flagged, mac, series_mac) "
                "VALUES ('../../x', 'e', '{}', 1, '{}', 0, '', '')")
    con.commit()
    con.close()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "someone-else"))  # another user's key
    assert snapshot_answers(store) == before


def test_rows_edited_in_ones_own_catalog_and_logs_cut_in_place_are_not_believed(tmp_path):
    """Hardening round three: the seal covered the catalog's id only, so rows edited in a catalog sealed with
    one's own key were shown as truth; a finished run's segment cut by 30 bytes still listed as completed."""
    import sqlite3

    from ol.store.read.snapshot import open_snapshot

    store = mixed_store(tmp_path)
    before = snapshot_answers(store)
    con = sqlite3.connect(store / INDEX_DIR / CATALOG)
    con.execute("UPDATE runs SET record = replace(record, '\"completed\"', '\"failed\"')")
    con.commit()
    con.close()
    assert snapshot_answers(store) == before  # the same user's key: the rows' own seals fail all the same

    done = next(r for r in open_snapshot(store).runs if r.status == "completed")
    (segment,) = sorted((done.dir / "log").iterdir())[-1:]
    segment.write_bytes(segment.read_bytes()[:-30])  # in place: no directory above it changes
    again = next(r for r in open_snapshot(store).runs if r.run_id == done.run_id)
    assert again.status == "crashed"  # its end was in the frame cut off


def test_an_index_that_cannot_be_written_still_gives_right_answers(tmp_path, monkeypatch):
    """A full disk (or a quota) under the index: the runs it could not take are read from their logs, one
    warning says why, and the next sync that can write indexes them."""
    import ol.store.index.write as index_write

    store = mixed_store(tmp_path)
    expected = None
    real = index_write.write_batch

    def full(store, home, parts):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_write, "write_batch", full)
    conn = connect(store)
    assert any("No space left" in w for w in conn.warnings)
    answers = snapshot_answers(store)
    monkeypatch.setattr(index_write, "write_batch", real)
    assert sync(store).indexed > 0
    expected = snapshot_answers(store)
    assert answers == expected
    assert_matches_logs(store)


def test_a_long_lived_reader_answers_an_unchanged_store_from_memory_and_sees_every_change(tmp_path):
    """With its previous snapshot, an unchanged catalog is answered without reading any run's row (the same
    records come back), a live run is read anew each time, and a new run, a deleted run or a batch file
    changed on disk are each noticed on the next snapshot."""
    def settle():  # directories last changed a while ago: listed once and trusted since (the 2 s racy rule)
        for folder in (store, store / "exp"):
            os.utime(folder, (time.time() - 10, time.time() - 10))

    store = mixed_store(tmp_path)
    open_snapshot(store)  # makes the index (in the store's root: the root changed)
    settle()
    first = open_snapshot(store)
    again = open_snapshot(store, previous=first)
    assert again.generation == first.generation and all(a is b for a, b in zip(again.runs, first.runs, strict=True))
    live = Run.start(store=store, experiment="exp", run_id="live-1", handle_signals=False)
    try:
        live.log({"loss": 1.0}, step=0)
        live.flush()
        settle()
        with_live = open_snapshot(store, previous=again)
        assert with_live.generation > again.generation and "live-1" in [r.run_id for r in with_live.runs]
        live.log({"loss": 0.5}, step=1)
        live.flush()
        later = open_snapshot(store, previous=with_live)
        assert later.generation == with_live.generation
        assert next(r for r in later.runs if r.run_id == "live-1").last_step == 1  # read anew, not remembered
    finally:
        live.close()
    shutil.rmtree(store / "exp" / "run0")
    gone = open_snapshot(store, previous=later)
    assert "run0" not in [r.run_id for r in gone.runs] and "live-1" in [r.run_id for r in gone.runs]
    batch = next(iter({r.batch for r in gone.rows if gone.sealed(r)}))
    with open(index_home(store) / DATA_DIR / batch / "steps.parquet", "ab") as f:
        f.write(b"garbage")
    assert open_snapshot(store, previous=gone).warnings  # the changed file is noticed, and its runs indexed again
    assert_matches_logs(store)


def test_a_runs_series_index_is_read_on_request_and_only_as_its_snapshot_knew_the_run(tmp_path):
    """A snapshot holds no run's series index (a chart asks for the few it draws, in one query); asked after the
    run was indexed again, the old snapshot gets nothing for it — never another state's chunks for its batch —
    and the next snapshot gets the new one."""
    store = tmp_path / "runs"
    for run_id in ("a", "b"):
        with Run.start(store=store, experiment="exp", run_id=run_id, handle_signals=False) as run:
            for step in range(5):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
    first = open_snapshot(store)
    assert all(row.series is None for row in first.rows)
    found = first.series(first.runs)
    assert sorted(found) == sorted(str(i.dir) for i in first.runs)
    path, index = found[str(first.runs[0].dir)]
    assert path.name == "series.arrow" and path.parent.name == first.batch_of(first.runs[0])
    assert index["train/loss"]["count"] == 5
    with Run.resume(store / "exp" / "a", step=4, handle_signals=False) as run:
        for step in range(5, 9):
            run.log({"loss": 0.1}, step=step)
    sync(store)
    stale = first.series(first.runs)
    assert str(store / "exp" / "a") not in stale and str(store / "exp" / "b") in stale
    now = open_snapshot(store)
    assert now.series(now.runs)[str(store / "exp" / "a")][1]["train/loss"]["count"] == 9
