"""The index's anchor: the same runs in MLflow's tracking store on SQLite and in an ol store, listed and
their metric histories read, each in a fresh process, side by side.

    python bench/mlflow_anchor.py [--runs 200] [--steps 1000]

The ol runs are index_bench.py's (4 scalars a step, 10 epochs); the MLflow runs get the same values,
steps and parameters through MlflowClient.log_batch. Times are best of 3 whole processes (start-up
included: MLflow's client takes longer to import than ol). Prints a table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from index_bench import build_runs  # noqa: E402
from log_bench import machine  # noqa: E402

OL = str(Path(sys.executable).with_name("ol"))
METRICS = ("loss", "lr", "acc", "grad_norm")
LIST_MLFLOW = """
import sys, mlflow
client = mlflow.MlflowClient(sys.argv[1])
runs = client.search_runs([client.get_experiment_by_name("bench").experiment_id], max_results=50000)
assert len(runs) == int(sys.argv[2]), len(runs)
"""
HISTORY_MLFLOW = """
import sys, mlflow
client = mlflow.MlflowClient(sys.argv[1])
runs = client.search_runs([client.get_experiment_by_name("bench").experiment_id], max_results=50000)
points = sum(len(client.get_metric_history(r.info.run_id, "loss")) for r in runs)
assert points == int(sys.argv[2]), points
"""


def fill_mlflow(uri: str, store: Path) -> None:
    """The ol store's runs, step for step, as MLflow runs (parameters from their config)."""
    import mlflow
    from mlflow.entities import Metric, Param

    from ol.consumers.analytics.sql import connect

    con = connect(store)
    runs = con.query("SELECT run_id, config FROM runs ORDER BY run_id").to_pylist()
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("bench")
    for run in runs:
        made = client.create_run(experiment, run_name=run["run_id"], start_time=1_700_000_000_000)
        config = __import__("json").loads(run["config"])
        rows = con.query(f"SELECT step, {', '.join(METRICS)} FROM steps WHERE run_id = '{run['run_id']}' "
                         "ORDER BY step").to_pylist()
        metrics = [Metric(name, row[name], 1_700_000_000_000 + row["step"], row["step"])
                   for row in rows for name in METRICS if row[name] is not None]
        client.log_batch(made.info.run_id, params=[Param(k, str(v)) for k, v in config.items()])
        for start in range(0, len(metrics), 1000):
            client.log_batch(made.info.run_id, metrics=metrics[start:start + 1000])
        client.set_terminated(made.info.run_id)


def best_of(args: list[str], env: dict | None = None, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ol-mlflow-anchor-"))
    store, uri = root / "ol", f"sqlite:///{root / 'mlflow.db'}"
    build_runs(store, 0, args.runs, args.steps)
    subprocess.run([OL, "index", "--store", str(store)], check=True, capture_output=True)
    t = time.perf_counter()
    fill_mlflow(uri, store)
    filled = time.perf_counter() - t
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true")
    points = args.runs * args.steps
    rows = [
        ("list the runs with their parameters",
         best_of([OL, "query", "SELECT run_id, strategy, seed, config FROM runs", "--store", str(store), "-f", "csv"]),
         best_of([sys.executable, "-c", LIST_MLFLOW, uri, str(args.runs)], env)),
        (f"every run's loss history ({points:,} points)",
         best_of([OL, "query", "SELECT run_id, step, loss FROM steps", "--store", str(store), "-f", "csv"]),
         best_of([sys.executable, "-c", HISTORY_MLFLOW, uri, str(points)], env)),
    ]
    print(f"Machine: {machine()}; {args.runs} runs × {args.steps:,} steps × {len(METRICS)} scalars; MLflow "
          f"filled through log_batch in {filled:.0f} s; best of 3 whole processes\n")
    print("| task | ol | MLflow (SQLite) | MLflow / ol |")
    print("| --- | --- | --- | --- |")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours:.2f} s | {theirs:.2f} s | {theirs / ours:.1f}× |")


if __name__ == "__main__":
    main()
