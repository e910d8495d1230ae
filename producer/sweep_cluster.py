"""Sweeps on a cluster: one Slurm array task (through submitit) or one Ray task per point.

Every point runs the same idempotent job, wherever it lands: ask the catalog whether the point's
run completed (skip), has a verified checkpoint (resume) or is missing (start), then run its worker
as a child process. So a preempted or timed-out Slurm task that submitit requeues, a Ray task
retried on another node, or `ol sweep --resume` all do the right thing. The store must be on a
filesystem every node sees; each run writes only its own directory.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ol.errors import UsageError
from ol.producer.sweep import append_point_log, point_log, run_point, runs_of, state_of
from ol.store.read.sweep_plans import SWEEPS_DIR, Plan, load_plan
from ol.store.read.sweep_tasks import record_slurm_tasks, slurm_states

POLL_SECONDS = 1.0


def point_job(store: str, name: str, index: int, threads: int, on_start: Callable | None = None) -> int:
    """Run or finish point ``index`` of sweep ``name``; returns its worker's exit code (0: completed)."""
    plan = load_plan(Path(store), name)
    point = plan.points[index]
    return run_point(plan, point, Path(store), threads, runs_of(Path(store), plan).get(point), on_start)[1]


INTERRUPTED = (130, 143)  # a point's worker ended by SIGINT or SIGTERM
TAKEN_DOWN_WAIT = 600.0  # seconds: far past Slurm's KillWait (30 s by default), then the code is returned after all


class SlurmPoint:
    """A submitit job for one point that requeues itself when Slurm preempts it or its time runs out:
    submitit calls ``checkpoint`` on its signal; the running worker gets SIGTERM, writes its
    emergency checkpoint and ends as interrupted, and the requeued task resumes from it."""

    def __init__(self):
        self.child: subprocess.Popen | None = None

    def __call__(self, store: str, name: str, index: int, threads: int) -> int:
        code = point_job(store, name, index, threads, on_start=lambda c: setattr(self, "child", c))
        if code in INTERRUPTED and os.environ.get("SLURM_JOB_ID") and submitit_cluster() == "slurm":
            # Slurm signalled the job's processes (`scontrol requeue`, a preemption, scancel): it is taking this
            # task down. Returning would record a result, and the sweep would take the point as ended while Slurm
            # runs it again; waiting to be killed leaves none, so the requeued attempt's resume is what counts.
            time.sleep(TAKEN_DOWN_WAIT)
        return code

    def checkpoint(self, *args, **kwargs):
        import submitit

        # submitit calls this from its signal handler, which runs inside the main thread's `child.wait()`: that
        # wait holds the Popen's lock, so Popen.poll() here says "running" and Popen.wait() spins until its timeout
        # (two minutes a time-limit warning spent doing nothing). The child is looked at through /proc instead.
        if self.child is not None and not _ended(self.child.pid):
            _signal(self.child.pid, signal.SIGTERM)
            deadline = time.monotonic() + CHILD_END_WAIT
            while not _ended(self.child.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal(self.child.pid, signal.SIGKILL)
        return submitit.helpers.DelayedSubmission(SlurmPoint(), *args, **kwargs)


CHILD_END_WAIT = 120.0  # seconds a point's worker gets to write its emergency checkpoint


def _ended(pid: int) -> bool:
    """Whether the process has exited (gone, or a zombie its parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def run_slurm(plan: Plan, store: Path, threads: int, slurm: dict, on_change: Callable[[dict], None]) -> list[int]:
    """Submit the sweep as a Slurm job array and wait for it (Ctrl+C cancels the array)."""
    executor = slurm_executor(plan, store, threads, slurm, submitit_cluster())
    n = len(plan.points)  # each array task unpickles its own SlurmPoint, so each holds its own child
    jobs = executor.map_array(SlurmPoint(), [str(store)] * n, [plan.name] * n, list(range(n)), [threads] * n)
    done, result = [j.done for j in jobs], [j.result for j in jobs]
    if submitit_cluster() == "slurm":
        record_slurm_tasks(store, plan, [j.job_id for j in jobs])
        queue = SlurmQueue(store, plan)
        done = [lambda j=j, i=i: j.done() or queue.lost(i) for i, j in enumerate(jobs)]
        result = [lambda j=j, i=i: j.result() if j.done() else queue.report_lost(i, j.job_id) for i, j in
                  enumerate(jobs)]
    try:
        return _wait(plan, done, result, on_change)
    except KeyboardInterrupt:
        for j in jobs:
            j.cancel(check=False)
        raise


QUEUE_LOOK_SECONDS = 15.0


class SlurmQueue:
    """Notices a point whose array task left Slurm's queue without a result: cancelled, its node lost, out of time
    with no requeue. submitit learns that only from sacct, so on a cluster keeping no accounting a sweep waited for
    such a task forever. A task is lost once two looks at the queue, QUEUE_LOOK_SECONDS apart, both miss it and it
    still has no result (a result is looked for first, so one written as the task left is never missed)."""

    def __init__(self, store: Path, plan: Plan):
        self.store, self.plan = store, plan
        self.looked = -QUEUE_LOOK_SECONDS
        self.misses: dict[int, int] = {}  # point -> looks in a row that did not find its task

    def lost(self, index: int) -> bool:
        if time.monotonic() - self.looked >= QUEUE_LOOK_SECONDS:
            self.looked = time.monotonic()
            for i, (_, state) in slurm_states(self.store, self.plan).items():  # nothing when Slurm did not answer
                self.misses[i] = 0 if state else self.misses.get(i, 0) + 1
        return self.misses.get(index, 0) >= 2

    def report_lost(self, index: int, task: str) -> int:
        """Say so at the end of the point's output, where `ol sweep` shows a failed point's last words; exit 1."""
        log = point_log(self.store, self.plan, self.plan.points[index])
        with contextlib.suppress(OSError), append_point_log(log) as f:
            f.write(f"\nol sweep: Slurm task {task} left the queue without a result (cancelled, its node lost, or "
                    "out of time without a requeue)\n".encode())
        return 1


def submitit_cluster() -> str:
    """Slurm; OL_SUBMITIT_CLUSTER=local runs the same path on this machine (submitit's local executor).
    Never submitit's auto-detection, which off a cluster would quietly run a "Slurm" sweep here."""
    return os.environ.get("OL_SUBMITIT_CLUSTER") or "slurm"


def engine(executor: str):
    """The module behind ``--executor slurm|ray`` (submitit or ray), or a one-line error naming the extra."""
    name, extra = {"slurm": ("submitit", "slurm"), "ray": ("ray", "ray")}[executor]
    try:
        return importlib.import_module(name)
    except ImportError:
        raise UsageError(f"sweep: --executor {executor} needs {name}: pip install 'ol[{extra}]'") from None


def check_executor(executor: str, ray_address: str | None = None) -> None:
    """Refuse, before a sweep's plan is written, an executor whose engine is missing here or a Ray cluster that
    cannot be joined (a Ray address nothing answers at is refused at once: ray.init would retry it for minutes;
    the sweep then runs on the connection made here)."""
    engine(executor)
    if executor == "ray" and ray_address and ray_address not in ("auto", "local"):
        host, _, port = ray_address.split("://", 1)[-1].rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        except (OSError, ValueError):
            hint = "give the address the cluster's head printed at `ray start --head` (HOST:PORT), or leave it out"
            raise UsageError(f"sweep: nothing answers at --ray-address {ray_address}; {hint} for a local Ray") from None
    if executor == "ray" and not engine("ray").is_initialized():
        connect_ray(ray_address)
    if executor == "slurm" and submitit_cluster() == "slurm" and shutil.which("srun") is None:
        raise UsageError("sweep: --executor slurm cannot reach Slurm here (no srun on PATH); run the sweep on a "
                         "login node of the cluster, or use --executor local")


def slurm_executor(plan: Plan, store: Path, threads: int, slurm: dict, cluster: str | None = None):
    """The submitit executor of a sweep, its job parameters set from the command line's Slurm options
    (``slurm``: submitit's names; None means Slurm's default). Its files go under the sweep's folder."""
    submitit = engine("slurm")
    try:
        executor = submitit.AutoExecutor(folder=Path(store) / SWEEPS_DIR / plan.name / "submitit", cluster=cluster)
    except RuntimeError as e:  # submitit's own word, e.g. 'Could not detect "srun"' off a cluster
        raise UsageError(f"sweep: --executor slurm cannot reach Slurm here ({e}); run the sweep on a login node, "
                         "or use --executor local") from None
    chosen = {k: v for k, v in slurm.items() if v is not None}
    chosen.setdefault("cpus_per_task", threads)
    if chosen.get("timeout_min"):
        chosen["slurm_signal_delay_s"] = warning_seconds(chosen["timeout_min"])
    executor.update_parameters(**chosen, name=f"ol-{plan.name}")
    return executor


SLURM_WARNING_SLACK = 60  # seconds: Slurm may send a --signal warning this much earlier than asked (man sbatch)


def warning_seconds(minutes: int) -> int:
    """How long before a point's --time runs out Slurm is asked to warn it (USR2: checkpoint and requeue).
    submitit's 90 s would, with a short limit, come at the very start of every attempt (the warning may arrive
    60 s early): a 2-minute job was requeued before training a step, forever, or killed before submitit's
    handler was installed. A quarter of the limit, at most 90 s, leaves every attempt time to train."""
    delay = min(90, minutes * 60 // 4)
    if minutes * 60 - delay - SLURM_WARNING_SLACK < 30:  # the least an attempt may train before its warning
        raise UsageError(f"sweep: --time {minutes} leaves a point no time to train before Slurm's time-limit "
                         "warning (sent up to 60 s early); use --time 2 or more")
    return delay


def connect_ray(address: str | None) -> None:
    """Join the Ray cluster at ``address`` (None: start a local one), or say in one line why it cannot."""
    try:
        engine("ray").init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except ConnectionError:
        raise UsageError(f"sweep: cannot reach the Ray cluster at {address} — check --ray-address (`ray status` "
                         "on the head shows it); a cluster with token authentication (Ray's default since 2.59) "
                         "also needs RAY_AUTH_MODE=token here, and its token in ~/.ray/auth_token or "
                         "RAY_AUTH_TOKEN") from None


def run_ray(plan: Plan, store: Path, threads: int, address: str | None, gpus: float,
            on_change: Callable[[dict], None]) -> list[int]:
    """One Ray task per point, each asking for ``threads`` CPUs (and ``gpus`` GPUs)."""
    ray = engine("ray")
    started_here = not ray.is_initialized()
    if started_here:
        connect_ray(address)
    try:
        task = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=3)(point_job)
        refs = [task.remote(str(store), plan.name, i, threads) for i in range(len(plan.points))]

        def done(ref):
            return lambda: bool(ray.wait([ref], timeout=0)[0])

        try:
            return _wait(plan, [done(r) for r in refs], [lambda r=r: ray.get(r) for r in refs], on_change)
        except KeyboardInterrupt:
            for r in refs:
                ray.cancel(r, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()


def _wait(plan: Plan, done: list[Callable[[], bool]], result: list[Callable[[], int]],
          on_change: Callable[[dict], None]) -> list[int]:
    codes: list[int | None] = [None] * len(done)
    while any(c is None for c in codes):
        for i, is_done in enumerate(done):
            if codes[i] is None and is_done():
                try:
                    codes[i] = int(result[i]())
                except Exception:  # a task that died outright (node lost, out of memory)
                    codes[i] = 1
        on_change({p: state_of(c) for p, c in zip(plan.points, codes, strict=True)})
        if any(c is None for c in codes):
            time.sleep(POLL_SECONDS)
    return [int(c) for c in codes]
