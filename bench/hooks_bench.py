"""Hooks benchmark: what `minimal`, `observers` and `full`, and each hook alone, add to the epoch
time of the `quick` preset, in one run.

    python bench/hooks_bench.py [--epochs 20] [--pairs 5] [--hook-epochs 10] [--hook-pairs 3]

Target: observers add ≤ 25 % to epoch time at the default snapshot interval (10 epochs).

The machine is shared and its speed drifts by ±20 % over minutes, so every configuration is
measured in pairs with a run without hooks next to it, in alternating order (ABBA), and the
overhead is the median of the pairs' ratios. Comparing a best-of-N row against a baseline
measured minutes earlier can be off by more than the effect being measured.
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


def paired(groups: list[str], names: list[str], epochs: int, pairs: int) -> tuple[float, float, list[float]]:
    """(median epoch time with the hooks, median without, the pairs' ratios), measured in ABBA order."""
    with_hooks, without, ratios = [], [], []
    for i in range(pairs):
        order = (True, False) if i % 2 else (False, True)
        times = {h: epoch_seconds(hooks.resolve(groups, names) if h else [], epochs) for h in order}
        with_hooks.append(times[True])
        without.append(times[False])
        ratios.append(times[True] / times[False])
    return statistics.median(with_hooks), statistics.median(without), ratios


def row(label: str, result: tuple[float, float, list[float]], target: str = "") -> str:
    t_hooks, t_base, ratios = result
    spread = f"{(min(ratios) - 1) * 100:+.0f} … {(max(ratios) - 1) * 100:+.0f} %"
    return (f"| {label} | {t_hooks * 1e3:.0f} | {t_base * 1e3:.0f} | {(t_hooks - t_base) * 1e3:+.1f} | "
            f"{(statistics.median(ratios) - 1) * 100:+.1f} % | {spread} |" + (f" {target} |" if target else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20, help="epochs per measurement of a group")
    ap.add_argument("--pairs", type=int, default=5, help="measurement pairs per group")
    ap.add_argument("--hook-epochs", type=int, default=10, help="epochs per measurement of one hook")
    ap.add_argument("--hook-pairs", type=int, default=3, help="measurement pairs per hook")
    args = ap.parse_args()
    epoch_seconds([], 3)  # warm-up: first-use costs of torch kernels and allocators are not a hook's

    print(f"quick preset, snapshot every 10 epochs, torch {torch.__version__} on {torch.get_num_threads()} CPU "
          f"threads; groups: {args.pairs} pairs of {args.epochs}-epoch runs, hooks alone: {args.hook_pairs} pairs "
          f"of {args.hook_epochs}-epoch runs; each pair = the same training with and without the hooks\n")
    header = "| {} | epoch time, ms | without hooks, ms | its cost, ms/epoch | overhead (median of pairs) | pairs |"
    print(header.format("hooks") + " target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for group in ("minimal", "observers", "full"):
        target = "≤ 25 %" if group == "observers" else "—"
        print(row(group, paired([group], [], args.epochs, args.pairs), target), flush=True)
    print("\n" + header.format("hook (alone)"))
    print("| --- | --- | --- | --- | --- | --- |")
    for name in hooks.CATALOGUE:
        print(row(name, paired([], [name], args.hook_epochs, args.hook_pairs)), flush=True)


if __name__ == "__main__":
    main()
