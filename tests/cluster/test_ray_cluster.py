"""`ol sweep --executor ray --ray-address` against a Ray cluster started as an operator starts one (`ray start
--head`, tests/cluster/ray_head.py): each point a task on the cluster, its run in the store; a second submission
skips what completed; a client the cluster does not let in is told in one line what to check."""

from __future__ import annotations

import subprocess
import sys

from ol.store.read.listing import scan_runs
from tests.cluster.ray_head import ray_head

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
TINY = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--batch-size", "32", "--eval-every", "1", "--epochs", "3"]


def test_a_sweep_runs_on_a_ray_cluster_it_is_pointed_at(tmp_path):
    store = tmp_path / "runs"
    with ray_head() as (address, env):
        grid = ["mod_arithmetic", "--strategy", "stride", "--strategy", "random", *TINY]
        done = subprocess.run(OL + ["sweep", *grid, "--executor", "ray", "--ray-address", address, "--name", "rc",
                                    "--store", str(store)], capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, done.stderr
        assert "2 of 2 completed" in done.stdout
        runs = scan_runs(store)
        assert sorted((r.strategy, r.status) for r in runs) == [("random", "completed"), ("stride", "completed")]
        again = subprocess.run(OL + ["sweep", "--resume", "rc", "--executor", "ray", "--ray-address", address,
                                     "--store", str(store)], capture_output=True, text=True, timeout=600, env=env)
        assert again.returncode == 0, again.stderr
        assert sorted(r.run_id for r in scan_runs(store)) == sorted(r.run_id for r in runs)  # nothing ran twice
        # a client that does not send the cluster's token: refused by Ray, said in one line, no plan written
        tokenless = {k: v for k, v in env.items() if k != "RAY_AUTH_MODE"}
        refused = subprocess.run(OL + ["sweep", *grid, "--executor", "ray", "--ray-address", address, "--name", "rt",
                                       "--store", str(store)], capture_output=True, text=True, timeout=600,
                                 env=tokenless)
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: sweep: cannot reach the Ray cluster at {address} — check --ray-address"), last
    assert "RAY_AUTH_MODE=token" in last and "Traceback" not in refused.stderr
    assert not (store / ".sweeps" / "rt.json").exists() and len(scan_runs(store)) == 2
