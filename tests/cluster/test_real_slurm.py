"""`ol sweep --executor slurm` against a real Slurm (tests/cluster/slurm.py starts one on this machine): a sweep's
points run as a job array and land in the store, each run naming its array task; a point Slurm requeues mid-run
resumes from its checkpoint and trains exactly what it would have uninterrupted, loss for loss."""

from __future__ import annotations

import json
import re
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
    sweep = subprocess.Popen(OL + ["sweep", "mod_arithmetic", "--strategy", "stride", "--strategy", "random", "--seeds",
                                   "0-1", "--executor", "slurm", "--time", "10", "--array-parallelism", "1", "--name",
                                   "real", "--store", str(store), *TINY, "--epochs", "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slurm)
    with ended(sweep):
        # while Slurm runs one task at a time, --status shows each point as Slurm has it: pending, then running
        seen = set()
        deadline = time.time() + 240
        while sweep.poll() is None and time.time() < deadline:
            before = dict(line.split() for line in squeue(slurm, "%i %T"))
            shown = _slurm_column(ol(slurm, "sweep", "--status", "real", "--store", store).stdout)
            if shown and before and before == dict(line.split() for line in squeue(slurm, "%i %T")):
                queued = {task: state for task, state in shown.items() if state}
                assert queued == {t: s.lower() for t, s in before.items()}, (shown, before)  # squeue agrees
                seen |= set(queued.values())
            time.sleep(0.5)
        out, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    assert "4 of 4 completed" in out
    assert {"pending", "running"} <= seen, seen
    runs = [r for r in scan_runs(store) if r.group == "real"]
    assert sorted((r.strategy, r.seed, r.status) for r in runs) == [
        ("random", 0, "completed"), ("random", 1, "completed"), ("stride", 0, "completed"), ("stride", 1, "completed")]
    arrays = {r.job.split()[1].split("_")[0] for r in runs}
    tasks = sorted(int(r.job.split("_")[1]) for r in runs)
    assert len(arrays) == 1 and tasks == [0, 1, 2, 3]  # one job array, a task per point
    assert all(r.output.endswith(f"{r.strategy}-seed{r.seed}.log") and r.run_id in open(r.output).read() for r in runs)
    # Slurm's own record of the jobs (sacct over the job-completion log: this cluster keeps no accounting
    # database): every task of the array completed, as --status says, and nothing is left in the queue
    status = ol(slurm, "sweep", "--status", "real", "--store", store).stdout
    assert status.count("completed") >= 4 and "4 of 4 completed" in status
    assert sorted(_sacct(slurm, tmp_path / "slurm", arrays.pop()).values()) == ["COMPLETED"] * 4 and squeue(slurm) == []
    listed = json.loads(ol(slurm, "runs", "--store", store, "-f", "json").stdout)
    assert sorted(r["job"] for r in listed) == sorted(r.job for r in runs)


def _slurm_column(status: str) -> dict[str, str]:
    """The slurm column of `ol sweep --status`'s table: task id -> its state in the queue ("" once it left)."""
    found = re.findall(r"(\d+_\d+)(?: (pending|running|completing))?\s*│", status)
    return dict(found)


def _sacct(env: dict, root, array: str) -> dict[str, str]:
    """Each task of ``array``'s state by sacct (its job ids mapped to array tasks through the completion log)."""
    tasks = {job: f"{array}_{fields.split('ArrayTaskId=')[1].split()[0]}"
             for job, fields in completed_jobs(root, raw=True).items() if f"ArrayJobId={array} " in fields}
    listed = subprocess.run(["sacct", "-c", "-n", "-P", "-o", "JobID,State"], env=env, capture_output=True, text=True,
                            timeout=30).stdout
    return {tasks[job]: state for job, state in (line.split("|") for line in listed.splitlines()) if job in tasks}


# how Slurm takes a running point down: requeued by an operator, or warned with USR2 as before a time limit or a
# preemption (submitit asks Slurm for USR2 90 s before --time runs out, and requeues the task from its handler)
TAKE_DOWN = {"requeue": ["scontrol", "requeue"], "time-limit warning": ["scancel", "--signal=USR2"]}


@pytest.mark.parametrize("how", list(TAKE_DOWN))
def test_a_point_slurm_takes_down_mid_run_resumes_and_trains_what_it_would_have_uninterrupted(tmp_path, slurm, how):
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
        subprocess.run([*TAKE_DOWN[how], job], env=slurm, check=True, capture_output=True, timeout=30)
        # requeued: Slurm holds it back for the credential's lifetime (10 s in this cluster's slurm.conf; 120 s by
        # default), then runs it again
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


@pytest.mark.timeout(1200)  # as many 2-minute attempts as a loaded machine needs (its wait allows 900 s)
def test_a_point_that_reaches_its_time_limit_is_requeued_until_done_and_trains_what_it_would_have(tmp_path, slurm):
    """A real --time limit: 2 minutes, warned 30 s ahead (ol's rule for short limits; Slurm may warn up to 60 s
    early, so each attempt trains 30-90 s). The point needs more than one attempt; it checkpoints at each warning,
    is requeued, resumes, and its losses equal those of the same point run uninterrupted meanwhile."""
    point = ["mod_arithmetic", "--strategy", "stride", "--seed", "0", *TINY, "--epochs", "6000", "--no-stop-at-target",
             "--save-checkpoints", "50"]  # about 2 minutes of training alone: more than an attempt's
    alone = subprocess.Popen(OL + ["sweep", *point, "--name", "alone", "--store", str(tmp_path / "alone")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slurm)
    sweep = subprocess.Popen(OL + ["sweep", *point, "--executor", "slurm", "--time", "2", "--name", "tl", "--store",
                                   str(tmp_path / "runs")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=slurm)
    with ended(alone), ended(sweep):
        out, err = sweep.communicate(timeout=900)
        assert alone.wait(timeout=600) == 0, alone.stderr.read()
    assert sweep.returncode == 0, err
    (run,) = scan_runs(tmp_path / "runs")
    assert run.status == "completed"
    resumed = [e for _, e in LogReader(run.dir / "log").events() if type(e).__name__ == "RunResumed"]
    assert resumed and [e.environment.job.restarts for e in resumed] == list(range(1, len(resumed) + 1))
    losses = [ol(slurm, "query", "SELECT step, value FROM metrics WHERE name = 'loss' ORDER BY step", "--store", s,
                 "-f", "csv").stdout for s in (tmp_path / "runs", tmp_path / "alone")]
    assert losses[0] == losses[1] and losses[0].count("\n") == 6000 * 9 + 1


def test_a_point_whose_task_leaves_the_queue_without_a_result_ends_the_sweep_as_failed(tmp_path, slurm):
    """Cancelled by its owner or an admin (or its node lost): on a cluster without accounting submitit cannot tell
    such a task from a running one; the sweep notices it left Slurm's queue and says so instead of waiting forever."""
    store = tmp_path / "runs"
    sweep = subprocess.Popen(OL + ["sweep", "mod_arithmetic", "--strategy", "stride", *TINY, "--epochs", "800",
                                   "--executor", "slurm", "--time", "10", "--name", "gone", "--store", str(store)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slurm)
    with ended(sweep):
        deadline = time.time() + 120
        while time.time() < deadline:  # training (its signal handlers set), not still starting
            found = list(store.glob("mod_arithmetic/*/log"))
            if found and (run_info(found[0].parent).last_epoch or 0) >= 2:
                break
            time.sleep(0.5)
        (job,) = squeue(slurm, "%i")
        subprocess.run(["scancel", job], env=slurm, check=True, capture_output=True, timeout=30)
        out, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 1 and "1 of 1 run(s) failed" in err, err
    assert f"Slurm task {job} left the queue without a result" in err  # the point's last words, said by the sweep
    assert "CANCELLED" in completed_jobs(tmp_path / "slurm").values() and squeue(slurm) == []
    (run,) = scan_runs(store)
    assert run.status == "interrupted"  # Slurm's SIGTERM: the run ended with its checkpoint, for --resume


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
