"""Two experiments, one set of readers: mod_arithmetic (accuracy, higher is better) and dyck (a loss, lower is
better) go through the same console, summary.json, `ol runs`, W&B replay and `ol export`, and each reports
its own main metric, direction and target — nothing outside experiments/ knows either's metric names."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.replay.wandb_sink import wandb_id

sys.path.insert(0, str(Path(__file__).parents[1]))
from wandb_records import summary_of  # noqa: E402

RUNS = {
    "mod_arithmetic": (["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
                        "--batch-size", "32", "--epochs", "3", "--eval-every", "1", "--target-acc", "0.01"],
                       "test_acc", "higher", 0.01),
    "dyck": (["--train-size", "128", "--val-size", "64", "--max-pairs", "5", "--d-model", "16", "--n-heads", "2",
              "--n-layers", "1", "--d-ff", "32", "--batch-size", "32", "--epochs", "3", "--target-loss", "5.0"],
             "val_loss", "lower", 5.0),
}


def _ol(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.timeout(900)
def test_each_experiment_reports_its_own_main_metric_everywhere(tmp_path, wandb_env):
    store = tmp_path / "runs"
    for experiment, (flags, main, direction, target) in RUNS.items():
        for seed in (0, 1):
            _ol("train", experiment, *flags, "--strategy", "random", "--seed", seed, "--quiet", "--store", store)
        (run_dir,) = [d for d in (store / experiment).iterdir() if json.loads(
            (d / "summary.json").read_text())["seed"] == 0]
        other = "val_loss" if main == "test_acc" else "test_acc"

        summary = json.loads((run_dir / "summary.json").read_text())
        assert (summary["main_metric"], summary["direction"], summary["target"]) == (main, direction, target)
        assert summary["target_epoch"] == 0  # both targets are met at the first evaluation
        values = json.loads(_ol("query", f"SELECT {main} AS v FROM epochs WHERE run_id = $r AND {main} IS NOT NULL",
                                "-p", f"r={run_dir.name}", "--format", "json", "--store", store))
        assert summary["main_best"] == (max if direction == "higher" else min)(r["v"] for r in values)

        console = _ol("tail", run_dir.name, "--store", store)
        assert f"{main} " in console and other not in console

        listed = _ol("runs", "--store", store, "--experiment", experiment, "--format", "table")
        arrow = "↑" if direction == "higher" else "↓"
        assert f"{main} {arrow}" in listed and f"{target:g} ✓ @0" in listed

        _ol("replay", run_dir.name, "--store", store, "--to", "wandb", "--mode", "offline", "--project", "c")
        mirrored = summary_of(wandb_env, wandb_id(run_dir.name))
        assert (mirrored["ol_main_metric"], mirrored["ol_direction"], mirrored["ol_target"]) == (main, direction,
                                                                                                 target)
        assert mirrored["ol_main_best"] == pytest.approx(summary["main_best"]) and mirrored["ol_target_epoch"] == 0

        # --bold-best needs no direction flag: the runs declared it, and the best is bolded in that direction
        table = _ol("export", f"{experiment}/random", "--store", store, "-m", main, "--per", "run", "--stat", "final",
                    "--bold-best")
        finals = {json.loads((d / "summary.json").read_text())["final"][main] for d in (store / experiment).iterdir()}
        pick = max(finals) if direction == "higher" else min(finals)
        assert f"**{pick:.4f}**" in table
