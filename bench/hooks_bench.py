"""Hooks benchmark: what `minimal`, `observers` and `full`, and each hook alone, add to the epoch
time of the `quick` preset, in one run.

    python bench/hooks_bench.py [--epochs 30] [--hook-epochs 12]

Target: observers add ≤ 25 % to epoch time at the default snapshot interval (10 epochs).

The machine is shared and its speed drifts by ±20 % within a minute, more than the effect being
measured when whole runs are compared one after the other. So two trainings, one with the hooks
and one without, are built side by side and advanced one epoch at a time in alternating order
(ABBA); the overhead is the ratio of their total epoch times, and the spread of the single
epoch pairs' ratios shows how much the noise moves one comparison. Epoch 0 (allocating rings
and buffers, first-use costs of kernels) is left out of both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_bench import NullRun  # noqa: E402

from ol.experiments import get  # noqa: E402
from ol.producer import hooks  # noqa: E402
from ol.producer.determinism import make_deterministic, seed_everything  # noqa: E402
from ol.producer.engine import Engine  # noqa: E402


class _QuietRun(NullRun):
    """NullRun plus what the hook runtime calls."""

    def note(self, message, level="info", step=None, epoch=None):
        if level == "warning":
            print(f"  note: {message}", file=sys.stderr)


def engine(hook_list: list) -> Engine:
    """A fresh quick-preset training with these hooks."""
    exp = get("mod_arithmetic")
    config = exp.resolve_config("quick", {"stop_at_target": False})
    seed_everything(0)
    make_deterministic()
    setup = exp.setup(config, "random", 0, torch.device("cpu"))
    # a shape-matched θ* so solution-dependent hooks do their full work
    reference = {n: p.detach() + 0.01 for n, p in setup.model.named_parameters()}
    trainer = Engine(_QuietRun(Path(".")), setup, hooks=hook_list, reference=reference)
    trainer.checkpoint = lambda reason: None
    return trainer


def side_by_side(groups: list[str], names: list[str], epochs: int) -> tuple[float, float, float, float, float]:
    """(ms per epoch with the hooks, ms per epoch without, overhead, and the 25th and 75th
    percentiles of the per-epoch-pair overheads: how far the noise spreads single comparisons)
    over ``epochs`` epochs after the first, both trainings advanced one epoch at a time in ABBA order."""
    trainers = {True: engine(hooks.resolve(groups, names)), False: engine([])}
    for trainer in trainers.values():
        trainer.train_epoch()  # epoch 0: allocation and first-use costs
    pairs: list[tuple[float, float]] = []
    for i in range(epochs):
        seconds = {}
        for with_hooks in ((True, False) if i % 2 else (False, True)):
            t = time.perf_counter()
            trainers[with_hooks].train_epoch()
            seconds[with_hooks] = time.perf_counter() - t
        pairs.append((seconds[True], seconds[False]))
    t_hooks, t_base = sum(p[0] for p in pairs) / epochs, sum(p[1] for p in pairs) / epochs
    q1, _, q3 = statistics.quantiles([a / b - 1 for a, b in pairs], n=4)
    return t_hooks * 1e3, t_base * 1e3, t_hooks / t_base - 1, q1, q3


def row(label: str, result: tuple[float, float, float, float, float], target: str = "") -> str:
    t_hooks, t_base, overhead, q1, q3 = result
    return (f"| {label} | {t_hooks:.0f} | {t_base:.0f} | {t_hooks - t_base:+.1f} | {overhead * 100:+.1f} % | "
            f"{q1 * 100:+.0f} … {q3 * 100:+.0f} % |" + (f" {target} |" if target else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30, help="measured epochs per group")
    ap.add_argument("--hook-epochs", type=int, default=12, help="measured epochs per hook alone")
    args = ap.parse_args()

    print(f"quick preset, snapshot every 10 epochs, torch {torch.__version__} on {torch.get_num_threads()} CPU "
          f"threads; {args.epochs} epochs per group and {args.hook_epochs} per hook, each alternating epoch by "
          "epoch with the same training without hooks\n")
    header = ("| {} | epoch time, ms | without hooks, ms | its cost, ms/epoch | overhead | "
              "middle half of the epoch pairs |")
    print(header.format("hooks") + " target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for group in ("minimal", "observers", "full"):
        target = "≤ 25 %" if group == "observers" else "—"
        print(row(group, side_by_side([group], [], args.epochs), target), flush=True)
    print("\n" + header.format("hook (alone)"))
    print("| --- | --- | --- | --- | --- | --- |")
    for name in hooks.CATALOGUE:
        print(row(name, side_by_side([], [name], args.hook_epochs)), flush=True)


if __name__ == "__main__":
    main()
