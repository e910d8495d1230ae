"""`ol plot`: curves, compare, convergence, correlation and layers, written to image files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, RunArgument, RunsArgument, StoreOption, complete_metrics, console, warn
from ol.cli.output import format_option, out_option
from ol.errors import UsageError
from ol.store import resolve_run

plot_app = typer.Typer(help="Plot runs to PNG/SVG/PDF files (written under <store>/analysis/ unless --out).",
                       no_args_is_help=True)

Runs = RunsArgument
Style = Annotated[str, typer.Option(help="paper (light, colour-blind-safe, serif fonts) or dark.")]
Fmt = format_option("png, svg or pdf.")
Dpi = Annotated[int, typer.Option(help="Resolution of raster output.")]
Out = out_option("Output file (default under <store>/analysis/).")


def _plots():
    """matplotlib loads with the first plot, not with every `ol` command."""
    from ol.consumers.analytics import plots

    return plots


def _open(store: Path, runs: list[str]):
    from ol.consumers.analytics.sql import connect

    conn = connect(store, [resolve_run(store, r) for r in runs])
    for w in conn.warnings:
        warn(w)
    return conn


def _write(fig, store: Path, kind: str, out: Path | None, fmt: str, dpi: int) -> None:
    target = out or Path(store) / "analysis" / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}"
    path = _plots().save(fig, target, fmt, dpi)
    console.print(str(path))


@plot_app.command("curves")
def curves(runs: Runs, store: StoreOption = DEFAULT_STORE,
           metrics: Annotated[list[str], typer.Option("--metrics", "-m", help="Metric names (repeatable).",
                                                        autocompletion=complete_metrics)] = (),
           layout: Annotated[str, typer.Option(help="overlay (one panel) or grid (one per group).")] = "overlay",
           group_by: Annotated[str, typer.Option(help="Grid panels per 'metric' or per 'strategy'.")] = "metric",
           smooth: Annotated[float, typer.Option(help="EMA weight in [0, 1); NaN-aware.")] = 0.0,
           log_y: Annotated[bool, typer.Option("--log-y", help="Logarithmic y axis.")] = False,
           x: Annotated[str, typer.Option(help="x axis: step, epoch, time or a metric (e.g. train/batch).")] = "step",
           x_range: Annotated[tuple[float, float] | None, typer.Option("--range", help="x range A B.")] = None,
           band: Annotated[str | None, typer.Option(help="A line per setting (strategy and the config values that "
                                                    "differ) at the mean over its seeds, in a band: ci (95 % "
                                                    "bootstrap interval of the mean), std or minmax.")] = None,
           style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """Metric curves of runs over steps, epochs or time, with optional smoothing; --band ci: means over seeds."""
    conn = _open(store, runs)
    if not metrics:  # say what there is to plot, as source/name
        names = [f"{r['source']}/{r['name']}" for r in conn.query(
            "SELECT DISTINCT source, name FROM metric_stats ORDER BY source <> 'eval', source <> 'train', source, "
            "name").to_pylist()]
        shown = ", ".join(names[:25]) + (f", … ({len(names)} in all)" if len(names) > 25 else "")
        raise UsageError(f"plot curves: name at least one -m METRIC; these runs have {shown or 'no metrics'}")
    fig = _plots().curves(conn, list(metrics), layout, group_by, smooth, log_y, x, x_range, style, band)
    _write(fig, store, "curves", out, fmt, dpi)


@plot_app.command("compare")
def compare(runs: Runs, store: StoreOption = DEFAULT_STORE,
            metric: Annotated[str | None, typer.Option(
                "--metric", "-m", help="Metric to compare (default: the main metric the runs declare).",
                autocompletion=complete_metrics)] = None,
            stat: Annotated[str, typer.Option(help="final, min, max or mean per run.")] = "final",
            estimator: Annotated[str, typer.Option(help="Over seeds: 'mean' or 'iqm' (the interquartile mean).")
                                 ] = "mean",
            style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """Bar chart of a statistic across strategies (the mean — or IQM — over seeds and its 95 % bootstrap interval,
    runs as dots)."""
    conn = _open(store, runs)
    if metric is None:
        said = _agreed(conn)
        if said is None:
            raise UsageError("plot compare: these runs do not declare one main metric; pass --metric NAME")
        metric = said.main_metric
    _write(_plots().compare(conn, metric, stat, style, estimator), store, "compare", out, fmt, dpi)


@plot_app.command("convergence")
def convergence(runs: Runs, store: StoreOption = DEFAULT_STORE,
                metric: Annotated[str | None, typer.Option(
                    "--metric", "-m", help="Metric to watch (default: the runs' declared main metric).",
                    autocompletion=complete_metrics)] = None,
                threshold: Annotated[float | None, typer.Option(help="Value to cross (default: the runs' declared "
                                                                "target).")] = None,
                direction: Annotated[str | None, typer.Option(help="above or below (default: from the runs' "
                                                              "declared direction).")] = None,
                style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """First epoch at which each run crosses a threshold: the "epochs to grok" chart."""
    conn = _open(store, runs)
    if metric is None or threshold is None or direction is None:
        said = _agreed(conn)
        if metric is None:
            if said is None:
                raise UsageError("plot convergence: these runs do not declare one main metric; pass --metric NAME")
            metric = said.main_metric
        if said is not None and metric == said.main_metric:
            threshold = said.target if threshold is None else threshold
            direction = direction or {"higher": "above", "lower": "below"}.get(said.direction or "")
        missing = [flag for flag, value in (("--threshold X", threshold), ("--direction above|below", direction))
                   if value is None]
        if missing:
            raise UsageError(f"plot convergence: the runs declare no {'target' if threshold is None else 'direction'} "
                             f"for {metric}; pass {' and '.join(missing)}")
    fig = _plots().convergence(conn, metric, threshold, direction, style)
    _write(fig, store, "convergence", out, fmt, dpi)


def _agreed(conn):
    """The contract every run declares alike (main metric, direction, target), or None: a default is what
    the runs said, never a metric name ol assumes."""
    said = {(r.contract.main_metric, r.contract.direction, r.contract.target) for r in conn.runs}
    return conn.runs[0].contract if len(said) == 1 and next(iter(said))[0] else None


@plot_app.command("correlation")
def correlation(runs: Runs, store: StoreOption = DEFAULT_STORE,
                x: Annotated[str, typer.Option("--x", help="Metric on the x axis.")] = "",
                y: Annotated[list[str], typer.Option("--y", help="Metrics on the y axis (repeatable).")] = (),
                trend: Annotated[bool, typer.Option("--trend", help="Add a least-squares line and r.")] = False,
                style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """Scatter of metrics against another, point per logged step, coloured by run."""
    if not x or not y:
        raise typer.BadParameter("give --x NAME and at least one --y NAME", param_hint="--x/--y")
    _write(_plots().correlation(_open(store, runs), x, list(y), trend, style), store, "correlation", out, fmt, dpi)


@plot_app.command("layers")
def layers(run: Annotated[str, typer.Argument(help="The run.")], store: StoreOption = DEFAULT_STORE,
           metric: Annotated[str, typer.Option(
               "--metric", "-m", help="Prefix of per-parameter metric names, as `ol hooks describe` spells them, e.g. "
               "'hooks/weight_tracking/frobenius/'.")] = "",
           normalise: Annotated[str, typer.Option(help="none, or row: each row scaled to its own range.")] = "none",
           log: Annotated[bool, typer.Option("--log", help="Colour by log10 of the value.")] = False,
           style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """Heatmap of per-parameter metrics (names sharing a prefix) over time."""
    if not metric:
        raise typer.BadParameter("give --metric PREFIX", param_hint="--metric")
    _write(_plots().layers(_open(store, [run]), metric, style, normalise, log), store, "layers", out, fmt, dpi)


@plot_app.command("histogram")
def histogram(runs: Runs, store: StoreOption = DEFAULT_STORE,
              metric: Annotated[str, typer.Option("--metric", "-m", help="A histogram the run logged "
                                                  "(run.log({NAME: ol.Histogram(...)})).")] = "",
              style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """A logged histogram's distribution over steps, a heatmap per run."""
    if not metric:
        raise typer.BadParameter("give --metric NAME", param_hint="--metric")
    from ol.consumers.analytics import media_plots

    _write(media_plots.histogram(_open(store, runs), metric, style), store, "histogram", out, fmt, dpi)


@plot_app.command("images")
def images(runs: Runs, store: StoreOption = DEFAULT_STORE,
           metric: Annotated[str, typer.Option("--metric", "-m", help="Images the run logged "
                                               "(run.log({NAME: ol.Image(...)})).")] = "",
           step: Annotated[list[int] | None, typer.Option("--step", help="Show the image nearest this step "
                                                          "(repeatable; default: up to 8 over the run).")] = None,
           style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """A run's logged images by step, a row per run."""
    if not metric:
        raise typer.BadParameter("give --metric NAME", param_hint="--metric")
    from ol.consumers.analytics import media_plots

    _write(media_plots.images(_open(store, runs), metric, step, style), store, "images", out, fmt, dpi)


@plot_app.command("weights")
def weights(runs: Runs, store: StoreOption = DEFAULT_STORE,
            analyses: Annotated[list[str] | None, typer.Option("--analyses", help="norms, svd, similarity "
                                                               "(repeatable or comma-separated; default all).")] = None,
            top_layers: Annotated[int, typer.Option(min=1, help="The largest N layers the runs share.")] = 6,
            svd_rank: Annotated[int, typer.Option(min=1, help="Singular values drawn per layer.")] = 50,
            checkpoint: Annotated[int | None, typer.Option(help="The checkpoint nearest this step (default: the "
                                                           "final weights, else the newest checkpoint).")] = None,
            style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """Compare runs' weights: per-layer norms, singular value spectra, and each layer's cosine similarity
    between runs (a heatmap)."""
    from ol.consumers.analytics.labels import run_labels
    from ol.consumers.analytics.sql import runs_connection
    from ol.consumers.analytics.weights import ANALYSES, weights_figure
    from ol.producer.weights import run_weights  # torch loads the weight files: with this command only
    from ol.store import run_info

    chosen = [a for item in (analyses or list(ANALYSES)) for a in item.split(",") if a]
    dirs = list(dict.fromkeys(resolve_run(store, ref) for ref in runs))  # a run named twice is compared once
    loaded, which = {}, set()
    for run_dir in dirs:
        loaded[run_dir.name], what = run_weights(run_dir, checkpoint)
        which.add(what)
    labels = run_labels(runs_connection([run_info(d) for d in dirs], store))  # as every other plot names runs
    title = f"weights of {len(loaded)} run(s): {', '.join(sorted(which))}"
    fig = weights_figure(loaded, labels, chosen, top_layers, svd_rank, title, style)
    _write(fig, store, "weights", out, fmt, dpi)


@plot_app.command("area")
def area(run: RunArgument, store: StoreOption = DEFAULT_STORE,
         metric: Annotated[str, typer.Option("--metric", "-m", help="A vector metric as HOOK/NAME, e.g. "
                                             "fourier/embed_power (`ol query \"SELECT DISTINCT source, name FROM "
                                             "arrays\"` lists them).")] = "",
         top_n: Annotated[int, typer.Option(min=1, help="Components drawn; the rest are one 'other' band.")] = 10,
         sort_by: Annotated[str, typer.Option(help="Stack by power (mean value), index, or acquired (when each "
                                              "first reached half its peak).")] = "power",
         normalize: Annotated[bool, typer.Option("--normalize", help="Each time's values as shares of their "
                                                 "sum.")] = False,
         style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """A vector metric's components over time as stacked areas (which frequencies a run acquires, and when)."""
    if not metric:
        raise typer.BadParameter("give --metric HOOK/NAME", param_hint="--metric")
    from ol.consumers.analytics import media_plots

    _write(media_plots.area(_open(store, [run]), metric, top_n, sort_by, normalize, style), store, "area", out,
           fmt, dpi)


@plot_app.command("heatmap")
def heatmap(run: RunArgument, store: StoreOption = DEFAULT_STORE,
            param: Annotated[str, typer.Option("--param", help="The parameter: its name, or the end of it "
                                               "('embed' for embed.weight).")] = "",
            svd_components: Annotated[int, typer.Option(min=1, help="Singular components drawn.")] = 8,
            checkpoint: Annotated[int | None, typer.Option(help="Draw the checkpoint nearest this step (default: "
                                                           "the final weights, else the newest checkpoint).")] = None,
            style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """A weight matrix as a heatmap, its top singular components, and its singular values over checkpoints."""
    if not param:
        raise typer.BadParameter("give --param NAME", param_hint="--param")
    from ol.consumers.analytics.weights import matrix_figure
    from ol.producer.weights import checkpoint_history, parameter, run_weights

    run_dir = resolve_run(store, run)
    weights_now, what = run_weights(run_dir, checkpoint)
    name, final = parameter(weights_now, param)
    fig = matrix_figure(name, final, checkpoint_history(run_dir, name), svd_components,
                        f"{name} of run {run_dir.name} ({what})", style)
    _write(fig, store, "heatmap", out, fmt, dpi)


@plot_app.command("trajectory")
def trajectory(runs: Runs, store: StoreOption = DEFAULT_STORE, style: Style = "paper", fmt: Fmt = "png",
               dpi: Dpi = 150, out: Out = None) -> None:
    """Runs' paths through weight space in their shared top-2 principal components, coloured by epoch, with
    where each reached its target marked (record them with `ol train --record-trajectory`)."""
    from ol.consumers.analytics.trajectory import trajectory as draw

    _write(draw(_open(store, runs), style), store, "trajectory", out, fmt, dpi)


@plot_app.command("probe")
def probe(run: RunArgument, store: StoreOption = DEFAULT_STORE,
          b: Annotated[int, typer.Option("--b", help="The fixed second input.")] = 0,
          position: Annotated[str, typer.Option(help="Whose representation: 0 (a's token), 1 (b's) or mean.")] = "0",
          checkpoint: Annotated[int | None, typer.Option(help="The checkpoint nearest this step (default: the final "
                                                         "weights, else the newest checkpoint).")] = None,
          style: Style = "paper", fmt: Fmt = "png", dpi: Dpi = 150, out: Out = None) -> None:
    """The trained model's activations over every input a for a fixed b: learned Fourier features as waves."""
    if position not in ("0", "1", "mean"):
        raise typer.BadParameter("0, 1 or mean", param_hint="--position")
    import torch

    from ol import experiments
    from ol.consumers.analytics.weights import probe_figure
    from ol.producer.weights import run_state
    from ol.store import run_started

    run_dir = resolve_run(store, run)
    started = run_started(run_dir)
    if started is None:
        raise UsageError(f"plot: run {run_dir.name} has no readable run-started event",
                         hint=f"ol verify {run_dir.name}")
    exp = experiments.get(started.experiment)
    config = exp.resolve_config(None, started.config)
    state, what = run_state(run_dir, checkpoint)
    model = exp.setup(config, started.strategy, started.seed or 0, torch.device("cpu")).model
    model.load_state_dict(state)
    model.eval()
    activations = exp.probe(model, config, b, position)
    title = (f"{started.experiment} · {started.strategy} · seed {started.seed}: representation of a with b = {b} "
             f"({what})")
    _write(probe_figure(activations, b, position, title, style), store, "probe", out, fmt, dpi)
