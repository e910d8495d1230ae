"""`ol new NAME`: the package it writes installs, is found as an experiment, trains to its target, and its own
test passes — end to end in a temporary directory, with real pip and real `ol` processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ol.cli.app import app


def _ol():
    exe = shutil.which("ol")
    return [exe] if exe else [sys.executable, "-m", "ol.cli"]


def _run(args, env, cwd, timeout=300):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.timeout(900)
def test_new_experiment_installs_trains_and_is_queried(tmp_path):
    _run([*_ol(), "new", "ordered-toy", "--description", 'Does "order" matter?'], None, tmp_path)
    package = tmp_path / "ordered-toy"
    assert (package / "ordered_toy" / "experiment.py").is_file() and (package / "tests").is_dir()
    # installed as a plugin package (its ol.experiments entry point), next to this environment's ol
    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
          str(target), str(package)], None, tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = _run([*_ol(), "experiments"], env, tmp_path)
    assert "ordered-toy" in listed and "Does 'order' matter?" in listed
    _run([*_ol(), "train", "ordered-toy", "--strategy", "easy-to-hard", "--quiet"], env, tmp_path)
    rows = json.loads(_run([*_ol(), "query", "SELECT experiment, strategy, status, main_metric, direction, "
                            "target FROM runs", "--format", "json"], env, tmp_path))
    assert rows == [{"experiment": "ordered-toy", "strategy": "easy-to-hard", "status": "completed",
                     "main_metric": "val_acc", "direction": "higher", "target": 0.95}]
    reached = json.loads(_run([*_ol(), "query", "SELECT count(*) AS n FROM events WHERE kind = 'target_reached'",
                               "--format", "json"], env, tmp_path))
    assert reached == [{"n": 1}]  # it trains and reaches its target out of the box
    # the package's own test passes as written
    _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")], env, package,
         timeout=600)


def test_new_refuses_bad_names_taken_names_and_full_directories(tmp_path, capsys):
    from typer.testing import CliRunner

    runner = CliRunner()
    for name, message in (("My Task", "is not an experiment name"), ("class", "would shadow a Python module"),
                          ("mod_arithmetic", "is already installed")):
        result = runner.invoke(app, ["new", name, "--dir", str(tmp_path / "x")])
        assert result.exit_code == 1 and message in result.output, result.output
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["new", "fresh", "--dir", str(occupied)])
    assert result.exit_code == 1 and "not empty" in result.output
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"] and (occupied / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "x").exists()
