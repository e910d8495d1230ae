"""Kill soak: SIGKILL writers at random moments, many times, on a quiet and then a loaded machine.

    python bench/kill_soak.py [--kills 1000] [--train-share 0.1] [--flush 0.2] [--seed 0] [--keep DIR]

Writers are Run-API processes logging a step every ~0.5 ms (each step carries its wall time) and,
for ``--train-share`` of the kills, `ol train` on a tiny mod_arithmetic with a checkpoint every
epoch. The second half of the kills runs beside a CPU hog (one busy process per core). After each
kill: the log must read with nothing lost (a torn last frame is the one thing a kill may leave);
data lost = kill time − wall time of the last step in the log; every checkpoint the log records
must match its hash; the run must resume (Run.resume, or `ol train --resume` to completion). At
the end `ol query` must answer over the whole store. Prints a table; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ol.producer import Run
from ol.schemas import Checkpoint, Step
from ol.store.log.reader import LogReader
from ol.store.log.verify import checkpoint_problem, verify_run
from ol.store.read.listing import run_info

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

WRITER = """
import sys, time
from ol.producer import Run
run = Run.start(store=sys.argv[1], experiment="api", run_id=sys.argv[2], flush_interval=float(sys.argv[3]))
print("ready", flush=True)
step = 0
while True:
    run.log({"loss": 1.0 / (step + 1), "wall": time.time()}, step=step)
    step += 1
    time.sleep(0.0005)
"""
TRAIN = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
         "--batch-size", "32", "--eval-every", "2", "--epochs", "40", "--no-stop-at-target", "--save-checkpoints",
         "1", "--quiet"]
OL = [sys.executable, "-c", "from ol.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--train-share", type=float, default=0.1)
    ap.add_argument("--flush", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    store = args.keep or Path(tempfile.mkdtemp(prefix="ol-kill-soak-"))
    plan = ["train" if rng.random() < args.train_share else "api" for _ in range(args.kills)]
    results = {"quiet": _Tally(), "loaded": _Tally()}
    hog: list[subprocess.Popen] = []
    started = time.time()
    try:
        for i, kind in enumerate(plan):
            phase = "quiet" if i < args.kills // 2 else "loaded"
            if phase == "loaded" and not hog:
                hog = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
            tally = results[phase]
            if kind == "api":
                _kill_api_writer(store, f"k{i:04d}", args.flush, rng, tally)
            else:
                _kill_training(store, rng, tally)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{args.kills} kills, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        for p in hog:
            p.kill()
            p.wait()
    query = subprocess.run(OL + ["query", "SELECT count(*) AS runs, sum(last_step) AS steps FROM runs",
                                 "--store", str(store), "-f", "csv"], capture_output=True, text=True, timeout=3600)
    _report(results, args, query, time.time() - started)
    if args.keep is None:
        shutil.rmtree(store, ignore_errors=True)


class _Tally:
    def __init__(self):
        self.kills = {"api": 0, "train": 0}
        self.unreadable: list[str] = []
        self.lost_s: list[float] = []
        self.checkpoints = 0
        self.bad_checkpoints: list[str] = []
        self.resumed = 0
        self.finished_first = 0
        self.resume_failed: list[str] = []


def _kill_api_writer(store: Path, run_id: str, flush: float, rng: random.Random, tally: _Tally) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store), run_id, str(flush)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        proc.stdout.readline()
        time.sleep(rng.uniform(0.05, 1.0))
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    tally.kills["api"] += 1
    run_dir = store / "api" / run_id
    if not _readable(run_dir, tally):
        return
    walls = [e.extra["wall"] for _, e in LogReader(run_dir / "log").events() if type(e) is Step]
    tally.lost_s.append(killed_at - (max(walls) if walls else killed_at))
    try:
        last = run_info(run_dir).last_step
        Run.resume(run_dir, step=last if last is not None else -1, handle_signals=False).close()
        if verify_run(run_dir).ok:
            tally.resumed += 1
        else:
            tally.resume_failed.append(f"{run_id}: not clean after resume")
    except Exception as e:  # a soak reports every failure instead of stopping at the first
        tally.resume_failed.append(f"{run_id}: {e}")


def _kill_training(store: Path, rng: random.Random, tally: _Tally) -> None:
    before = set((store / "mod_arithmetic").iterdir()) if (store / "mod_arithmetic").exists() else set()
    proc = subprocess.Popen(OL + ["train", "mod_arithmetic", *TRAIN, "--store", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Start-up (importing torch) takes 2 s on a quiet machine and far longer beside a CPU hog, so a
        # fixed window would kill most loaded runs before they exist: wait for the run's log, then
        # kill somewhere in its training (≈ 0.1 s an epoch quiet, 40 epochs).
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not _new_log(store, before):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 3.0))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    tally.kills["train"] += 1
    new = sorted(set((store / "mod_arithmetic").iterdir()) - before) if (store / "mod_arithmetic").exists() else []
    if not new:
        return  # killed before the run directory existed: nothing to check
    run_dir = new[0]
    if not _readable(run_dir, tally):
        return
    ckpts = [e for _, e in LogReader(run_dir / "log").events() if type(e) is Checkpoint]
    tally.checkpoints += len(ckpts)
    tally.bad_checkpoints += [f"{run_dir.name}/{c.path}: {why}" for c in ckpts
                              if (why := checkpoint_problem(run_dir, c))]
    if not ckpts:
        return
    if run_info(run_dir).status == "completed":
        tally.finished_first += 1  # the kill came after the run ended: nothing to resume
        return
    resumed = subprocess.run(OL + ["train", "mod_arithmetic", "--resume", str(run_dir), "--store", str(store),
                                   "--quiet"], capture_output=True, text=True, timeout=600)
    if resumed.returncode == 0 and run_info(run_dir).status == "completed" and verify_run(run_dir).ok:
        tally.resumed += 1
    else:
        tally.resume_failed.append(f"{run_dir.name}: exit {resumed.returncode} {resumed.stderr.strip()[-200:]}")


def _new_log(store: Path, before: set) -> bool:
    experiment = store / "mod_arithmetic"
    return experiment.exists() and any((d / "log").exists() for d in set(experiment.iterdir()) - before)


def _readable(run_dir: Path, tally: _Tally) -> bool:
    report = verify_run(run_dir)
    if report.lost or report.damaged or report.invalid or report.problems:
        tally.unreadable.append(f"{run_dir.name}: {report.lost[:1]} {report.damaged[:1]} {report.problems[:1]}")
        return False
    return True


def _report(results: dict, args, query, seconds: float) -> None:
    print(f"Machine: {machine()}; {args.kills} SIGKILLs in {seconds / 60:.0f} min, flush interval {args.flush} s; "
          f"second half beside {os.cpu_count()} busy processes\n")
    print("| measure | quiet machine | loaded machine |")
    print("| --- | --- | --- |")
    rows = [
        ("kills: Run API / ol train", lambda t: f"{t.kills['api']} / {t.kills['train']}"),
        ("logs readable (nothing lost; a torn last frame allowed)",
         lambda t: f"{sum(t.kills.values()) - len(t.unreadable)} of {sum(t.kills.values())}"),
        ("data lost at the kill: median", lambda t: _ms(statistics.median(t.lost_s)) if t.lost_s else "-"),
        ("data lost: p99", lambda t: _ms(_quantile(t.lost_s, 0.99)) if t.lost_s else "-"),
        ("data lost: max", lambda t: _ms(max(t.lost_s)) if t.lost_s else "-"),
        (f"kills losing more than the flush interval ({args.flush} s)",
         lambda t: f"{sum(x > args.flush for x in t.lost_s)} of {len(t.lost_s)}"),
        ("checkpoints recorded / matching their hash",
         lambda t: f"{t.checkpoints} / {t.checkpoints - len(t.bad_checkpoints)}"),
        ("ol train runs that finished before their kill (not resumed)", lambda t: str(t.finished_first)),
        ("resumed cleanly (Run.resume, or ol train --resume to completion)",
         lambda t: f"{t.resumed} of {t.resumed + len(t.resume_failed)}"),
    ]
    for name, cell in rows:
        print(f"| {name} | {cell(results['quiet'])} | {cell(results['loaded'])} |")
    answer = query.stdout.strip().splitlines()[-1] if query.returncode == 0 else query.stderr.strip()
    print(f"\n`ol query` over the store afterwards: exit {query.returncode}, runs,steps = {answer}")
    for phase, t in results.items():
        for what, items in (("unreadable", t.unreadable), ("bad checkpoint", t.bad_checkpoints),
                            ("resume failed", t.resume_failed)):
            for item in items[:5]:
                print(f"- {phase}: {what}: {item}")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


if __name__ == "__main__":
    main()
