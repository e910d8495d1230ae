"""`ol train`: parse the flags into a launch plan, run it (ol.producer.launch), and show each run as its
console follows the log."""

from __future__ import annotations

import threading
from pathlib import Path

import typer

from ol import experiments
from ol.cli.common import console, store_root
from ol.cli.launch_options import TRAIN, load_config_file, parse
from ol.consumers.console.view import follow_console
from ol.producer.experiment import Experiment
from ol.producer.launch import LaunchPlan, launch

EXIT_INTERRUPTED = 130


def train(
    ctx: typer.Context,
    experiment: str = typer.Argument(None, help="Experiment to train (see `ol experiments`)."),
) -> None:
    """The work of `ol train` (its help and light entry point are ``ol.cli.app.train``)."""
    if experiment is None or experiment in ("--help", "-h"):
        console.print(ctx.get_help())
        console.print("\nexperiments: " + ", ".join(sorted(experiments.discover())))
        return
    exp = experiments.get(experiment)
    parsed = parse(exp, list(ctx.args), f"ol train {exp.name}", TRAIN)
    if parsed is None:  # --help
        return
    e = parsed.engine
    plan = LaunchPlan(exp, store_root(e["store"]), parsed.settings(), strategy=e["strategy"], seed=e["seed"],
                      config_file=load_config_file(e["config"], exp) if e["config"] else None, group=e["group"],
                      resume=e["resume"])
    outcomes = launch(plan, ConsoleWatch(parsed.mode(), exp))
    if any(o.status == "interrupted" for o in outcomes):
        raise typer.Exit(EXIT_INTERRUPTED)


class ConsoleWatch:
    """A console consumer follows each run's log in a thread while training runs in this one."""

    def __init__(self, mode: str, exp: Experiment):
        self.mode, self.exp = mode, exp
        self.threads: list[threading.Thread] = []

    def started(self, run) -> None:
        def follow():
            follow_console(run.dir, self.mode, console=console, sidebar=self.exp.sidebar or None)

        thread = threading.Thread(target=follow, name="ol-console", daemon=True)
        thread.start()
        self.threads.append(thread)

    def finished(self, run_dir: Path, status: str, summary: Path) -> None:
        for thread in self.threads:
            thread.join(timeout=30)
        self.threads.clear()
        if self.mode != "quiet":
            console.print(f"[bold]{status}[/]: {run_dir}  (summary: {summary.name})")
        else:  # the one thing a script needs: the run's id, a line per run, on stdout
            print(run_dir.name, flush=True)

    def skipped(self, strategy: str, run_id: str) -> None:
        console.print(f"[dim]{strategy}: already completed ({run_id}), skipped[/]")
