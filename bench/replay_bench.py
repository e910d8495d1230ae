"""Replay benchmark: a 100,000-step run with 8 scalars per step, replayed to TensorBoard and W&B
(offline), against logging the same data directly with each client, in one run.

    python bench/replay_bench.py [--steps 100000]

Target: replay is limited by the client, not by reading the log — reading (and merging into
per-step records) is at least 20× faster than the client's own logging of the same data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine, synthetic  # noqa: E402

from ol.consumers.replay.stream import StepMerger, StepRecord, replay  # noqa: E402
from ol.consumers.replay.tensorboard_sink import TensorBoardSink  # noqa: E402
from ol.schemas import RunEnded, RunStarted  # noqa: E402
from ol.store.log.reader import LogReader  # noqa: E402
from ol.store.log.writer import LogWriter  # noqa: E402
from ol.store.read.listing import run_started  # noqa: E402
from ol.store.read.projection import project  # noqa: E402


class NullSink:
    def log(self, record):
        pass

    def checkpoint(self, run_dir, event):
        pass

    def finish(self, status, summary):
        pass


def make_run(root: Path, steps: int) -> tuple[Path, list[dict]]:
    rows = synthetic(steps, noisy=True)
    run_dir = root / "bench" / "replay-run"
    writer = LogWriter.create(run_dir / "log", "replay-run")
    writer.append([RunStarted(run_id="replay-run", experiment="bench", strategy="random", seed=0)])
    for start in range(0, steps, 1000):
        writer.append([(i + 1, i // 1000, round(i * 2e-4, 6), rows[i]) for i in range(start, min(steps, start + 1000))])
    writer.append([RunEnded(status="completed", wall_time=20.0)])
    writer.close()
    return run_dir, rows


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def read_and_merge(run_dir: Path) -> None:
    merger = StepMerger()
    for _, event in project(LogReader(run_dir / "log").events()):
        merger.add(event)
    merger.finish()


def direct_tensorboard(logdir: Path, rows: list[dict]) -> None:
    sink = TensorBoardSink(logdir)
    for i, row in enumerate(rows):
        sink.log(StepRecord(i + 1, 0.0, row))
    sink.finish("completed", {})


def wandb_env(root: Path) -> None:
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        (root / var).mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(root / var)
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")


def direct_wandb(rows: list[dict]) -> None:
    import wandb

    run = wandb.init(project="bench", id="direct-run", mode="offline")
    for i, row in enumerate(rows):
        run.log(row, step=i + 1)
    run.finish()
    wandb.teardown()


def replay_wandb(run_dir: Path) -> None:
    from ol.consumers.replay.wandb_sink import WandbSink

    started = run_started(run_dir)
    sink = WandbSink(started, project="bench", entity=None, group=None, name=None, mode="offline", directory=None,
                     timeout=60)
    replay(run_dir, sink, "bench-wandb")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    points = args.steps * 8
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        run_dir, rows = make_run(root, args.steps)
        read = timed(lambda: read_and_merge(run_dir))
        tb_replay = timed(lambda: replay(run_dir, TensorBoardSink(root / "tb-replay"), "bench-tb"))
        tb_direct = timed(lambda: direct_tensorboard(root / "tb-direct", rows))
        try:
            import wandb  # noqa: F401

            wandb_env(root)
            wb_replay = timed(lambda: replay_wandb(run_dir))
            wb_direct = timed(lambda: direct_wandb(rows))
        except ImportError:
            wb_replay = wb_direct = None
    rate = lambda seconds: "not installed" if seconds is None else f"{points / seconds:,.0f}"  # noqa: E731
    print(f"Machine: {machine()}; one run of {args.steps:,} steps × 8 scalars = {points:,} points\n")
    print("| path | points/s | seconds |")
    print("| --- | --- | --- |")
    print(f"| read the log and merge into per-step records (no client) | {rate(read)} | {read:.2f} |")
    print(f"| `ol replay` → TensorBoard | {rate(tb_replay)} | {tb_replay:.2f} |")
    print(f"| TensorBoard's writer used directly, same data | {rate(tb_direct)} | {tb_direct:.2f} |")
    if wb_replay is not None:
        print(f"| `ol replay` → W&B offline | {rate(wb_replay)} | {wb_replay:.2f} |")
        print(f"| W&B `run.log` used directly, same data | {rate(wb_direct)} | {wb_direct:.2f} |")
    print()
    print(f"reading is {tb_direct / read:.0f}× faster than TensorBoard's own logging"
          + (f" and {wb_direct / read:.0f}× faster than W&B's" if wb_direct else "") + " (target ≥ 20×)")


if __name__ == "__main__":
    main()
