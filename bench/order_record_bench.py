"""Recording orders: bytes per recorded sample id in the log, and what recording costs an epoch.

    python bench/order_record_bench.py [--epochs 5] [--repeats 5]

For mod_arithmetic's quick preset (p = 97), dyck's quick preset and mod_arithmetic's paper preset
(p = 9973, about 300,000 training pairs), each epoch's real order (strategy random, seed 0) is recorded by
``run.log_order`` into a real log, once with the sample ids (--record-order) and once with only the
order's identity (the default); the log's bytes on disk give the bytes per id (against 8 bytes as int64,
4 as int32). The time of one ``log_order`` call (digest, packing, the event) is set beside the time of one
training epoch of the quick preset on this machine, measured in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

from ol.experiments import get  # noqa: E402
from ol.producer.determinism import seed_everything  # noqa: E402
from ol.producer.engine import Engine  # noqa: E402
from ol.producer.run import Run  # noqa: E402


def log_bytes(orders: list[torch.Tensor], full: bool) -> int:
    with tempfile.TemporaryDirectory() as root:
        with Run.start(store=root, experiment="bench", handle_signals=False) as run:
            for epoch, ids in enumerate(orders):
                run.log_order(epoch, ids, full=full)
        return sum(p.stat().st_size for p in (run.dir / "log").iterdir())


def call_seconds(ids: torch.Tensor, full: bool, repeats: int) -> float:
    with tempfile.TemporaryDirectory() as root, Run.start(store=root, experiment="bench", handle_signals=False) as run:
        times = []
        for epoch in range(repeats):
            t = time.perf_counter()
            run.log_order(epoch, ids, full=full)
            times.append(time.perf_counter() - t)
        return statistics.median(times)


def epoch_seconds(experiment: str, epochs: int) -> float:
    """One training epoch of the quick preset (its order recorded in full), median over ``epochs``."""
    exp = get(experiment)
    seed_everything(0)
    config = exp.resolve_config("quick", {"epochs": epochs, "stop_at_target": False, "eval_every": 10_000})
    setup = exp.setup(config, "random", 0, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as root, Run.start(store=root, experiment=experiment,
                                                           handle_signals=False) as run:
        engine = Engine(run, setup)
        times = []
        for _ in range(epochs):
            t = time.perf_counter()
            engine.train_epoch()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(machine())
    print("| order | ids per epoch | bits per id | log bytes per id, ids recorded | identity only, bytes per epoch "
          "| log_order, ids / identity | one quick epoch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, experiment, preset in (("mod_arithmetic quick", "mod_arithmetic", "quick"),
                                      ("dyck quick", "dyck", "quick"),
                                      ("mod_arithmetic paper", "mod_arithmetic", "paper")):
        exp = get(experiment)
        config = exp.resolve_config(preset, {})
        orders = [exp.epoch_order(config, "random", 0, e) for e in range(args.epochs)]
        n = len(orders[0])
        full, light = log_bytes(orders, True), log_bytes(orders, False)
        empty = log_bytes([], False)
        per_id = (full - empty) / (n * args.epochs)
        per_epoch_light = (light - empty) / args.epochs
        t_full, t_light = call_seconds(orders[0], True, args.repeats), call_seconds(orders[0], False, args.repeats)
        epoch = f"{epoch_seconds(experiment, 3):.2f} s" if preset == "quick" else "-"
        print(f"| {label} | {n:,} | {max(1, (n - 1).bit_length())} | {per_id:.2f} B ({per_id / 8:.0%} of int64, "
              f"{per_id / 4:.0%} of int32) | {per_epoch_light:.0f} B | {t_full * 1e3:.2f} / {t_light * 1e3:.2f} ms "
              f"| {epoch} |")


if __name__ == "__main__":
    main()
