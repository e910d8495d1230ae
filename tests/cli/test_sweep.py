"""`ol sweep` on this machine: the grid expanded, runs in parallel worker processes carrying the sweep as
their group and their point as config, status from the catalog, --resume finishing what is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ol.schemas import Epoch
from ol.schemas.launch import RunSettings
from ol.store.log.reader import LogReader
from ol.store.read.listing import scan_runs
from ol.store.read.sweep_plans import Plan
from tests.cli.sweeps import OL, TINY, TINY_SETTINGS, needs, ol
from tests.processes import ended, wait_all


def test_dry_run_prints_the_plan_typed_and_runs_nothing(tmp_path):
    done = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--strategy", "random", "--seeds", "0-2",
              "--grid", "lr=1e-3,3e-3,0.001", "--name", "dry", "--store", tmp_path / "runs", "--epochs", "5",
              "--dry-run")
    assert done.returncode == 0, done.stderr
    shared = next(line for line in done.stdout.splitlines() if line.startswith("every point: "))
    assert json.loads(shared.removeprefix("every point: ")) == {"overrides": {"epochs": 5}, "checkpoint_every": 50}
    points = [line.split(":")[0] for line in done.stdout.splitlines() if " · seed " in line]
    assert len(points) == 2 * 3 * 2  # 1e-3 and 0.001 are one value
    assert points.count("random · seed 2 · lr=0.003") == 1 and points.count("stride · seed 0 · lr=0.001") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, needle", [
    (["--grid", "colour=1,2"], "--grid colour is not an option of mod_arithmetic"),
    (["--grid", "lrr=0.1"], "did you mean lr?"),
    (["--seeds", "5-2"], "names no seed"),
    (["--grid", "lr="], "--grid takes KEY=V1,V2"),
    (["--grid", "lr"], "--grid takes KEY=V1,V2"),
    (["--seeds", "1-x"], "--seeds takes a range or a list"),
    (["--seeds", "0-1", "--seed", "3"], "not both"),
    (["--strategy", "sideways"], "sideways"),
    (["--executor", "kubernetes"], "--executor must be one of local, slurm, ray"),
    (["--jobs", "0"], "at least 1"),
    (["--name", "../elsewhere"], "sweep name '../elsewhere' is not a valid name"),
    (["--group", "other"], "No such option: --group"),
    (["--resume-point"], "No such option: --resume-point"),
    (["--grid", "lr=abc"], "--grid --lr expects a number, got 'abc'"),
    (["--grid", "d_model=64,30"], "multiple of --n-heads"),
    (["--difficulty", "x"], "No such option: --difficulty"),
])
def test_bad_sweeps_are_one_line_and_run_nothing(tmp_path, args, needle):
    done = ol("sweep", "mod_arithmetic", *args, "--store", tmp_path / "runs", "--dry-run")
    assert done.returncode == 1
    assert needle in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_unknown_sweep_names_the_ones_there(tmp_path):
    done = ol("sweep", "--status", "nope", "--store", tmp_path / "runs")
    assert done.returncode == 1 and "no sweep named 'nope'" in done.stderr


def test_a_sweep_runs_its_grid_in_parallel_and_resume_finishes_it(tmp_path):
    store = tmp_path / "runs"
    done = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--strategy", "random", "--grid", "lr=1e-3,0.003",
              "--name", "g1", "--jobs", "2", "--store", store, *TINY, "--target-acc", "0.0", "--no-stop-at-target")
    assert done.returncode == 0, done.stderr
    runs = [r for r in scan_runs(store) if r.group == "g1"]
    assert sorted((r.strategy, r.config["lr"]) for r in runs) == [("random", 0.001), ("random", 0.003),
                                                                   ("stride", 0.001), ("stride", 0.003)]
    assert all(r.status == "completed" and r.seed == 0 and r.config["epochs"] == 2 for r in runs)
    plan = json.loads((store / ".sweeps" / "g1.json").read_text())
    assert plan["experiment"] == "mod_arithmetic" and len(plan["points"]) == 4
    # each run says which point it trains: its index in the plan, whose grid values are typed
    for r in runs:
        point = plan["points"][r.sweep_point]
        assert (point["strategy"], point["seed"], point["grid"]) == (r.strategy, r.seed, [["lr", r.config["lr"]]])
    assert "4 of 4 completed" in done.stdout
    # the comparison uses the main metric the runs declared (test_acc, higher is better) and their
    # target-reached events: the target 0.0 is reached at the first evaluation
    stride = next(r for r in runs if r.strategy == "stride" and r.config["lr"] == 0.003)
    best = max(e.metrics["test_acc"] for _, e in LogReader(stride.dir / "log").events() if isinstance(e, Epoch))
    line = next(x for x in done.stdout.splitlines() if "stride" in x and "0.003" in x and " of 1" in x)
    # one seed: a mean and no spread (there is none to show), the same answer the dashboard's sweep page gives
    assert f"│ {best:.4f} " in line and "1 of 1" in line and "│ 0.0 " in line and "±" not in line, line

    # a point whose run is gone (a job that never started) is started again; the others are skipped
    lost = next(r for r in runs if r.strategy == "random" and r.config["lr"] == 0.003)
    shutil.rmtree(lost.dir)
    again = ol("sweep", "--resume", "g1", "--store", store)
    assert again.returncode == 0, again.stderr
    after = [r for r in scan_runs(store) if r.group == "g1"]
    assert len(after) == 4 and all(r.status == "completed" for r in after)
    assert {r.run_id for r in after} - {r.run_id for r in runs} != set()  # one new run
    assert len({r.run_id for r in after} & {r.run_id for r in runs}) == 3  # three untouched

    status = ol("sweep", "--status", "g1", "--store", store)
    assert status.returncode == 0 and "4 of 4 completed" in status.stdout
    listed = ol("runs", "--sweep", "g1", "--store", store)
    assert listed.returncode == 0 and listed.stdout == status.stdout
    taken = ol("sweep", "mod_arithmetic", "--name", "g1", "--store", store, *TINY)
    assert taken.returncode == 1 and "already a sweep named 'g1'" in taken.stderr


def test_ctrl_c_interrupts_every_point_and_resume_continues_them_from_their_checkpoints(tmp_path):
    import signal
    import time

    store = tmp_path / "runs"
    long = [*TINY[:-1], "400", "--no-stop-at-target"]  # --epochs 400: still running when the signal comes
    proc = subprocess.Popen(OL + ["sweep", "mod_arithmetic", "--strategy", "stride", "--seeds", "0-2", "--name", "k1",
                                  "--jobs", "2", "--store", str(store), *long],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with ended(proc):
        deadline = time.time() + 240
        while time.time() < deadline:  # until both workers' runs are training
            started = [r for r in scan_runs(store) if r.last_epoch is not None] if store.is_dir() else []
            if len(started) == 2:
                break
            time.sleep(0.2)
        # while the sweep runs, its runs are in the catalog, in SQL and on the dashboard, as running
        _see_running_sweep(store, "k1", 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().endswith("error: interrupted"), err
    first = {r.run_id: r for r in scan_runs(store)}
    assert len(first) == 2 and all(r.status == "interrupted" for r in first.values())

    again = ol("sweep", "--resume", "k1", "--store", store)
    assert again.returncode == 0, again.stderr
    after = {r.run_id: r for r in scan_runs(store)}
    assert len(after) == 3 and all(r.status == "completed" and r.last_epoch == 399 for r in after.values())
    assert set(first) <= set(after)  # the interrupted points continued their own runs


def _see_running_sweep(store, name: str, n: int) -> None:
    from starlette.testclient import TestClient

    from ol.consumers.analytics.sql import connect
    from ol.consumers.ui.app import create_app

    catalog = [r for r in scan_runs(store) if r.group == name and r.status == "running"]
    assert len(catalog) == n
    con = connect(store)
    rows = con.query(f"""SELECT run_id, status FROM runs WHERE "group" = '{name}'""").to_pylist()
    assert sorted((r["run_id"], r["status"]) for r in rows) == sorted((r.run_id, "running") for r in catalog)
    steps = con.query("SELECT count(DISTINCT run_id) AS n FROM steps").to_pylist()
    assert steps == [{"n": n}]  # their live logs are read, not only their names
    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
        shown = {r["run_id"]: r["status"] for r in client.get("/api/runs").json()["runs"]}
    assert {r.run_id: "running" for r in catalog}.items() <= shown.items()


def test_progress_counts_the_epochs_of_running_points(tmp_path):
    """The sweep's bar and ETA move with the epochs of running points, and it names the one furthest behind."""
    from ol.producer import Run
    from ol.producer import sweep as sweeps
    from ol.schemas import RunContract

    store = tmp_path / "runs"
    plan = Plan("p", "mod_arithmetic", sweeps.expand(["stride", "random"], [0], {}), RunSettings())
    runs = []
    for strategy, epochs in (("stride", 6), ("random", 2)):
        run = Run.start(store=store, experiment="mod_arithmetic", strategy=strategy, seed=0, group="p",
                        contract=RunContract(total_epochs=8), handle_signals=False)
        for epoch in range(epochs):
            run.emit(Epoch(epoch=epoch, step=epoch))
        run.flush()
        runs.append(run)
    watch = sweeps.ProgressWatch(store, plan)
    stride, random = plan.points
    assert watch.look({stride: "running", random: "running"}) == sweeps.Progress(6 / 8 + 2 / 8, (2, 8))
    runs[1].close()
    assert watch.look({stride: "running", random: "completed"}) == sweeps.Progress(1 + 6 / 8, (6, 8))
    runs[0].close()


def test_a_worker_killed_mid_run_is_resumed_and_trains_what_it_would_have_alone(tmp_path):
    """A 2 × 2 sweep (strategies × seeds) on two workers; SIGKILL one point's `ol train` mid-run: the sweep
    reports it failed, --resume continues it from its checkpoint and completes the grid, and the points'
    losses equal the same points trained alone (determinism under parallelism)."""
    import os
    import signal

    from ol.schemas import Step
    from ol.store.read.projection import project

    store = tmp_path / "runs"
    # --epochs 30: still training when it is killed at epoch 4
    options = [*TINY[:-1], "30", "--no-stop-at-target", "--save-checkpoints", "2"]
    proc, _, err = _kill_mid_run(["--strategy", "random", "--strategy", "stride", "--seeds", "0-1", "--name", "kill",
                                  "--jobs", "2", "--store", str(store), *options], store, "kill", "random", 0,
                                 lambda train, worker: os.kill(train, signal.SIGKILL))
    assert proc.returncode == 1 and "1 of 4 run(s) failed" in err, err
    killed = next(r for r in scan_runs(store) if (r.strategy, r.seed) == ("random", 0))
    assert killed.status == "crashed"

    again = ol("sweep", "--resume", "kill", "--store", store)
    assert again.returncode == 0, again.stderr
    grid = {(r.strategy, r.seed): r for r in scan_runs(store)}
    assert len(grid) == 4 and all(r.status == "completed" and r.last_epoch == 29 for r in grid.values())
    assert grid[("random", 0)].run_id == killed.run_id

    def losses(run_dir):
        return [(e.step, e.loss) for _, e in project(list(LogReader(run_dir / "log").events())) if type(e) is Step]

    # alone, with the thread count the sweep gave them (float sums depend on how many threads split them):
    # the resumed point and one that ran beside others throughout
    for strategy, seed in (("random", 0), ("stride", 1)):
        alone = tmp_path / f"alone-{strategy}"
        done = subprocess.run(OL + ["train", "mod_arithmetic", "--strategy", strategy, "--seed", str(seed),
                                    "--store", str(alone), "--quiet", *options], capture_output=True, text=True,
                              timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr
        (reference,) = scan_runs(alone)
        assert losses(grid[(strategy, seed)].dir) == losses(reference.dir)


def test_a_retried_point_waits_for_the_run_an_earlier_attempt_is_still_writing(tmp_path, monkeypatch):
    """A scheduler that kills a task but not its `ol train` child, then retries the task: the retry waits
    for that run to end and skips it, instead of fighting it for the run's lock."""
    import threading
    import time

    from ol.producer import Run
    from ol.producer import sweep as sweeps
    from ol.store.read.listing import run_info

    store = tmp_path / "runs"
    plan = Plan("w", "mod_arithmetic", sweeps.expand(["stride"], [0], {}), RunSettings())
    run = Run.start(store=store, experiment="mod_arithmetic", strategy="stride", seed=0, group="w",
                    handle_signals=False)
    monkeypatch.setattr(sweeps, "RUNNING_POLL", 0.05)
    outcome = []
    retry = threading.Thread(target=lambda: outcome.append(
        sweeps.run_point(plan, plan.points[0], store, 1, run_info(run.dir))))
    retry.start()
    time.sleep(0.5)
    assert retry.is_alive() and not outcome  # waiting, not starting a second writer
    run.close()
    retry.join(30)
    assert outcome == [("skipped", 0)]


def test_a_ray_task_killed_mid_run_is_retried_and_resumes_its_run(tmp_path):
    """A 2 × 2 sweep on a real local Ray (2 CPUs). One task's worker process and its `ol train` are
    SIGKILLed mid-run, as a lost node would lose them: Ray retries the task, and the retry resumes the run
    from its checkpoint instead of starting it over; the grid completes with one run per point."""
    import os
    import signal

    from ol.schemas import RunResumed

    needs("ray", "ray")
    store = tmp_path / "runs"
    options = [*TINY[:-1], "30", "--no-stop-at-target", "--save-checkpoints", "2"]  # --epochs 30

    def lose_the_node(train: int, worker: int) -> None:
        os.kill(worker, signal.SIGKILL)  # the task's process first: its child's exit must not answer for it
        os.kill(train, signal.SIGKILL)

    proc, out, err = _kill_mid_run(["--strategy", "stride", "--strategy", "random", "--seeds", "0-1", "--executor",
                                    "ray", "--name", "rk", "--store", str(store), *options], store, "rk", "stride", 0,
                                   lose_the_node)
    assert proc.returncode == 0, err
    runs = [r for r in scan_runs(store) if r.group == "rk"]
    assert sorted((r.strategy, r.seed) for r in runs) == [("random", 0), ("random", 1), ("stride", 0), ("stride", 1)]
    assert all(r.status == "completed" and r.last_epoch == 29 for r in runs)
    killed = next(r for r in runs if (r.strategy, r.seed) == ("stride", 0))
    events = [e for _, e in LogReader(killed.dir / "log").events()]
    assert any(isinstance(e, RunResumed) for e in events), "the retried task started over instead of resuming"
    assert "4 of 4 completed" in out


def _kill_mid_run(sweep_args: list[str], store, name: str, strategy: str, seed: int, kill) -> tuple:
    """Start `ol sweep mod_arithmetic SWEEP_ARGS`, call ``kill(train_pid, its_parent_pid)`` once the point's run
    is past epoch 4, and wait for the sweep: (process, stdout, stderr)."""
    import time

    proc = subprocess.Popen(OL + ["sweep", "mod_arithmetic", *sweep_args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        victim = None
        deadline = time.time() + 300
        while victim is None and time.time() < deadline:
            runs = [r for r in scan_runs(store) if (r.strategy, r.seed) == (strategy, seed)] if store.is_dir() else []
            if runs and (runs[0].last_epoch or 0) >= 4 and runs[0].status == "running":
                victim = _train_process_anywhere(store, name, strategy, seed)
            time.sleep(0.05)
        assert victim is not None, f"the {strategy} seed-{seed} point never got to epoch 4"
        kill(*victim)
        out, err = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, out, err


def _train_process_anywhere(store, name: str, strategy: str, seed: int) -> tuple[int, int] | None:
    """(pid, parent pid) of the worker training a sweep's point, wherever it was started (a Ray worker)."""
    from pathlib import Path

    from ol.store.read.sweep_plans import load_plan

    plan = load_plan(store, name)
    index = next(i for i, p in enumerate(plan.points) if (p.strategy, p.seed) == (strategy, seed))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"ol.producer.worker" not in cmd:
            continue
        at = cmd.index(b"ol.producer.worker")  # … -m ol.producer.worker STORE NAME INDEX [--resume RUN]
        if cmd[at + 2:at + 4] == [name.encode(), str(index).encode()] and b"--resume" not in cmd:
            return int(entry.name), parent
    return None


def test_a_tampered_plan_is_refused_and_writes_nothing(tmp_path):
    from ol.producer import sweep as sweeps

    store = tmp_path / "runs"
    Plan("t1", "mod_arithmetic", sweeps.expand(["stride"], [0], {}), TINY_SETTINGS).save(store)
    path = store / ".sweeps" / "t1.json"
    plan = json.loads(path.read_text())
    for tamper, needle in ((dict(name="../../elsewhere/x"), "names itself"),
                           (dict(settings={"store": str(tmp_path / "elsewhere")}), "unknown field `store`"),
                           (dict(settings={"reference": str(tmp_path / "elsewhere")}), "not a path"),
                           (dict(settings={"order_from": "../../x"}), "not a path"),
                           (dict(points=[{"strategy": "../x", "seed": 0, "grid": []}]), "strategy '../x'"),
                           (dict(points=[{"strategy": "stride", "seed": 0, "grid": [["store", "/x"]]}]), "identity"),
                           (dict(points="nonsense"), "not a sweep plan")):
        path.write_text(json.dumps({**plan, **tamper}))
        done = ol("sweep", "--resume", "t1", "--store", store)
        assert done.returncode == 1 and needle in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "elsewhere").exists() and not list(store.glob("mod_arithmetic/*"))


def test_two_resumes_of_one_sweep_at_once_train_each_point_once(tmp_path):
    from ol.producer import sweep as sweeps

    store = tmp_path / "runs"
    Plan("twice", "mod_arithmetic", sweeps.expand(["stride", "random"], [0], {}), TINY_SETTINGS).save(store)
    procs = [subprocess.Popen(OL + ["sweep", "--resume", "twice", "--jobs", "2", "--store", str(store)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = wait_all(procs, timeout=600)
    assert codes == [0, 0], [p.stderr.read() for p in procs]
    runs = [r for r in scan_runs(store) if r.group == "twice"]
    assert sorted(r.strategy for r in runs) == ["random", "stride"] and {r.status for r in runs} == {"completed"}


def test_a_plan_through_a_link_or_too_large_is_not_read(tmp_path):
    from ol.errors import OlError
    from ol.producer.sweep import expand
    from ol.store.read.sweep_plans import MAX_PLAN_BYTES, SWEEPS_DIR, list_plans, load_plan

    store = tmp_path / "store"
    Plan("real", "mod_arithmetic", expand(["stride"], [0], {}), RunSettings()).save(store)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text((store / SWEEPS_DIR / "real.json").read_text().replace('"real"', '"linked"'))
    (store / SWEEPS_DIR / "linked.json").symlink_to(elsewhere)
    assert list_plans(store) == ["real"] and load_plan(store, "real").name == "real"
    with pytest.raises(OlError):
        load_plan(store, "linked")
    (store / SWEEPS_DIR / "big.json").write_bytes(b" " * (MAX_PLAN_BYTES + 1))
    with pytest.raises(OlError, match="larger than"):
        load_plan(store, "big")
    other = tmp_path / "other"
    (other / SWEEPS_DIR).mkdir(parents=True)
    (other / SWEEPS_DIR / "real.json").write_text((store / SWEEPS_DIR / "real.json").read_text())
    linked_store = tmp_path / "linked-store"
    linked_store.mkdir()
    (linked_store / SWEEPS_DIR).symlink_to(other / SWEEPS_DIR)  # the whole folder a link: nothing read through it
    assert list_plans(linked_store) == []
    with pytest.raises(OlError):
        load_plan(linked_store, "real")


def test_a_plan_of_an_older_ol_is_shown_but_not_run_and_a_worker_refuses_a_missing_point(tmp_path):
    """A version-1 plan kept `ol train` flags as text: its grid and status are shown (its runs matched by what
    they recorded), running it is refused in one line; the worker refuses a point the plan does not have."""
    from ol.producer.run import Run

    store = tmp_path / "runs"
    (store / ".sweeps").mkdir(parents=True)
    old = {"name": "v1", "experiment": "mod_arithmetic", "options": ["--epochs", "2"],
           "points": [{"strategy": "stride", "seed": 0, "grid": [["lr", "1e-3"]]}]}
    (store / ".sweeps" / "v1.json").write_text(json.dumps(old))
    with Run.start(store=store, experiment="mod_arithmetic", strategy="stride", seed=0, group="v1",
                   config={"lr": 0.001}, handle_signals=False):
        pass
    status = ol("sweep", "--status", "v1", "--store", store)
    assert status.returncode == 0 and "1 of 1 completed" in status.stdout, status.stderr
    again = ol("sweep", "--resume", "v1", "--store", store)
    assert again.returncode == 1 and "planned by an older ol" in again.stderr and again.stderr.count("\n") == 1
    Plan("v2", "mod_arithmetic", [], TINY_SETTINGS).save(store)
    worker = subprocess.run([sys.executable, "-m", "ol.producer.worker", str(store), "v2", "3"], capture_output=True,
                            text=True, timeout=120)
    assert worker.returncode == 1 and worker.stderr == "error: sweep: v2 has no point 3 (it has 0)\n"


def test_a_sweep_points_run_says_where_its_output_went(tmp_path):
    store = tmp_path / "runs"
    done = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--name", "o1", "--store", store, *TINY)
    assert done.returncode == 0, done.stderr
    (run,) = [r for r in scan_runs(store) if r.group == "o1"]
    assert run.output == str((store / ".sweeps" / "o1" / "stride-seed0.log").resolve())
    assert run.run_id in Path(run.output).read_text()  # the point's output names the run it trained
