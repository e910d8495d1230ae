"""Runs whose shape could take every reader down (hardening round three): 1,000 scalar names each logged at
its own 200 steps (3 GB and 105 s for the first `ol runs` when the step table had a column per name), a run of
10,000 columns beside it (their batch's step table was every row × every name: 17 GB), and a log with more
names than a run may have. Each is read in a real `ol` process under a memory cap, every value kept."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from ol.producer import run as run_module
from ol.producer.run import Run
from tests.integrations import crafted

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
CAP = 1536 << 20


def _ol(*args: str) -> subprocess.CompletedProcess:
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (CAP * 3, CAP * 3))  # address space: threads reserve more than they use

    return subprocess.run([*OL, *args], capture_output=True, text=True, timeout=300, preexec_fn=cap)


def test_sparse_and_wide_runs_are_indexed_whole_within_bounded_memory(tmp_path, monkeypatch):
    store = tmp_path / "runs"
    crafted.sparse_and_wide(store)
    monkeypatch.setattr(run_module, "MAX_METRIC_NAMES", 10**6)  # a log ol would not write itself
    monkeypatch.setattr(run_module, "MAX_NAME_CHARS", 10**7)
    with Run.start(store=store, experiment="hostile", run_id="million", handle_signals=False) as run:
        run.log({f"m{i}": 1.0 for i in range(20_000)} | {"x" * 5_000_000: 1.0}, step=0)

    done = _ol("runs", "-f", "json", "--store", str(store))
    assert done.returncode == 0, done.stderr
    runs = {r["run_id"]: r for r in json.loads(done.stdout)}
    assert set(runs) == {"sparse", "wide", "million"}
    problem = runs["million"]["problem"]
    assert "1 scalar name(s) over 512 characters" in problem and "(+1 more)" in problem  # and the names past 10,000
    counted = _ol("query", "-f", "json", "--store", str(store),
                  "SELECT run_id, count(*) AS n, count(DISTINCT name) AS names FROM metrics GROUP BY 1 ORDER BY 1")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == [{"run_id": "million", "n": 10_000, "names": 10_000},
                                          {"run_id": "sparse", "n": 200_000, "names": 1000},
                                          {"run_id": "wide", "n": 10_000, "names": 10_000}]
    point = _ol("query", "-f", "json", "--store", str(store),
                "SELECT step, value FROM metrics WHERE run_id = 'sparse' AND name = 'tag7' AND step = 1405")
    assert json.loads(point.stdout) == [{"step": 1405, "value": 5.0}]
