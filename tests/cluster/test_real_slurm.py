"""`ol sweep --executor slurm` against a real Slurm (tests/cluster/slurm.py starts one on this machine): a sweep's
points run as a job array and land in the store, each run naming its array task; a point Slurm requeues mid-run
resumes from its checkpoint and trains exactly what it would have uninterrupted, loss for loss."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ol.store.log.reader import LogReader
from ol.store.read.listing import run_info, scan_runs
from tests.cluster.slurm import completed_jobs, slurm_cluster, squeue
from tests.processes import ended

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
TINY = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--batch-size", "32", "--eval-every", "1"]


@pytest.fixture
def slurm(tmp_path):
    with slurm_cluster(tmp_path / "slurm") as env:
        yield env


def ol(env, *args, timeout=600):
    return subprocess.run(OL + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env)


def test_a_sweep_runs_as_a_job_array_on_slurm_and_each_run_names_its_task(tmp_path, slurm):
    store = tmp_path / "runs"
    done = ol(slurm, "sweep", "mod_arithmetic", "--strategy", "stride", "--strategy", "random", "--seeds", "0-1",
              "--executor", "slurm", "--time", "10", "--name", "real", "--store", store, *TINY, "--epochs", "3")
    assert done.returncode == 0, done.stderr
    assert "4 of 4 completed" in done.stdout
    runs = [r for r in scan_runs(store) if r.group == "real"]
    assert sorted((r.strategy, r.seed, r.status) for r in runs) == [
        ("random", 0, "completed"), ("random", 1, "completed"), ("stride", 0, "completed"), ("stride", 1, "completed")]
    arrays = {r.job.split()[1].split("_")[0] for r in runs}
    tasks = sorted(int(r.job.split("_")[1]) for r in runs)
    assert len(arrays) == 1 and tasks == [0, 1, 2, 3]  # one job array, a task per point
    assert all(r.output.endswith(f"{r.strategy}-seed{r.seed}.log") and r.run_id in open(r.output).read() for r in runs)
    # Slurm's own record of the jobs: every task of the array completed, nothing left in the queue
    finished = completed_jobs(tmp_path / "slurm")
    assert len([s for s in finished.values() if s == "COMPLETED"]) >= 4 and squeue(slurm) == []
    listed = json.loads(ol(slurm, "runs", "--store", store, "-f", "json").stdout)
    assert sorted(r["job"] for r in listed) == sorted(r.job for r in runs)


def test_a_point_slurm_requeues_mid_run_resumes_and_trains_what_it_would_have_uninterrupted(tmp_path, slurm):
    store, alone = tmp_path / "runs", tmp_path / "alone"
    point = ["mod_arithmetic", "--strategy", "stride", "--seed", "0", *TINY, "--epochs", "800", "--save-checkpoints",
             "10"]
    sweep = subprocess.Popen(OL + ["sweep", *point, "--executor", "slurm", "--time", "10", "--name", "rq",
                                   "--store", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=slurm)
    with ended(sweep):
        deadline = time.time() + 120
        while time.time() < deadline:  # the point trains in its job, checkpointing every 10 epochs
            found = list((store / "mod_arithmetic").glob("*/log")) if (store / "mod_arithmetic").exists() else []
            if found and (run_info(found[0].parent).last_epoch or 0) >= 60:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the point never reached epoch 60")
        (job,) = squeue(slurm, "%i")
        subprocess.run(["scontrol", "requeue", job], env=slurm, check=True, capture_output=True, timeout=30)
        deadline = time.time() + 60
        while "PENDING" not in " ".join(squeue(slurm)) and time.time() < deadline:
            time.sleep(0.2)
        # Slurm holds a requeued job back two minutes (its eligible time); let it start now
        subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], env=slurm, check=True,
                       capture_output=True, timeout=30)
        out, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    (run,) = scan_runs(store)
    assert run.status == "completed"
    resumed = [e for _, e in LogReader(run.dir / "log").events() if type(e).__name__ == "RunResumed"]
    assert len(resumed) == 1 and resumed[0].environment.job.restarts == 1  # Slurm's requeue, counted
    done = ol(slurm, "sweep", *point, "--name", "alone", "--store", alone)  # the same point, never interrupted
    assert done.returncode == 0, done.stderr
    losses = [ol(slurm, "query", "SELECT step, value FROM metrics WHERE name = 'loss' ORDER BY step", "--store", s,
                 "-f", "csv").stdout for s in (store, alone)]
    assert losses[0] == losses[1] and losses[0].count("\n") == 800 * 9 + 1  # every step, equal


def test_a_point_that_fails_for_its_own_reasons_is_reported_and_not_requeued(tmp_path, slurm):
    """The rule: Slurm's signals (requeue, preemption, time limit) bring a point back; a point whose own run fails
    (here: it asks for a GPU this machine lacks) is a failure of the sweep, said once, never retried."""
    store = tmp_path / "runs"
    done = ol(slurm, "sweep", "mod_arithmetic", "--strategy", "stride", "--executor", "slurm", "--time", "10",
              "--name", "bad", "--store", store, *TINY, "--epochs", "2", "--device", "cuda")
    assert done.returncode == 1 and "1 of 1 run(s) failed" in done.stderr, done.stderr
    assert "no CUDA device is available" in done.stderr  # the point's own last words, from its output file
    finished = completed_jobs(tmp_path / "slurm")
    assert list(finished.values()) == ["COMPLETED"] and squeue(slurm) == []  # one attempt, nothing requeued
