"""Ctrl+C, as a real SIGINT to a real `ol` process: one line and exit 130 at any moment, and a running
query ends at once rather than when DuckDB next looks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from ol.producer import Run

SLOW_QUERY = "SELECT sum(hash(a.range * 31 + b.range)) FROM range(200000) a, range(200000) b"  # ≈ 10 min
CLI = [sys.executable, "-c", "from ol.cli import main; main()"]


def _interrupt(args: list[str], after: float) -> tuple[subprocess.CompletedProcess, float]:
    proc = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(after)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _bare_startup() -> float:
    """The slowest of three `python -c pass` here: how long the interpreter takes before any code of ours."""
    times = []
    for _ in range(3):
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
        times.append(time.monotonic() - t)
    return max(times)


def test_ctrl_c_during_a_query_ends_it_with_one_line(tmp_path):
    with Run.start(store=tmp_path, experiment="demo", run_id="r1") as run:
        run.log({"loss": 1.0}, step=0)
    done, _ = _interrupt(["query", SLOW_QUERY, "--store", str(tmp_path), "-f", "csv"], after=3.0)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "error: interrupted" and "Traceback" not in done.stderr


def test_ctrl_c_while_starting_up_never_prints_a_traceback(tmp_path):
    # from the moment ol's code runs: a signal that lands while the interpreter itself is still starting
    # (importing its site module, before any line of ol exists) is CPython's to report, and on a slow or
    # loaded machine 50 ms can still be that moment — so each delay is counted from a bare start-up
    floor = _bare_startup()
    for after in (0.05, 0.15, 0.3, 0.6):
        done, _ = _interrupt(["runs", "--store", str(tmp_path)], after=floor + after)
        assert "Traceback" not in done.stderr, (after, done.stderr)
        if done.returncode == 0:  # `ol runs` starts fast: it may have answered before the signal came
            # piped, an empty listing is its TSV header alone (what a script reading it expects)
            assert done.stdout.startswith("run_id\texperiment\t") and done.stderr == "", (after, done.stdout,
                                                                                          done.stderr)
        else:
            assert done.returncode in (130, -signal.SIGINT, 1), (after, done.returncode, done.stderr)
