"""`ol train` as a real process: SIGTERM mid-run, then --resume, equals an uninterrupted run."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

from ol.schemas import Step
from ol.store.log.reader import LogReader
from ol.store.read.listing import run_info, scan_runs
from ol.store.read.projection import project
from tests.processes import wait_for_progress

ARGS = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--batch-size", "16", "--epochs", "25", "--eval-every", "5", "--no-stop-at-target", "--dropout", "0.1",
        "--seed", "5", "--save-checkpoints", "10", "--quiet"]


def _ol():
    exe = shutil.which("ol")
    return [exe] if exe else [sys.executable, "-m", "ol.cli"]


def _losses(run_dir):
    return [(e.step, e.loss) for _, e in project(LogReader(run_dir / "log").events()) if isinstance(e, Step)]


def test_sigterm_checkpoints_and_resume_continues_exactly(tmp_path):
    ref = subprocess.run([*_ol(), "train", "mod_arithmetic", *ARGS, "--store", str(tmp_path / "ref")],
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    store = tmp_path / "cut"
    proc = subprocess.Popen([*_ol(), "train", "mod_arithmetic", *ARGS, "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_progress(store, lambda run: (run.last_step or 0) >= 100, 120)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    (info,) = scan_runs(store)
    assert info.status == "interrupted" and "Traceback" not in err
    assert any("emergency" in p.name for p in (info.dir / "checkpoints").iterdir())
    resumed = subprocess.run([*_ol(), "train", "mod_arithmetic", "--resume", "--store", str(store), "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert run_info(info.dir).status == "completed"
    (ref_info,) = scan_runs(tmp_path / "ref")
    assert _losses(info.dir) == _losses(ref_info.dir) and len(_losses(info.dir)) == 25 * 17
