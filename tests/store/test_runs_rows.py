"""The runs view of sealed runs is read from each batch's runs.parquet: the same rows as from the logs, no
record decoded, dir right after the store moves, and no pandas loaded for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ol.consumers.analytics.sql import connect
from ol.producer.run import Run
from ol.schemas.events import RunContract
from ol.store.read import snapshot as readmodel
from ol.store.read.fold import fold_log
from ol.store.read.listing import scan_runs
from ol.store.read.runs_table import runs_table


def _store(root: Path) -> Path:
    store = root / "store"
    for k in range(4):
        run = Run.start(store=store, experiment="exp", run_id=f"r{k}", strategy=("a", "b")[k % 2], seed=k,
                        config={"lr": 0.1 * (k + 1), "status": "shadowed", **({"width": 8} if k else {})},
                        name=f"run {k}" if k % 2 else "", tags=["t"] if k == 3 else (),
                        contract=RunContract(main_metric="acc", direction="higher", target=0.5),
                        handle_signals=False)
        for s in range(5):
            run.log({"loss": 1.0 / (s + 1 + k)}, step=s)
        run.epoch(0, {"acc": 0.2 * k})
        run.config.update({"lr": 0.5})
        run.close()
    return store


def _runs(conn) -> list[dict]:
    return conn.query("SELECT * FROM runs ORDER BY run_id").to_pylist()


def test_sealed_runs_rows_come_from_the_index_equal_the_logs_and_decode_no_record(tmp_path, monkeypatch):
    store = _store(tmp_path)
    first = _runs(connect(store))  # indexes the store
    logged = scan_runs(store)
    for info in logged:
        info.adopt(fold_log(info.dir))  # the whole log's fold, as a live run's reader makes it
    from_logs = sorted(runs_table(logged, store).to_pylist(), key=lambda r: r["run_id"])

    def refuse(*_):
        raise AssertionError("a query over sealed runs decoded a record")

    monkeypatch.setattr(readmodel, "record_from_json", refuse)
    again = _runs(connect(store))
    assert again == first
    for got, want in zip(again, from_logs, strict=True):
        assert {k: v for k, v in got.items() if k != "dir"} == {k: v for k, v in want.items() if k != "dir"}
        assert got["dir"] == str(store / "exp" / got["run_id"])
    assert [r["config_status"] for r in again] == ["shadowed"] * 4  # a config key named like a column
    assert [json.loads(r["config"])["lr"] for r in again] == [0.5] * 4  # as updated after the start
    assert [r["width"] for r in again] == [None, 8, 8, 8]
    assert [(r["run_name"], r["tags"], r["world_size"]) for r in again][:2] == [(None, [], 1), ("run 1", [], 1)]
    ranks = connect(store).query("SELECT run_id, rank, status FROM ranks ORDER BY run_id").to_pylist()
    assert ranks == [{"run_id": f"r{k}", "rank": 0, "status": "completed"} for k in range(4)]


def test_a_store_moved_elsewhere_names_its_runs_where_they_are_now(tmp_path):
    store = _store(tmp_path)
    connect(store)
    moved = tmp_path / "elsewhere"
    os.rename(store, moved)
    rows = _runs(connect(moved))
    assert [r["dir"] for r in rows] == [str(moved / "exp" / f"r{k}") for k in range(4)]
    assert all(Path(r["dir"]).is_dir() for r in rows)


@pytest.mark.skipif(sys.platform != "linux", reason="checks the modules one process loaded")
def test_a_query_over_sealed_runs_does_not_load_pandas(tmp_path):
    """pyarrow loads pandas (0.3 s) whenever a table is built from Python values; a query over an indexed
    store builds none."""
    pytest.importorskip("pandas")
    store = _store(tmp_path)
    connect(store)
    code = ("import sys\nfrom ol.cli import main\nsys.argv = ['ol', 'query', '--store', sys.argv[1], "
            "'SELECT count(*) AS n FROM runs JOIN steps USING (run_id)']\ntry:\n    main()\nexcept SystemExit:\n"
            "    pass\nprint('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["n", "20", "False"]
