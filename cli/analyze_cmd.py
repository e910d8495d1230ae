"""`ol analyze order EXPERIMENT`: the spectral analysis of each strategy's data order, before any training."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, complete_experiments, console
from ol.cli.output import format_option, out_option
from ol.errors import UsageError

analyze_app = typer.Typer(help="Analyses that need no run: the data order each strategy feeds.", no_args_is_help=True)
FIGURE_FORMATS = ("png", "svg", "pdf")


@analyze_app.command("order", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def order(
    ctx: typer.Context,
    experiment: Annotated[str, typer.Argument(help="Experiment whose data order to analyse (see `ol experiments`), "
                                              "or runs (ids, one or more) whose recorded orders to analyse.",
                                              autocompletion=complete_experiments)],
    strategy: Annotated[list[str] | None, typer.Option("--strategy", help="Strategies to compare (repeatable; "
                                                       "default: all of the experiment's).")] = None,
    seed: Annotated[int, typer.Option(help="The seed a run would train with (its split and its order).")] = 0,
    epoch: Annotated[int, typer.Option(help="Which epoch's order (orders that reshuffle differ per epoch).")] = 0,
    lag: Annotated[int, typer.Option(min=1, help="Largest autocorrelation lag, in examples.")] = 500,
    store: StoreOption = DEFAULT_STORE,
    style: Annotated[str, typer.Option(help="paper or dark.")] = "paper",
    fmt: format_option("png, svg or pdf for the figures (a table summary is printed), or json: the summary "
                       "as JSON, no figures.") = "png",
    dpi: Annotated[int, typer.Option(help="Resolution of raster output.")] = 150,
    out: out_option("Figure file stem (one file per component, FILE-COMPONENT.png; default under "
                    "<store>/analysis/).") = None,
) -> None:
    """Spectrum, autocorrelation, per-batch entropy and coverage, consecutive differences and the per-batch
    Z/m spectrum of each strategy's order, one figure per component; experiment options as for `ol train`.
    Given runs instead of an experiment: the orders those runs recorded (each checked against what its
    experiment's code makes today)."""
    if fmt not in (*FIGURE_FORMATS, "json"):
        raise UsageError(f"analyze: unknown --format {fmt!r}", hint="choose png, svg, pdf or json")
    from ol import experiments  # the experiment's own data code (and torch, which it uses) load with the work
    from ol.cli.launch_options import ANALYZE, parse

    if experiment not in experiments.discover():
        from ol.cli.analyze_runs import recorded_streams

        exp, streams, seeds = recorded_streams(store, [experiment, *ctx.args], epoch, strategy)
        _analyse(exp, streams, seeds, epoch, lag, store, style, fmt, dpi, out)
        return
    exp = experiments.get(experiment)
    parsed = parse(exp, list(ctx.args), f"ol analyze order {exp.name}", ANALYZE)
    if parsed is None:  # --help
        return
    config = exp.resolve_config(parsed.engine["preset"], parsed.overrides)
    chosen = [exp.check_strategy(s) for s in strategy] if strategy else list(exp.strategies)
    _analyse(exp, {name: exp.sample_stream(config, name, seed, epoch) for name in chosen}, seed, epoch, lag,
             store, style, fmt, dpi, out)


def _analyse(exp, streams: dict, seeds: int | list[int], epoch: int, lag: int, store: Path, style: str, fmt: str,
             dpi: int, out: Path | None) -> None:
    """The analysis of each named stream (a strategy's, or a run's), its summary and figures."""
    from ol.consumers.analytics.order import analyse_stream

    started = time.perf_counter()
    results = {name: analyse_stream(s.components, s.modulus, s.batch_size, lag) for name, s in streams.items()}
    first = next(iter(streams.values()))
    summary = {"experiment": exp.name, "seed": seeds, "epoch": epoch, "modulus": first.modulus,
               "batch_size": first.batch_size, "examples": len(next(iter(first.components.values()))),
               "strategies": {s: {c: r.summary() for c, r in comps.items()} for s, comps in results.items()}}
    if fmt == "json":
        print(json.dumps(summary, indent=2))
        return
    _print_summary(summary, time.perf_counter() - started)
    _figures(results, summary, store, out, style, fmt, dpi)


def _print_summary(summary: dict, seconds: float) -> None:
    from rich.table import Table

    seed = summary["seed"]
    seed = f"seeds {', '.join(map(str, seed))}" if isinstance(seed, list) else f"seed {seed}"
    table = Table(title=f"{summary['experiment']} data order: {summary['examples']:,} examples, m = "
                        f"{summary['modulus']}, batches of {summary['batch_size']} ({seed}, epoch "
                        f"{summary['epoch']}; {seconds:.1f} s)", title_justify="left")
    for column in ("order", "component", "peak period", "peak share", "batch entropy", "batch coverage",
                   "max Z/m power"):
        table.add_column(column, justify="left" if column in ("order", "component") else "right")
    for strategy, comps in summary["strategies"].items():
        for component, s in comps.items():
            table.add_row(strategy, component, _num(s["peak_period"]), _num(s["peak_power_share"]),
                          _num(s["mean_batch_entropy"]), _num(s["mean_batch_coverage"]), _num(s["max_zp_power"]))
    console.print(table)


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _figures(results: dict, summary: dict, store: Path, out: Path | None, style: str, fmt: str, dpi: int) -> None:
    from ol.consumers.analytics.order import order_figure
    from ol.consumers.analytics.plots import save

    stem = out or Path(store) / "analysis" / f"order-{summary['experiment']}-{time.strftime('%Y%m%d-%H%M%S')}"
    stem = stem.with_suffix("") if stem.suffix.lstrip(".") in FIGURE_FORMATS else stem
    components = list(next(iter(results.values())))
    for component in components:
        each, seed = ("run", "seeds " + ", ".join(map(str, summary["seed"]))) if isinstance(summary["seed"], list) \
            else ("strategy", f"seed {summary['seed']}")
        title = (f"{summary['experiment']}: the order of {component!r} in each {each} ({seed}, "
                 f"epoch {summary['epoch']}, m = {summary['modulus']}, B = {summary['batch_size']})")
        fig = order_figure(results, component, title, style)
        console.print(str(save(fig, stem.parent / f"{stem.name}-{component}.{fmt}", fmt, dpi)))
