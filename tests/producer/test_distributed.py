"""One run on many processes: ol's Run under a real torchrun (2 CPU processes, gloo), checked through the
catalog, SQL, `ol events --rank`, `ol verify` and replay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.errors import OlError
from ol.producer import Run
from ol.store.log.reader import LogReader
from ol.store.log.rundir import log_path, rank_dir
from ol.store.read.listing import rank_streams, scan_runs

CHILD = Path(__file__).with_name("ddp_child.py")
runner = CliRunner()


def torchrun(store: Path, steps: int, *extra: str, nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "--monitor-interval=0.2", str(CHILD), str(store), str(steps), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("OL_RUN_ID", None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def ol(*args):
    return runner.invoke(app, [str(a) for a in args])


def rows(con, sql):
    return con.query(sql).to_pylist()


def test_torchrun_ranks_make_one_run_with_a_stream_each(tmp_path):
    store = tmp_path / "runs"
    done = torchrun(store, 30)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = scan_runs(store)  # one logical run, not one per rank
    assert (run.status, run.world_size, run.rank, run.last_step) == ("completed", 2, 0, 29)
    assert rank_dir(run.dir, 1).joinpath("log").is_dir()
    # both processes printed the same run id: it was agreed over the process group
    ids = {line.split()[-1] for line in done.stdout.splitlines() if line.startswith("rank ")}
    assert ids == {run.run_id}

    con = connect(store)
    ranks = rows(con, "SELECT rank, world_size, status, last_step, host FROM ranks ORDER BY rank")
    assert [(r["rank"], r["world_size"], r["status"], r["last_step"]) for r in ranks] == \
        [(0, 2, "completed", 29), (1, 2, "completed", 29)]
    assert all(r["host"] for r in ranks)
    # the steps view is rank 0's; rank_steps has every rank, side by side
    assert rows(con, "SELECT count(*) AS n FROM steps") == [{"n": 30}]
    per_rank = rows(con, "SELECT rank, count(*) AS n, count(DISTINCT loss) AS losses, avg(step_time) > 0 AS timed, "
                         "min(rss_mb) > 0 AS mem FROM rank_steps GROUP BY rank ORDER BY rank")
    assert per_rank == [{"rank": 0, "n": 30, "losses": 30, "timed": True, "mem": True},
                        {"rank": 1, "n": 30, "losses": 30, "timed": True, "mem": True}]
    # the loss is all-reduced, so both ranks logged the same numbers; their own step times differ
    same = rows(con, "SELECT count(*) AS n FROM rank_steps a JOIN rank_steps b USING (step) "
                     "WHERE a.rank = 0 AND b.rank = 1 AND a.loss = b.loss")
    assert same == [{"n": 30}]
    differ = rows(con, "SELECT count(*) AS n FROM rank_steps a JOIN rank_steps b USING (step) "
                       "WHERE a.rank = 0 AND b.rank = 1 AND a.step_time <> b.step_time")
    assert differ[0]["n"] > 0

    # each rank's own stream says which rank and world it is
    first = next(iter(LogReader(log_path(rank_dir(run.dir, 1))).events()))[1]
    assert (first.run_id, first.rank, first.world_size) == (run.run_id, 1, 2)
    shown = ol("events", run.run_id, "--store", store, "--rank", "1", "--kind", "run_started", "--json")
    assert shown.exit_code == 0 and '"rank":1' in shown.output and '"world_size":2' in shown.output
    missing = ol("events", run.run_id, "--store", store, "--rank", "5")
    assert missing.exit_code == 1 and "has no rank 5; its ranks: 0, 1" in missing.output
    checked = ol("verify", run.run_id, "--store", store)
    assert checked.exit_code == 0 and checked.output.count("ok ") == 2


def test_replay_sends_rank_0s_metrics_once(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = tmp_path / "runs"
    assert torchrun(store, 12).returncode == 0
    (run,) = scan_runs(store)
    assert ol("replay", run.run_id, "--store", store, "--to", "tensorboard", "--logdir", tmp_path / "tb").exit_code == 0
    acc = EventAccumulator(str(tmp_path / "tb" / "ddp" / run.run_id))
    acc.Reload()
    assert [p.step for p in acc.Scalars("loss")] == list(range(12))


def test_a_rank_killed_mid_run_shows_as_crashed_while_the_run_follows_rank_0(tmp_path):
    store = tmp_path / "runs"
    done = torchrun(store, 2000, "--die-rank", "1", "--die-at", "10")
    assert done.returncode != 0  # torchrun reports the lost worker
    (run,) = scan_runs(store)
    zero, one = rank_streams(run.dir, run)
    # rank 1's stream ends without a run-ended event at the step it reached; rank 0 saw its peer vanish
    assert (one.rank, one.status, one.last_step) == (1, "crashed", 9)
    assert run.status == zero.status and run.status in ("failed", "interrupted")
    assert run.last_step < 1999
    con = connect(store)
    assert rows(con, "SELECT rank, status FROM ranks ORDER BY rank") == \
        [{"rank": 0, "status": run.status}, {"rank": 1, "status": "crashed"}]
    assert rows(con, "SELECT max(step) AS last FROM rank_steps WHERE rank = 1") == [{"last": 9}]
    listed = ol("runs", "--store", store)
    assert "rank 1 crashed" in listed.output


def test_without_a_process_group_the_ranks_agree_through_torchruns_run_id(tmp_path):
    store = tmp_path / "runs"
    done = torchrun(store, 8, "--no-group")
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = scan_runs(store)
    assert run.world_size == 2 and [s.status for s in rank_streams(run.dir, run)] == ["completed", "completed"]


def test_a_rank_with_no_way_to_agree_on_a_run_id_is_told_how(tmp_path, monkeypatch):
    for name in ("OL_RUN_ID", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(OlError, match="init_process_group.*or set OL_RUN_ID"):
        Run.start(store=tmp_path, experiment="e", handle_signals=False)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(OlError, match="RANK=2 does not fit WORLD_SIZE=2"):
        Run.start(store=tmp_path, experiment="e", handle_signals=False)
    assert not any(tmp_path.iterdir())  # nothing was created


def test_ranks_started_from_the_environment_share_one_run_and_resume_their_own_streams(tmp_path, monkeypatch):
    monkeypatch.setenv("OL_RUN_ID", "shared")
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        with Run.start(store=tmp_path, experiment="e", handle_signals=False) as run:
            assert (run.run_id, run.rank, run.dir) == ("shared", rank, tmp_path / "e" / "shared")
            run.log({"loss": 1.0 + rank}, step=0)
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(OlError, match="rank 1 of run .* already has a stream"):
        Run.start(store=tmp_path, experiment="e", handle_signals=False)
    with Run.resume(tmp_path / "e" / "shared", step=0, handle_signals=False) as run:
        run.log({"loss": 0.5})
    con = connect(tmp_path)
    assert rows(con, "SELECT rank, step, loss FROM rank_steps ORDER BY rank, step") == \
        [{"rank": 0, "step": 0, "loss": 1.0}, {"rank": 1, "step": 0, "loss": 2.0}, {"rank": 1, "step": 1, "loss": 0.5}]


def test_a_rank_that_had_no_stream_starts_one_when_the_run_resumes(tmp_path, monkeypatch):
    """Resumed on more processes than it started with: the new rank's stream says who it is, then resumes."""
    from ol.schemas import RunResumed, RunStarted

    monkeypatch.setenv("OL_RUN_ID", "grown")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with Run.start(store=tmp_path, experiment="e", config={"lr": 0.5}, seed=7, handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
    monkeypatch.setenv("RANK", "1")
    with Run.resume(tmp_path / "e" / "grown", step=0, handle_signals=False) as run:
        assert (run.rank, run.world_size) == (1, 2)
        run.log({"loss": 0.5})
    events = [e for _, e in LogReader(log_path(rank_dir(tmp_path / "e" / "grown", 1))).events()]
    first = events[0]
    assert isinstance(first, RunStarted) and (first.rank, first.seed, first.config) == (1, 7, {"lr": 0.5})
    assert isinstance(events[1], RunResumed) and events[1].step == 0
    assert rows(connect(tmp_path), "SELECT rank, step, loss FROM rank_steps WHERE rank = 1") == \
        [{"rank": 1, "step": 1, "loss": 0.5}]
