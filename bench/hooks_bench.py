"""Hooks benchmark: epoch time of the `quick` preset with no hooks, minimal, observers and full, and
each hook's own cost, in one run.

    python bench/hooks_bench.py [--epochs 20]

Target: observers add ≤ 25 % to epoch time at the default snapshot interval (10 epochs).
"""

from __future__ import annotations

import argparse
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


def epoch_seconds(hook_list: list, epochs: int) -> float:
    """Mean wall time per epoch of a fresh quick-preset training with these hooks."""
    exp = get("mod_arithmetic")
    config = exp.resolve_config("quick", {"epochs": epochs, "stop_at_target": False})
    seed_everything(0)
    make_deterministic()
    setup = exp.setup(config, "random", 0, torch.device("cpu"))
    # a shape-matched θ* so solution-dependent hooks do their full work
    reference = {n: p.detach() + 0.01 for n, p in setup.model.named_parameters()}
    engine = Engine(_QuietRun(Path(".")), setup, hooks=hook_list, reference=reference)
    engine.checkpoint = lambda reason: None
    t = time.perf_counter()
    engine.train()
    return (time.perf_counter() - t) / epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3, help="best of N runs for every row")
    args = ap.parse_args()
    epoch_seconds([], 3)  # warm-up: first-use costs of torch kernels and allocators are not a hook's

    def best(hook_names: list[str], groups: list[str], repeats: int) -> float:
        # machine noise only ever adds time: the fastest of several runs is the cleanest estimate
        return min(epoch_seconds(hooks.resolve(groups, hook_names), args.epochs) for _ in range(repeats))

    base = best([], [], args.repeats)
    print(f"quick preset, {args.epochs} epochs per measurement (every row: best of {args.repeats}), "
          "snapshot every 10 epochs, "
          f"torch {torch.__version__} on {torch.get_num_threads()} CPU threads\n")
    print("| hooks | epoch time, ms | overhead | target |")
    print("| --- | --- | --- | --- |")
    print(f"| none | {base * 1e3:.0f} | — | |")
    for group in ("minimal", "observers", "full"):
        seconds = best([], [group], args.repeats)
        target = "≤ 25 %" if group == "observers" else ""
        print(f"| {group} | {seconds * 1e3:.0f} | {(seconds / base - 1) * 100:+.1f} % | {target} |")
    print("\n| hook (alone) | epoch time, ms | its cost, ms/epoch | overhead |")
    print("| --- | --- | --- | --- |")
    for name in hooks.CATALOGUE:
        seconds = best([name], [], args.repeats)
        print(f"| {name} | {seconds * 1e3:.0f} | {(seconds - base) * 1e3:+.1f} | {(seconds / base - 1) * 100:+.1f} % |")


if __name__ == "__main__":
    main()
