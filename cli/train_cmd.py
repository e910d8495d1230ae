"""`ol train`: run an experiment's strategies as recorded runs, with the console following the log."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

import typer
from rich.table import Table

from ol import experiments
from ol.cli.common import console
from ol.cli.train_args import (
    ENGINE_FLAGS,
    MODE_FLAGS,
    TrainArgs,
    check_seed,
    config_fields,
    load_config_file,
    parse,
)
from ol.consumers.console.view import follow_console
from ol.producer import hooks, training
from ol.producer.experiment import Experiment
from ol.schemas import OlError
from ol.store.catalog import RunInfo, list_runs, newest, started_order
from ol.store.refs import resolve_run
from ol.store.rundir import writer_active
from ol.store.summary import write_derived

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
    store = args.store or Path(os.environ.get("OL_STORE", "runs"))
    hooks.resolve(args.hook_groups, args.hook_names)  # bad names fail here, before any work
    _check_writable(store)
    statuses = _resume(exp, args, store) if args.resume is not None else _fresh(exp, args, store)
    if "interrupted" in statuses:
        raise typer.Exit(EXIT_INTERRUPTED)


def _fresh(exp: Experiment, args: TrainArgs, store: Path) -> list[str]:
    file = load_config_file(args.config_file, exp) if args.config_file else {}
    strategy = args.strategy or file.get("strategy") or exp.strategies[0]
    seed = args.seed if args.seed is not None else check_seed(int(file.get("seed") or 0), "the config file's seed")
    overrides = {**file.get("config", {}), **args.overrides}
    config = exp.resolve_config(args.preset, overrides)
    strategies = list(exp.strategies) if strategy == "all" else [exp.check_strategy(strategy)]
    group = args.group or (f"{exp.name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
                           if strategy == "all" else "")
    statuses = []
    for name in strategies:
        req = training.TrainRequest(exp, config, name, seed=seed, store=store, group=group, device=args.device,
                                    checkpoint_every=args.checkpoint_every, reference=args.reference,
                                    hooks=hooks.resolve(args.hook_groups, args.hook_names))
        statuses.append(_with_console(args.mode, exp, lambda cb, req=req: training.start(req, on_started=cb)))
        if statuses[-1] == "interrupted":
            break
    return statuses


def _resume(exp: Experiment, args: TrainArgs, store: Path) -> list[str]:
    changed = [f"--{k.replace('_', '-')}" for k in args.overrides]
    changed += [flag for flag, given in (("--preset", args.preset), ("--seed", args.seed),
                                         ("--config", args.config_file)) if given is not None]
    if changed:
        # a resumed run continues exactly what it started as; a silently ignored --epochs 25 would lie
        raise OlError(f"train: {', '.join(changed)} cannot change a run on --resume: it continues with the config "
                      "it started with (`ol events RUN --kind run_started` shows it); start a new run to train "
                      "something else")
    if args.strategy == "all":
        return _resume_group(exp, args, store)
    if args.resume:
        run_dir = resolve_run(store, args.resume)
    else:
        runs = [r for r in list_runs(store, experiment=exp.name) if not args.strategy or r.strategy == args.strategy]
        if not runs:
            raise OlError(f"train: no {exp.name} run in {store} to resume; start one without --resume")
        run_dir = newest(runs).dir
    return [_resume_one(exp, run_dir, args)]


def _resume_one(exp: Experiment, run_dir: Path, args: TrainArgs) -> str:
    return _with_console(args.mode, exp, lambda cb: training.resume(
        run_dir, experiments.get, device=args.device, checkpoint_every=args.checkpoint_every, on_started=cb,
        hooks=hooks.resolve(args.hook_groups, args.hook_names), reference=args.reference))


def _resume_group(exp: Experiment, args: TrainArgs, store: Path) -> list[str]:
    runs = [r for r in list_runs(store, experiment=exp.name) if r.group]
    if args.group:
        runs = [r for r in runs if r.group == args.group]
    if not runs:
        raise OlError(f"train: no grouped {exp.name} run in {store} to resume; use --strategy all without --resume")
    group = newest(runs).group
    members: dict[str, RunInfo] = {}
    for r in sorted((r for r in runs if r.group == group), key=started_order):
        members[r.strategy] = r
    statuses = []
    for name in exp.strategies:
        info = members.get(name)
        if info is not None and info.status == "completed":
            console.print(f"[dim]{name}: already completed ({info.run_id}), skipped[/]")
            continue
        if info is not None:
            statuses.append(_resume_one(exp, info.dir, args))
        else:
            started = next(iter(members.values()))
            config = exp.resolve_config(None, started.config)
            req = training.TrainRequest(exp, config, name, seed=started.seed or 0, store=store, group=group,
                                        device=args.device, checkpoint_every=args.checkpoint_every,
                                        reference=args.reference,
                                        hooks=hooks.resolve(args.hook_groups, args.hook_names))
            statuses.append(_with_console(args.mode, exp, lambda cb, req=req: training.start(req, on_started=cb)))
        if statuses[-1] == "interrupted":
            break
    return statuses


def _with_console(mode: str, exp: Experiment, run_training) -> str:
    """Run training in this thread while a console consumer follows the run's log in another."""
    threads: list[threading.Thread] = []

    def on_started(run) -> None:
        def follow():
            follow_console(run.dir, mode, until=lambda: not writer_active(run.dir), console=console,
                           sidebar=exp.sidebar or None)

        thread = threading.Thread(target=follow, name="ol-console", daemon=True)
        thread.start()
        threads.append(thread)

    try:
        run_dir, status = run_training(on_started)
    finally:
        for thread in threads:
            thread.join(timeout=30)
    summary = write_derived(run_dir)
    if mode != "quiet":
        console.print(f"[bold]{status}[/]: {run_dir}  (summary: {summary.name})")
    else:  # the one thing a script needs: the run's id, a line per run, on stdout
        print(run_dir.name, flush=True)
    return status


def _check_writable(store: Path) -> None:
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OlError(f"train: cannot create store {store}: {e.strerror}; pass a writable --store") from None
    if not os.access(store, os.W_OK | os.X_OK):
        raise OlError(f"train: store {store} is not writable; pass a writable --store")


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
