"""A real Hydra multirun (2 × 2 overrides) with the ol callback in the app's config: four runs with the
composed configs, their override strings, one group, and what the unchanged task function recorded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("hydra")

from ol.consumers.analytics.sql import connect  # noqa: E402
from ol.store.read.snapshot import open_snapshot  # noqa: E402

CONFIG = """
lr: 0.1
depth: 1
model:
  width: 8
hydra:
  callbacks:
    ol:
      _target_: ol.integrations.hydra.OlCallback
      store: ${oc.env:STORE}
"""
APP = """
import hydra
from ol.integrations.hydra import run

@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    if cfg.depth == 3:
        raise ValueError("too deep")
    run().log({"loss": cfg.lr * cfg.depth}, step=0)

main()
"""


def test_a_multirun_makes_one_run_per_job_in_one_group(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(CONFIG)
    (tmp_path / "app.py").write_text(APP)
    store = tmp_path / "runs"
    env = dict(os.environ, STORE=str(store))
    done = subprocess.run([sys.executable, "app.py", "-m", "lr=0.1,0.2", "depth=1,2",
                           f"hydra.sweep.dir={tmp_path / 'multirun' / 'sweep-1'}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = open_snapshot(store).runs
    assert len(runs) == 4 and {r.experiment for r in runs} == {"app"} and {r.status for r in runs} == {"completed"}
    assert {r.group for r in runs} == {"multirun-sweep-1"}
    by_name = {r.name: r for r in runs}
    assert set(by_name) == {f"lr={lr} depth={d}" for lr in ("0.1", "0.2") for d in ("1", "2")}
    one = by_name["lr=0.2 depth=2"]
    assert one.config_now == {"lr": 0.2, "depth": 2, "model/width": 8, "hydra/overrides": ["lr=0.2", "depth=2"]}
    losses = {r["run_id"]: r["value"] for r in connect(store).query("SELECT run_id, value FROM metrics").to_pylist()}
    assert {round(losses[r.run_id], 9) for r in runs} == {0.1, 0.2, 0.4}

    failed = subprocess.run([sys.executable, "app.py", "depth=3"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert failed.returncode != 0
    (deep,) = [r for r in open_snapshot(store).runs if r.name == "depth=3"]
    assert deep.status == "failed" and "too deep" in deep.error and deep.group == ""
