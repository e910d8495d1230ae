"""Commands other than `ol train` do their work without importing torch or matplotlib (a behaviour of the
import graph, checked in a fresh interpreter per command; how long start-up takes is bench/ territory)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ol.producer import Run

CHILD = """
import atexit, json, sys
atexit.register(lambda: print("LOADED " + json.dumps([m for m in ("torch", "matplotlib") if m in sys.modules])))
sys.argv = ["ol", *sys.argv[1:]]
from ol.cli import main
main()
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("imports") / "runs"
    with Run.start(store=root, experiment="demo", strategy="stride", seed=1, run_id="r1",
                   handle_signals=False) as run:
        for i in range(20):
            run.log({"loss": 1.0 / (i + 1)}, step=i, epoch=i // 10)
    return root


@pytest.mark.parametrize("args", [
    ["--help"], ["runs"], ["events", "r1"], ["verify", "r1"], ["query", "SELECT count(*) FROM steps"],
    ["export", "r1", "-m", "loss"], ["index"], ["ui", "--help"], ["replay", "--help"], ["plot", "--help"],
    ["tail", "r1"], ["sweep", "--help"], ["analyze", "order", "--help"],
])
def test_command_does_not_import_torch_or_matplotlib(store, args):
    done = subprocess.run([sys.executable, "-c", CHILD, *args, *(["--store", str(store)] if args[-1] != "--help"
                                                               else [])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.rsplit("LOADED ", 1)[1])
    assert loaded == [], f"`ol {' '.join(args)}` imported {loaded}"


def test_plotting_still_loads_matplotlib(store, tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, "plot", "curves", "r1", "-m", "loss", "--store",
                           str(store), "--out", str(tmp_path / "c.png")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "matplotlib" in json.loads(done.stdout.rsplit("LOADED ", 1)[1])
    assert (tmp_path / "c.png").stat().st_size > 1000
