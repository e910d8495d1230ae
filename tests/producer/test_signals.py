"""SIGTERM and Ctrl+C at random moments, with the recorder under backpressure: never a hang."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ol.producer import Run, Terminated
from ol.producer.signals import GUARD
from ol.schemas import RunEnded
from ol.store.log.reader import read_events
from ol.store.log.verify import verify_run

CHILD = str(Path(__file__).parent / "pressure_child.py")


def test_signals_during_backpressure_always_end_the_run_cleanly(tmp_path):
    rng = random.Random(7)
    for batch in range(2):
        procs = []
        try:
            for i in range(5):  # all started before any is waited for: each spins once ready, slowing others' start
                run_id = f"s{batch}{i}"
                proc = subprocess.Popen([sys.executable, CHILD, str(tmp_path), run_id], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
                procs.append((run_id, proc, signal.SIGTERM if i % 2 else signal.SIGINT))
            for _, proc, _ in procs:
                assert proc.stdout.readline().strip() == "ready"
            for _, proc, signum in procs:
                time.sleep(rng.uniform(0.01, 0.3))
                proc.send_signal(signum)
            for run_id, proc, signum in procs:
                try:
                    code = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"{run_id} hung after {signal.Signals(signum).name}") from None
                # SIGTERM exits 143; an uncaught Ctrl+C makes Python end by SIGINT itself, as shells expect
                assert code == (143 if signum == signal.SIGTERM else -signal.SIGINT), (run_id, code)
                run_dir = tmp_path / "sig" / run_id
                assert verify_run(run_dir).ok
                end = read_events(run_dir / "log")[-1][1]
                assert isinstance(end, RunEnded) and end.status == "interrupted"
        finally:
            for _, proc, _ in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


class _SignalInsideSet(threading.Event):
    """An Event whose set() is interrupted by a real SIGTERM while it holds its internal lock."""

    def __init__(self):
        super().__init__()
        self.finished_inside = None

    def set(self):
        with self._cond:
            first = self.finished_inside is None
            if first:
                self.finished_inside = False
                os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at the next bytecode, in here
            for _ in range(1000):
                pass
            if first:
                self.finished_inside = True  # reached only if the handler did not raise inside the lock
            self._flag = True
            self._cond.notify_all()


def test_a_signal_inside_ol_code_is_raised_only_after_it(tmp_path):
    run = Run.start(store=tmp_path, experiment="sig", run_id="inside")
    assert signal.getsignal(signal.SIGTERM) == GUARD.handler
    wake = _SignalInsideSet()
    run._writer._wake = wake
    with pytest.raises(Terminated):
        run._writer.pressure()
    assert wake.finished_inside  # the exception waited until the critical section ended
    assert not wake._cond._lock.locked()
    run.close("interrupted")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored when the run closes
    assert read_events(run.dir / "log")[-1][1].status == "interrupted"
