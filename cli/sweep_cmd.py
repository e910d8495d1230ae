"""`ol sweep`: a grid of strategies × seeds × settings, run in parallel on this machine."""

from __future__ import annotations

import itertools
import json
import os
import threading
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ol.cli.common import DEFAULT_STORE, StoreOption, complete_experiments, console, err_console
from ol.errors import UsageError
from ol.store import Plan, check_name, check_plan, load_plan

EXECUTORS = ("local", "slurm", "ray")


def sweep(
    ctx: typer.Context,
    experiment: Annotated[str | None, typer.Argument(help="Experiment to sweep (see `ol experiments`).",
                                autocompletion=complete_experiments)] = None,
    strategy: Annotated[list[str] | None, typer.Option("--strategy", help="Strategies (repeatable; 'all', the "
                                                       "default, is every strategy).")] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Seeds: a range or list, e.g. 0-4 or 0,2,7.")] = None,
    seed: Annotated[list[int] | None, typer.Option("--seed", help="One seed (repeatable).")] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help="An experiment option and its values, "
                                                   "KEY=V1,V2,… (repeatable: the product is taken).")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Preset every point starts from.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Runs at a time (default: cores / "
                                             "threads per run).")] = None,
    threads_per_run: Annotated[int, typer.Option("--threads-per-run", help="Torch/BLAS threads of each run.")] = 1,
    executor: Annotated[str, typer.Option("--executor", help="Where runs execute: local (worker processes), "
                                          "slurm (a job array through submitit) or ray (one task per run).")] = "local",
    partition: Annotated[str | None, typer.Option("--partition", help="slurm: partition.")] = None,
    time_limit: Annotated[int | None, typer.Option("--time", help="slurm (required): minutes per run; a run "
                                                   "that hits it is requeued and resumes.")] = None,
    gpus_per_task: Annotated[int, typer.Option("--gpus-per-task", help="slurm, ray: GPUs per run.")] = 0,
    cpus_per_task: Annotated[int | None, typer.Option("--cpus-per-task", help="slurm: CPUs per run (default: "
                                                      "--threads-per-run).")] = None,
    mem: Annotated[int | None, typer.Option("--mem", help="slurm: GB of memory per run.")] = None,
    array_parallelism: Annotated[int | None, typer.Option("--array-parallelism", help="slurm: runs at a "
                                                          "time (default: --jobs, if given).")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="ray: cluster address (default: a "
                                                    "local Ray).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Sweep name (default: EXPERIMENT-sweep-TIME); "
                                             "each run's group.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the points and commands; run nothing.")] = False,
    resume: Annotated[str | None, typer.Option("--resume", help="Finish sweep NAME: skip completed points, "
                                               "resume interrupted ones, start the rest.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Show sweep NAME's grid and each point's "
                                               "status.")] = None,
    estimator: Annotated[str, typer.Option(help="With --status: each setting's value over its seeds, 'mean' or "
                                           "'iqm' (the interquartile mean), with its bootstrap interval; "
                                           "with --until-width, the statistic whose interval is narrowed.")] = "mean",
    until_width: Annotated[float | None, typer.Option("--until-width", help="Add seeds to each setting, one at a "
                                                      "time, until the 95 % interval of its best main metric is at "
                                                      "most this wide (metric units), or --max-seeds.")] = None,
    max_seeds: Annotated[int | None, typer.Option("--max-seeds", help="With --until-width: the most seeds a "
                                                  "setting gets (default 20).")] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Run a grid of runs in parallel, or show or finish one.

    `ol sweep EXPERIMENT [--strategy S…] [--seeds 0-4] [--grid KEY=V1,V2]… [--jobs N] [OPTIONS FOR EVERY POINT]`
    (as `ol train EXPERIMENT --help` lists them); `ol sweep --status NAME`; `ol sweep --resume NAME`."""
    if executor not in EXECUTORS:
        raise UsageError(f"sweep: --executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if threads_per_run < 1 or (jobs is not None and jobs < 1):
        raise UsageError("sweep: --jobs and --threads-per-run must be at least 1")
    for flag, value in (("--cpus-per-task", cpus_per_task), ("--time", time_limit), ("--mem", mem),
                        ("--array-parallelism", array_parallelism)):
        if value is not None and value < 1:
            raise UsageError(f"sweep: {flag} must be at least 1, got {value}")
    if gpus_per_task < 0:
        raise UsageError(f"sweep: --gpus-per-task must be 0 or more, got {gpus_per_task}")
    if status is not None:
        show_sweep(store, status, estimator)
        return
    from ol.producer import sweep as sweeps  # the worker pool: not needed to show a sweep

    until = _precision(until_width, max_seeds, estimator, resume)
    if resume is not None:
        plan = load_plan(store, resume)
        plan.runnable()  # refused before any point starts when this ol cannot run it
    else:
        plan = _new_plan(sweeps, experiment, strategy, seeds, seed, grid, preset, name, list(ctx.args), until)
    if dry_run:
        settings = msgspec.to_builtins(plan.runnable())
        console.print(f"every point: {json.dumps(settings)}", highlight=False, markup=False)
        for point in plan.points:
            console.print(f"{point.label()}: {sweeps.slug(point)}", highlight=False, markup=False)
        console.print(f"{len(plan.points)} run(s) in sweep {plan.name}; nothing was run (--dry-run)")
        return
    if executor == "slurm" and time_limit is None:
        # submitit would ask Slurm for its own default of 5 minutes per job, not the partition's
        raise UsageError("sweep: --executor slurm needs --time MINUTES, each run's Slurm time limit (a run that "
                         "reaches it is requeued and resumes from its checkpoint)")
    if executor != "local":
        from ol.producer.sweep_cluster import check_executor, warning_seconds

        if executor == "slurm":
            warning_seconds(time_limit)  # a limit too short to train under is refused before the plan is written
        check_executor(executor, ray_address)
    if resume is None:
        path = plan.save(store)
        err_console.print(f"sweep {plan.name}: {len(plan.points)} run(s); plan in {path}")
    cluster = slurm_options(partition, time_limit, gpus_per_task, cpus_per_task, mem, array_parallelism or jobs)
    workers = jobs or max(1, (os.cpu_count() or 1) // threads_per_run)
    codes = _run(sweeps, plan, store.resolve(), executor, workers, threads_per_run, cluster, ray_address, gpus_per_task)
    while plan.until is not None and all(code == 0 for code in codes):  # a sequential sweep: seeds until precise
        from ol.store import next_seeds

        more = next_seeds(plan, _results(plan, store))
        if not more:
            break
        plan = plan.grow(store, more)
        err_console.print(f"sweep {plan.name}: not yet precise — " + ", ".join(p.label() for p in more))
        codes = _run(sweeps, plan, store.resolve(), executor, workers, threads_per_run, cluster, ray_address,
                     gpus_per_task)
    _show(plan, store, plan.until.statistic if plan.until else estimator)
    failed = [(point, code) for point, code in zip(plan.points, codes, strict=True) if code not in (0, 130)]
    for point, code in failed:
        log = sweeps.point_log(store, plan, point)
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        err_console.print(f"[red]failed:[/] {point.label()} (exit {code}): {' '.join(tail)} — log: {log}")
    if failed:
        raise UsageError(f"sweep: {len(failed)} of {len(plan.points)} run(s) failed; fix the cause and "
                         f"`ol sweep --resume {plan.name}` starts them again")
    where = f"""\\"group\\" = '{plan.name}'"""
    console.print(f'its runs: ol query "SELECT run_id, strategy, seed, status FROM runs WHERE {where}" (or `ol ui`)',
                  highlight=False, markup=False)


def slurm_options(partition, time_limit, gpus_per_task, cpus_per_task, mem, array_parallelism) -> dict:
    """The Slurm options of `ol sweep` in submitit's names (None: Slurm's default)."""
    return {"slurm_partition": partition, "timeout_min": time_limit, "gpus_per_node": gpus_per_task or None,
            "cpus_per_task": cpus_per_task, "mem_gb": mem, "slurm_array_parallelism": array_parallelism}


def _precision(width: float | None, most: int | None, estimator: str, resume: str | None):
    """The stopping rule a new sequential sweep asks for (None: a sweep of fixed points)."""
    if width is None:
        if most is not None:
            raise UsageError("sweep: --max-seeds bounds --until-width; give both, or neither")
        return None
    if resume is not None:
        raise UsageError("sweep: a resumed sweep keeps the rule it was planned with; drop --until-width")
    from ol.store import Precision, check_precision

    return check_precision(Precision(width, 20 if most is None else most, estimator))


def _new_plan(sweeps, experiment, strategy, seeds, seed, grid, preset, name, tokens, until=None):
    if experiment is None:
        raise UsageError("sweep: name the experiment to sweep (ol sweep EXPERIMENT …), or --resume/--status NAME")
    from ol import experiments  # the experiment's strategies and options check the grid before any run
    from ol.cli.launch_options import DEFAULT_CHECKPOINT_EVERY, SWEEP, parse
    from ol.producer.options import options_of

    exp = experiments.get(experiment)
    chosen = list(exp.strategies) if not strategy or "all" in strategy else [exp.check_strategy(s) for s in strategy]
    if seeds is not None and seed:
        raise UsageError("sweep: give seeds as --seeds 0-4 or as --seed N…, not both")
    seed_list = sweeps.parse_seeds(seeds) if seeds is not None else (list(dict.fromkeys(seed)) if seed else [0])
    values = sweeps.parse_grid(grid or [], options_of(exp.config_type), exp.name)
    parsed = parse(exp, tokens, f"ol sweep {exp.name}", SWEEP)
    if parsed is None:  # --help for the experiment's options
        raise typer.Exit(0)
    settings = parsed.settings(preset)
    if not settings.checkpoint_every:  # so a killed or preempted point resumes instead of starting over
        settings = msgspec.structs.replace(settings, checkpoint_every=DEFAULT_CHECKPOINT_EVERY)
    for combination in itertools.product(*values.values()):  # a bad setting fails here, not in a point's run
        exp.resolve_config(preset, {**settings.overrides, **dict(zip(values, combination, strict=True))})
    name = check_name("sweep name", name) if name else sweeps.default_name(exp.name)
    if until is not None and len(seed_list) > until.max_seeds:
        raise UsageError(f"sweep: {len(seed_list)} seeds already exceed --max-seeds {until.max_seeds}")
    return check_plan(Plan(name, exp.name, sweeps.expand(chosen, seed_list, values), settings, until))


def _run(sweeps, plan, store: Path, executor: str, jobs: int, threads: int, cluster: dict, ray_address, gpus):
    # the bar and the ETA move with the epochs of running points; the count is of finished runs
    progress = Progress(TextColumn(f"sweep {plan.name}"), BarColumn(),
                        TextColumn("{task.fields[finished]}/{task.total:.0f}"), TextColumn("{task.description}"),
                        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err_console)
    watch = sweeps.ProgressWatch(store, plan)
    latest: dict = {}
    lock = threading.Lock()  # show() runs on the workers' threads and the once-a-second look alike
    stop = threading.Event()

    def show() -> None:
        with lock:
            state = dict(latest)
            if not state:
                return
            ended = sweeps.finished(state)
            try:
                where = watch.look(state)
            except Exception:  # noqa: BLE001 — a run caught mid-creation; the display must never stop a sweep
                where = sweeps.Progress(ended)
        counts = {k: sum(v == k for v in state.values()) for k in ("running", "failed", "interrupted")}
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        if where.slowest is not None:
            epochs, planned = where.slowest
            parts.append(f"slowest at epoch {epochs}" + (f"/{planned}" if planned else ""))
        progress.update(task, completed=where.done, finished=ended, description=", ".join(parts))

    def on_change(state: dict) -> None:
        with lock:
            latest.update(state)
        show()

    def keep_showing() -> None:  # the runs move between state changes: look at them every second
        while not stop.wait(1.0):
            show()

    with progress:
        task = progress.add_task("", total=len(plan.points), finished=0)
        threading.Thread(target=keep_showing, name="ol-sweep-progress", daemon=True).start()
        try:
            if executor == "local":
                outcomes = sweeps.run_local(plan, store, jobs, threads, on_change, threading.Event())
                return [o.returncode for o in outcomes]
            from ol.producer import sweep_cluster

            if executor == "slurm":
                return sweep_cluster.run_slurm(plan, store, threads, cluster, on_change)
            return sweep_cluster.run_ray(plan, store, threads, ray_address, gpus, on_change)
        finally:
            stop.set()


def show_sweep(store: Path, name: str, estimator: str = "mean") -> None:
    """Sweep ``name``'s grid with each point's status, and its comparison (over seeds: ``estimator``)."""
    from ol.store import STATISTICS

    if estimator not in STATISTICS:
        raise UsageError(f"sweep: --estimator is {' or '.join(STATISTICS)}, not {estimator!r}")
    _show(load_plan(store, name), store, estimator)


def _results(plan, store: Path) -> dict:
    """Each point's newest run, its record folded whole with its metrics' summaries, from the read model (the
    store's index: what changed is read, not every run)."""
    from ol.store import newest_runs, open_snapshot

    snap = open_snapshot(store)
    runs = newest_runs(plan, [i for i in snap.runs if i.group == plan.name])
    for info in runs.values():
        snap.summaries(snap.folded(info))
    return runs


def _show(plan, store: Path, estimator: str = "mean") -> None:
    """The grid, the comparison over seeds and, for a sequential sweep, where each setting stands."""
    from ol.store import compare, contrasts, slurm_states

    runs = _results(plan, store)
    slurm = slurm_states(store, plan)  # a sweep on Slurm: each point's task and its state in the queue
    table = Table(title=f"sweep {plan.name} ({plan.experiment})", title_justify="left")
    for col in ("strategy", "seed", *(plan.points[0].settings if plan.points else {}), "status", "run", "epoch",
                "wall", *(["slurm"] if slurm else [])):
        table.add_column(col)
    for n, point in enumerate(plan.points):
        info = runs.get(point)
        task, queued = slurm.get(n, ("", ""))
        status = info.status if info else {"PENDING": "pending", "RUNNING": "starting"}.get(queued, "not started")
        epoch = "" if info is None or info.last_epoch is None else str(info.last_epoch)
        table.add_row(point.strategy, str(point.seed), *map(str, point.settings.values()), status,
                      info.run_id if info else "", epoch,
                      "" if info is None or info.wall_time is None else f"{info.wall_time:.1f} s",
                      *([f"{task} {queued.lower()}".strip()] if slurm else []))
    console.print(table)
    done = sum(1 for p in plan.points if (i := runs.get(p)) is not None and i.status == "completed")
    console.print(f"{done} of {len(plan.points)} completed")
    _comparison([c for c in compare(plan.points, runs, estimator) if c["main_series"]],
                contrasts(plan.points, runs), estimator)
    _precision_status(plan, runs)


def _precision_status(plan, results: dict) -> None:
    """A sequential sweep: each setting's seeds and interval width against its rule, and the rule's caveat."""
    from ol.store import precision, precision_rule

    if plan.until is None:
        return
    for s in precision(plan, results):
        width = "no interval yet" if s.width is None else f"{s.width:.4g} wide"
        state = ("precise" if s.width is not None and s.width <= plan.until.width
                 else "at --max-seeds" if s.seeds >= plan.until.max_seeds
                 else "its runs logged no main metric" if s.done else "not yet")
        label = " · ".join([s.strategy, *(f"{k}={v}" for k, v in s.grid)])
        console.print(f"{label}: {s.seeds} seeds, {width} ({state}; the rule asks ≤ {plan.until.width:g})",
                      highlight=False, markup=False)
    console.print(f"stopping rule: {precision_rule(plan)}", highlight=False, markup=False)


def _comparison(rows: list[dict], pairs: list[dict], estimator: str) -> None:
    """Each strategy and setting's best value of the main metric the runs declared, and the epoch they reached
    its target, with intervals over seeds; then each two strategies of a setting against each other."""
    from ol.store import method_of

    if not rows:
        return
    keys = list(rows[0]["settings"])
    arrow = {"higher": "↑", "lower": "↓"}.get(rows[0]["direction"] or "", "")
    metric = rows[0]["main_series"]
    over = "mean" if estimator == "mean" else "IQM"
    table = Table(title=f"best {metric} {arrow} and epochs to the target over seeds: {over} [95 % interval]",
                  caption=method_of(estimator), title_justify="left", caption_justify="left")
    for col in ("strategy", *keys, "runs", f"best {metric}", "reached target", "epoch reached"):
        table.add_column(col)
    for r in rows:
        low_high = r["reached_ci"]
        reached = f"{r['reached']} of {r['runs']}" + (f" [{low_high[0]:.2f}, {low_high[1]:.2f}]" if low_high else "")
        table.add_row(r["strategy"], *map(str, r["settings"].values()), f"{r['completed']}/{r['runs']}",
                      _ci(*r["main_best"]), reached, _ci(*r["epochs"], digits=1))
    console.print(table)
    if pairs:
        versus = Table(title=f"strategy against strategy, best {metric}", title_justify="left")
        for col in ("A", "B", *keys, "P(A better than B)", "p (permutation)"):
            versus.add_column(col)
        for p in pairs:
            versus.add_row(p["a"], p["b"], *map(str, p["settings"].values()), f"{p['p_better']:.2f}",
                           f"{p['p_value']:.3g}")
        console.print(versus)


def _ci(value: float | None, low: float | None, high: float | None, digits: int = 4) -> str:
    """value [low, high]; one value has no interval to show"""
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if low is None else f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
