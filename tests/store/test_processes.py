"""Whole-process behaviour with real subprocesses: kill -9, two writers, fifty writers, a follower."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ol.schemas import Step
from ol.store.log.follow import Follower
from ol.store.log.reader import LogReader
from ol.store.log.verify import repair_run, verify_run
from ol.store.read.listing import run_info, scan_runs

CHILD = str(Path(__file__).parent / "writer_child.py")
FLUSH = 0.1


def _spawn(store, run_id, n=-1, flush=FLUSH, pause=0.0):
    proc = subprocess.Popen([sys.executable, CHILD, str(store), run_id, str(n), str(flush), str(pause)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def test_kill_9_at_twenty_moments_loses_at_most_the_last_flush_interval(tmp_path):
    rng = random.Random(1234)
    kill_points = 20
    slack = 0.4  # scheduling on a loaded 2-core machine; the bound itself is FLUSH
    for batch in range(0, kill_points, 5):
        procs = [(f"k{batch + i}", _spawn(tmp_path, f"k{batch + i}", pause=0.0005)) for i in range(5)]
        killed_at = {}
        for run_id, proc in procs:
            time.sleep(rng.uniform(0.05, 0.6))
            killed_at[run_id] = time.time()
            proc.send_signal(signal.SIGKILL)
        for _, proc in procs:
            proc.wait()
        for run_id, when in killed_at.items():
            run_dir = tmp_path / "proc" / run_id
            report = verify_run(run_dir)
            assert report.lost == [] and report.invalid == [] and report.problems == [], run_id
            if report.torn_tail is not None:  # a frame cut mid-write: the tail is cut, the rest is intact
                repair_run(run_dir)
                assert verify_run(run_dir).ok
            steps = [e for _, e in LogReader(run_dir / "log").events() if isinstance(e, Step)]
            assert steps, f"{run_id}: nothing recorded"
            assert [e.step for e in steps] == list(range(len(steps))), f"{run_id}: gap in steps"
            assert steps[-1].extra["wall"] >= when - FLUSH - slack, f"{run_id}: lost more than a flush interval"
            assert run_info(run_dir).status == "crashed"


def test_a_second_writer_gets_a_clear_error_naming_the_holder(tmp_path):
    first = _spawn(tmp_path, "shared")
    try:
        code = ("from ol.producer import Run\n"
                "from ol.errors import OlError\n"
                "try:\n"
                f"    Run.resume({str(tmp_path / 'proc' / 'shared')!r}, step=0)\n"
                "except OlError as e:\n"
                "    print(e); raise SystemExit(3)\n")
        second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert second.returncode == 3, second.stderr
        assert f"pid {first.pid}" in second.stdout and "one writer per run" in second.stdout
        assert run_info(tmp_path / "proc" / "shared").status == "running"
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert run_info(tmp_path / "proc" / "shared").status == "interrupted"


def test_fifty_processes_write_separate_runs_in_one_store(tmp_path):
    procs = [subprocess.Popen([sys.executable, CHILD, str(tmp_path), f"w{i:02d}", "2000", str(FLUSH)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(50)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    runs = scan_runs(tmp_path)
    assert len(runs) == 50
    for info in runs:
        assert (info.status, info.last_step, info.problem) == ("completed", 1999, ""), info.run_id
        report = verify_run(info.dir)
        assert report.ok and report.events == 2002


def test_a_follower_sees_every_event_in_order_within_the_flush_interval(tmp_path):
    writer = _spawn(tmp_path, "live", n=600, pause=0.005)
    run_dir = tmp_path / "proc" / "live"
    seqs, latencies = [], []
    deadline = time.time() + 120
    for seq, event in Follower(run_dir).follow(poll_seconds=0.01):  # ends at the run's end, as the store decides
        seqs.append(seq)
        if isinstance(event, Step):
            latencies.append(time.time() - event.extra["wall"])
        assert time.time() < deadline
    assert writer.wait(timeout=30) == 0
    assert seqs == list(range(len(seqs))) and len(seqs) == 602  # no gaps, no duplicates
    latencies.sort()
    assert latencies[-1] <= FLUSH + 0.2, f"worst follow latency {latencies[-1]:.3f}s"
