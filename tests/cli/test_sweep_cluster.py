"""`ol sweep` on a cluster's executors without the cluster: submitit's job script and its local executor,
a task's checkpoint and requeue called directly, Slurm's job as a run records it, the USR2 warning, and the
one-line refusals (tests/cluster runs the same against a real Slurm and a real Ray head)."""

from __future__ import annotations

import json
import subprocess
import sys

from ol.schemas.launch import RunSettings
from ol.store.log.reader import LogReader
from ol.store.read.listing import scan_runs
from ol.store.read.sweep_plans import Plan
from tests.cli.sweeps import OL, TINY, TINY_SETTINGS, needs, ol
from tests.processes import ended, wait_for_progress


def test_slurm_options_reach_submitit_and_its_job_script(tmp_path, monkeypatch):
    """No Slurm here: a stand-in `srun` lets submitit build its Slurm executor, whose parameters and sbatch
    script show what `ol sweep --executor slurm` asks of Slurm (nothing is submitted)."""
    import os

    needs("slurm", "submitit")
    from ol.cli.sweep_cmd import slurm_options
    from ol.producer import sweep as sweeps
    from ol.producer.sweep_cluster import slurm_executor

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    plan = Plan("sl", "mod_arithmetic", sweeps.expand(["stride"], [0, 1], {}), RunSettings())
    options = slurm_options("gpu", 90, 1, 6, 16, 2)
    executor = slurm_executor(plan, tmp_path / "runs", 2, options, cluster="slurm")
    params = executor._executor.parameters
    assert params == {"partition": "gpu", "time": 90, "gpus_per_node": 1, "cpus_per_task": 6, "mem": "16GB",
                      "array_parallelism": 2, "job_name": "ol-sl", "signal_delay_s": 90}
    script = executor._executor._make_submission_file_text("python -m x", "uid")
    for line in ("--partition=gpu", "--time=90", "--gpus-per-node=1", "--cpus-per-task=6", "--mem=16GB",
                 "--signal=USR2@90"):  # the signal before the time limit, on which a task requeues itself
        assert f"#SBATCH {line}" in script
    # a short limit is warned a quarter of it ahead, not 90 s: Slurm may warn 60 s early, and a 2-minute point
    # warned at its start would be requeued forever before training a step
    short = slurm_executor(plan, tmp_path / "runs", 2, slurm_options(None, 2, 0, None, None, None), "slurm")
    assert "#SBATCH --signal=USR2@30" in short._executor._make_submission_file_text("python -m x", "uid")
    assert str(tmp_path / "runs" / ".sweeps" / "sl" / "submitit") in script
    # options not given are not passed (the CLI insists on --time); the CPUs default to the threads per run
    defaults = slurm_executor(plan, tmp_path / "runs", 3, slurm_options(None, None, 0, None, None, None), "slurm")
    assert defaults._executor.parameters == {"cpus_per_task": 3, "job_name": "ol-sl"}


def test_slurm_off_a_cluster_is_one_line(tmp_path, monkeypatch):
    needs("slurm", "submitit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun anywhere
    untimed = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--executor", "slurm", "--name", "x",
                 "--store", tmp_path / "runs", *TINY)
    assert untimed.returncode == 1 and "--executor slurm needs --time MINUTES" in untimed.stderr
    done = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--executor", "slurm", "--name", "x", "--time", "60",
              "--store", tmp_path / "runs", *TINY)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == ("error: sweep: --executor slurm cannot reach Slurm here (no srun on PATH); run the "
                                   "sweep on a login node of the cluster, or use --executor local")
    assert not (tmp_path / "runs" / ".sweeps" / "x.json").exists()  # no plan left to --resume
    brief = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--executor", "slurm", "--name", "x", "--time", "1",
               "--store", tmp_path / "runs", *TINY)
    assert brief.returncode == 1 and brief.stderr.strip() == (
        "error: sweep: --time 1 leaves a point no time to train before Slurm's time-limit warning (sent up to 60 s "
        "early); use --time 2 or more")
    assert not (tmp_path / "runs" / ".sweeps" / "x.json").exists()


def test_a_ray_address_nothing_answers_at_is_one_line(tmp_path):
    """Refused at once, before the plan is written: ray.init would retry such an address for minutes."""
    import socket

    needs("ray", "ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    nobody = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--executor", "ray", "--ray-address",
                f"127.0.0.1:{closed}", "--name", "x", "--store", tmp_path / "runs", *TINY)
    assert nobody.returncode == 1 and nobody.stderr.strip() == (
        f"error: sweep: nothing answers at --ray-address 127.0.0.1:{closed}; give the address the cluster's head "
        "printed at `ray start --head` (HOST:PORT), or leave it out for a local Ray")
    assert not (tmp_path / "runs" / ".sweeps" / "x.json").exists()


def test_the_slurm_path_runs_each_point_as_a_job(tmp_path):
    """Slurm's path through submitit, its local executor standing in for a cluster (tests/cluster has the real
    Slurm, and a Ray cluster): the same idempotent point job, so a second submission skips what completed."""
    import os

    needs("slurm", "submitit")
    store, env = tmp_path / "runs", {**os.environ, "OL_SUBMITIT_CLUSTER": "local"}
    args = ["sweep", "mod_arithmetic", "--strategy", "stride", "--strategy", "random", "--executor", "slurm",
            "--name", "c-slurm", "--store", str(store), "--time", "30", *TINY]
    done = subprocess.run(OL + args, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    runs = [r for r in scan_runs(store) if r.group == "c-slurm"]
    assert sorted(r.strategy for r in runs) == ["random", "stride"] and all(r.status == "completed" for r in runs)
    again = subprocess.run(OL + ["sweep", "--resume", "c-slurm", "--executor", "slurm", "--store", str(store),
                                 "--time", "30"], capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    assert sorted(r.run_id for r in scan_runs(store)) == sorted(r.run_id for r in runs)  # nothing ran twice


def test_a_slurm_task_preempted_mid_run_is_requeued_and_resumes_its_run(tmp_path):
    """What submitit does when Slurm signals a time limit or a preemption: it calls the task's checkpoint()
    and requeues what that returns. Here the task runs on a thread and checkpoint() is called directly
    (submitit's local executor does not pass its test signal on to the task process): the running `ol
    train` writes its emergency checkpoint and ends interrupted, and the requeued task resumes it."""
    needs("slurm", "submitit")
    import threading

    from ol.producer.sweep import expand
    from ol.producer.sweep_cluster import SlurmPoint
    from ol.schemas import RunResumed

    store = tmp_path / "runs"
    settings = RunSettings(overrides={**TINY_SETTINGS.overrides, "epochs": 40, "stop_at_target": False},
                           checkpoint_every=50)
    plan = Plan("pre", "mod_arithmetic", expand(["stride"], [0], {}), settings)
    plan.save(store)
    task = SlurmPoint()
    codes = []
    worker = threading.Thread(target=lambda: codes.append(task(str(store), "pre", 0, 1)))
    worker.start()
    wait_for_progress(store, lambda run: (run.last_epoch or 0) >= 3, 240)
    requeued = task.checkpoint(str(store), "pre", 0, 1)
    worker.join(120)
    assert codes == [130]  # interrupted, not failed
    interrupted = scan_runs(store)
    assert len(interrupted) == 1 and interrupted[0].status == "interrupted"
    assert requeued.function(*requeued.args, **requeued.kwargs) == 0  # the requeued task
    runs = scan_runs(store)
    assert len(runs) == 1 and runs[0].status == "completed" and runs[0].last_epoch == 39
    events = [e for _, e in LogReader(runs[0].dir / "log").events()]
    assert any(isinstance(e, RunResumed) for e in events), "the requeued task started over instead of resuming"


def test_a_run_records_the_slurm_job_it_ran_in_and_ol_runs_shows_it(tmp_path, monkeypatch):
    """Under Slurm a run's environment records its job (an array task's ids, nodes, partition, requeues) and, when
    `ol sweep` started it, the file its output went to; `ol runs` shows the job as `sacct -j` takes it."""
    from ol.producer import Run

    store = tmp_path / "runs"
    for name, value in {"SLURM_JOB_ID": "1240", "SLURM_ARRAY_JOB_ID": "1234", "SLURM_ARRAY_TASK_ID": "6",
                        "SLURM_JOB_NODELIST": "node[01-02]", "SLURM_JOB_PARTITION": "gpu", "SLURM_RESTART_COUNT": "1",
                        "OL_JOB_OUTPUT": "/scratch/sweep/stride-seed6.log"}.items():
        monkeypatch.setenv(name, value)
    with Run.start(store=store, experiment="e", run_id="r", handle_signals=False) as run:
        run.log({"loss": 1.0}, step=1)
    (started,) = [e for _, e in LogReader(run.dir / "log").events() if type(e).__name__ == "RunStarted"]
    job = started.environment.job
    assert (job.scheduler, job.job_id, job.array_job_id, job.array_task_id, job.nodes, job.partition, job.restarts) \
        == ("slurm", "1240", "1234", "6", "node[01-02]", "gpu", 1)
    listed = json.loads(ol("runs", "--store", store, "-f", "json").stdout)
    assert listed[0]["job"] == "slurm 1234_6" and listed[0]["output"] == "/scratch/sweep/stride-seed6.log"
    table = ol("runs", "--store", store)
    assert "slurm 1234_6" in table.stdout


def test_slurms_usr2_warning_ends_a_points_run_interrupted_with_its_checkpoint(tmp_path):
    """Slurm's --signal=USR2@90 reaches every process of a job step, the point's worker too: it must end the run
    as interrupted, with an emergency checkpoint to resume from — not kill it (USR2's default) unrecorded."""
    import signal

    from ol.producer.sweep import expand

    store = tmp_path / "runs"
    settings = RunSettings(overrides={**TINY_SETTINGS.overrides, "epochs": 2000, "stop_at_target": False},
                           checkpoint_every=1000)
    Plan("u2", "mod_arithmetic", expand(["stride"], [0], {}), settings).save(store)
    worker = subprocess.Popen([sys.executable, "-m", "ol.producer.worker", str(store), "u2", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with ended(worker):
        wait_for_progress(store, lambda run: (run.last_epoch or 0) >= 3, 120)
        worker.send_signal(signal.SIGUSR2)
        _, err = worker.communicate(timeout=120)
    assert worker.returncode == 130, err
    (run,) = scan_runs(store)
    assert run.status == "interrupted" and list((run.dir / "checkpoints").glob("*.pt"))  # the emergency checkpoint
