"""`ol train`: parse the flags into a launch plan, run it (ol.producer.launch), and show each run as its
console follows the log."""

from __future__ import annotations

import threading
from pathlib import Path

import typer
from rich.table import Table

from ol import experiments
from ol.cli.common import console, store_root
from ol.cli.train_args import ENGINE_FLAGS, MODE_FLAGS, config_fields, load_config_file, parse
from ol.consumers.console.view import follow_console
from ol.errors import UsageError
from ol.producer.experiment import Experiment
from ol.producer.launch import LaunchPlan, launch
from ol.store.rundir import writer_active

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
    args = parse(exp, list(ctx.args))
    if args.help:
        print_help(exp)
        return
    if args.trajectory_dim and not args.record_trajectory or args.trajectory_dim < 0:
        raise UsageError("train: --trajectory-dim N (N ≥ 1) sketches what --record-trajectory records",
                         hint="add --record-trajectory [EVERY]")
    changed = [flag for flag, given in (("--preset", args.preset), ("--seed", args.seed),
                                        ("--config", args.config_file), ("--order-from", args.order_from),
                                        ("--record-order", args.record_order or None)) if given is not None]
    plan = LaunchPlan(exp, store_root(args.store), strategy=args.strategy, preset=args.preset, seed=args.seed,
                      config_file=load_config_file(args.config_file, exp) if args.config_file else None,
                      overrides=args.overrides, group=args.group, device=args.device,
                      checkpoint_every=args.checkpoint_every, hook_groups=args.hook_groups,
                      hook_names=args.hook_names, reference=args.reference, resume=args.resume,
                      trajectory_every=args.record_trajectory, trajectory_dim=args.trajectory_dim,
                      record_order=args.record_order, order_from=args.order_from, changed_flags=changed)
    outcomes = launch(plan, ConsoleWatch(args.mode, exp))
    if any(o.status == "interrupted" for o in outcomes):
        raise typer.Exit(EXIT_INTERRUPTED)


class ConsoleWatch:
    """A console consumer follows each run's log in a thread while training runs in this one."""

    def __init__(self, mode: str, exp: Experiment):
        self.mode, self.exp = mode, exp
        self.threads: list[threading.Thread] = []

    def started(self, run) -> None:
        def follow():
            follow_console(run.dir, self.mode, until=lambda: not writer_active(run.dir), console=console,
                           sidebar=self.exp.sidebar or None)

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


def print_help(exp: Experiment) -> None:
    console.print(f"[bold]ol train {exp.name}[/] — {exp.description}\n")
    console.print(f"strategies: {', '.join(exp.strategies)}, all    presets: {', '.join(exp.presets)} "
                  f"(default {exp.default_preset})\n")
    engine = Table(title="engine options", title_justify="left", show_header=False, box=None)
    for flag, (_, text) in ENGINE_FLAGS.items():
        engine.add_row(flag, text)
    engine.add_row(" ".join(MODE_FLAGS), "console: full-screen live view, progress bar only, or no output")
    console.print(engine)
    console.print(options_table(exp))


def option_rows(exp: Experiment) -> list[tuple[str, str, str]]:
    """(flag, type, default of the default preset) of each experiment option."""
    defaults = exp.resolve_config(None, {})
    return [(f"{flag} / --no-{flag[2:]}" if kind is bool else flag, kind.__name__, str(getattr(defaults, name)))
            for flag, (name, kind, _) in config_fields(exp).items()]


def options_table(exp: Experiment) -> Table:
    table = Table(title=f"{exp.name} options (defaults of preset {exp.default_preset!r})", title_justify="left")
    table.add_column("option")
    table.add_column("type")
    table.add_column("default", justify="right")
    for row in option_rows(exp):
        table.add_row(*row)
    return table
