"""Training benchmark: epoch time of the `quick` preset per strategy, and what recording costs.

    python bench/train_bench.py [--epochs 15] [--repeats 3]

Recording overhead compares the same training with the real recorder (background writer,
log on disk) against a no-op recorder, interleaved so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ol.experiments import get
from ol.producer.determinism import make_deterministic, seed_everything
from ol.producer.engine import Engine
from ol.producer.run import Run


class NullRun:
    """The recording surface of Run, doing nothing: the baseline for recording overhead."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self._t0 = time.monotonic()

    def log(self, values, step=None, epoch=None):
        pass

    def emit(self, event):
        pass

    def note(self, *args, **kwargs):
        pass

    def flush(self, fsync=False):
        pass

    def elapsed(self):
        return time.monotonic() - self._t0


def one_training(strategy: str, epochs: int, recorder: str, tmp: Path) -> tuple[float, int]:
    """(seconds of the epoch loop, optimiser steps) for one fresh training."""
    exp = get("mod_arithmetic")
    config = exp.resolve_config("quick", {"epochs": epochs, "stop_at_target": False})
    seed_everything(0)
    make_deterministic()
    setup = exp.setup(config, strategy, 0, torch.device("cpu"))
    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    if recorder == "real":
        run = Run.start(store=run_dir, experiment="bench", handle_signals=False)
    else:
        run = NullRun(run_dir)
    engine = Engine(run, setup)
    engine.checkpoint = lambda reason: None  # checkpoints are not what is measured here
    t0 = time.perf_counter()
    engine.train()
    if recorder == "real":
        run.close()  # includes draining the writer: recording is only free if this is too
    return time.perf_counter() - t0, engine.position.step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    exp = get("mod_arithmetic")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, quick preset, {args.epochs} epochs "
          f"per measurement\n")
    print("| strategy | epoch wall time, ms | steps/s |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for strategy in exp.strategies:
            seconds, steps = one_training(strategy, args.epochs, "real", tmp)
            print(f"| {strategy} | {seconds / args.epochs * 1e3:.0f} | {steps / seconds:,.0f} |")
        real, null = [], []
        for _ in range(args.repeats):
            real.append(one_training("random", args.epochs, "real", tmp)[0])
            null.append(one_training("random", args.epochs, "null", tmp)[0])
    r, n = statistics.median(real), statistics.median(null)
    print("\n| recorder | median seconds for the run | overhead |")
    print("| --- | --- | --- |")
    print(f"| no-op | {n:.2f} | — |")
    print(f"| ol Run (background writer, on disk) | {r:.2f} | {(r / n - 1) * 100:+.2f} % (target ≤ 1 %) |")
    print(f"\nall pairs (real, no-op): {', '.join(f'({a:.2f}, {b:.2f})' for a, b in zip(real, null, strict=True))}")


if __name__ == "__main__":
    main()
