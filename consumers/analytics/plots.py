"""Plots of runs with matplotlib: curves, comparisons, convergence, correlation, per-layer heatmaps.

Every figure has a title, axis labels with units and a legend naming runs by strategy and seed.
Data come from the SQL views, so plots see exactly what `ol query` sees (resume projection included).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib
import matplotlib.patches
import matplotlib.ticker

matplotlib.use("Agg")  # files only: no display needed, works on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ol.consumers.analytics.export import ExportSpec, per_run  # noqa: E402
from ol.consumers.analytics.groups import aggregate  # noqa: E402
from ol.consumers.analytics.labels import label_axis, run_labels, setting_labels, units_of  # noqa: E402
from ol.consumers.analytics.metric_names import resolve  # noqa: E402
from ol.consumers.analytics.points import points  # noqa: E402
from ol.consumers.analytics.sql import StoreConnection  # noqa: E402
from ol.errors import ConsumerError, UsageError  # noqa: E402
from ol.store import BAND, STATISTICS, bootstrap_of, estimate, reached_interval  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
STYLES = {
    "dark": {"figure.facecolor": "#111418", "axes.facecolor": "#161a20", "axes.edgecolor": "#8a94a3",
             "axes.labelcolor": "#d8dee9", "text.color": "#d8dee9", "xtick.color": "#aab3c0",
             "ytick.color": "#aab3c0", "grid.color": "#2c333d", "legend.facecolor": "#161a20",
             "legend.edgecolor": "#2c333d", "axes.prop_cycle": matplotlib.cycler(color=[
                 "#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#4db6ac", "#fff176", "#f06292"])},
    "paper": {"figure.facecolor": "white", "axes.facecolor": "white", "font.family": "serif",
              "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
              "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO), "axes.spines.top": False,
              "axes.spines.right": False},
}
X_LABELS = {"step": "step (optimiser updates)", "epoch": "epoch", "time": "time since start (s)"}


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average that skips NaN (NaN points stay NaN, the average goes on)."""
    if weight <= 0:
        return values
    out = np.full_like(values, np.nan, dtype=float)
    acc, norm = 0.0, 0.0
    for i, v in enumerate(values):  # one pass over a plotted series, not a tensor: plain Python is fine
        if math.isnan(v):
            continue
        acc = weight * acc + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out[i] = acc / norm
    return out


LINESTYLES = ["-", "--", ":", "-."]


class Palette:
    """One colour per strategy, the same in every plot kind (strategies in sorted order take the style's
    colours in turn); the runs of one strategy share its colour and differ by line style."""

    def __init__(self, conn: StoreConnection):
        rows = conn.query("SELECT run_id, strategy FROM runs ORDER BY strategy, seed, run_id").to_pylist()
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        self.strategy_of = {r["run_id"]: r["strategy"] or "run" for r in rows}
        names = sorted(set(self.strategy_of.values()))
        self.colour = {s: colours[i % len(colours)] for i, s in enumerate(names)}
        seen: dict[str, int] = defaultdict(int)
        self.linestyle = {}
        for r in rows:
            s = self.strategy_of[r["run_id"]]
            self.linestyle[r["run_id"]] = LINESTYLES[seen[s] % len(LINESTYLES)]
            seen[s] += 1

    def of_run(self, run_id: str) -> dict:
        return {"color": self.colour.get(self.strategy_of.get(run_id, "run")), "linestyle": self.linestyle.get(run_id)}


def use_style(style: str) -> None:
    if style not in STYLES:
        raise UsageError(f"plot: unknown style {style!r}; choose paper or dark")
    plt.rcParams.update(plt.rcParamsDefault)
    plt.rcParams.update(STYLES[style])


def _figure(style: str, n: int = 1, title: str = ""):
    use_style(style)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    width = 3.4 * cols if style == "paper" else 5.0 * cols
    fig, axes = plt.subplots(rows, cols, figsize=(width, (2.6 if style == "paper" else 3.6) * rows),
                             squeeze=False, constrained_layout=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, list(axes.flat[:n])


# what a band is, in the key (as a table's caption says how its intervals were made)
BAND_KEYS = {"ci": "band: " + BAND.replace(" over seeds at", "\nover seeds at"), "std": "band: ± one std over seeds",
             "minmax": "band: min–max over seeds"}
BAND_COLUMNS = 400  # a band's points across a panel: finer than a printed figure shows


def curves(conn, metrics: list[str], layout: str = "overlay", group_by: str = "metric", smooth: float = 0.0,
           log_y: bool = False, x: str = "step", x_range: tuple[float, float] | None = None, style: str = "paper",
           band: str | None = None):
    """Metric curves, a line per run — or with ``band`` (ci, std or minmax) a line per setting (strategy and the
    config values that differ, never the seed) at the mean over its seeds, in its band."""
    ids = resolve(conn, metrics, "plot")
    if band is not None and band not in BAND_KEYS:
        raise UsageError(f"plot: --band is {', '.join(BAND_KEYS)}, not {band!r}")
    if layout not in ("overlay", "grid") or group_by not in ("metric", "strategy"):
        raise UsageError("plot: --layout overlay|grid, --group-by strategy|metric")
    x_label = X_LABELS.get(x) or x
    if x not in X_LABELS:  # another metric the runs logged (a step metric): by its name, as --metrics are
        x = str(resolve(conn, [x], "plot")[0])
    if not 0 <= smooth < 1:
        raise UsageError(f"plot: --smooth must be in [0, 1), got {smooth}")
    labels, units = run_labels(conn), units_of(conn)
    data = {m: points(conn, i, x) for m, i in zip(metrics, ids, strict=True)}
    for m, i in zip(metrics, ids, strict=True):
        if not data[m]:  # an empty panel would be a silent wrong answer
            raise UsageError(f"plot: {i} has no points with {'an' if x == 'epoch' else 'a'} {x} in these runs" +
                             ("; try --x step" if x != "step" else ""))
    use_style(style)
    palette = Palette(conn)
    if layout == "overlay":
        panels = {"": [(m, r) for m in metrics for r in data[m]]}
    elif group_by == "metric":
        panels = {m: [(m, r) for r in data[m]] for m in metrics}
    else:
        panels = {s: [(m, r) for m in metrics for r in data[m] if palette.strategy_of.get(r) == s]
                  for s in sorted(set(palette.strategy_of.values()))}
    fig, axes = _figure(style, len(panels), f"{', '.join(metrics)} by {x}" + (f" (EMA {smooth})" if smooth else "")
                        + (", mean over seeds" if band else ""))
    several = len(metrics) > 1 and not (layout == "grid" and group_by == "metric")  # metrics share a panel
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    settings = setting_labels(conn) if band else {}
    for ax, (name, lines) in zip(axes, panels.items(), strict=True):
        if band is not None:
            _bands(ax, lines, data, settings, palette, band, smooth, several, cycle, metrics)
            lines = []
        for metric, run_id in lines:
            xs, ys = data[metric][run_id]
            look = palette.of_run(run_id)
            if several:  # a colour per metric, a line style per run
                look = {"color": cycle[metrics.index(metric) % len(cycle)], "linestyle": look["linestyle"]}
            label = labels.get(run_id, run_id) + (f" · {metric}" if several else "")
            ax.plot(xs, ema(ys, smooth), label=label, linewidth=1.2, **look)
        ax.set_xlabel(x_label)
        if x == "epoch":  # epochs are counted: no tick at 2.5
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        shown = [name] if layout == "grid" and group_by == "metric" else metrics
        label_axis(ax.yaxis, shown, units)
        if name:
            ax.set_title(name)
        if log_y:
            ax.set_yscale("log")
        if x_range:
            ax.set_xlim(*x_range)
        ax.grid(True, alpha=0.4)
    shared_legend(fig, axes)
    return fig


def _bands(ax, lines, data, settings, palette, band, smooth, several, cycle, metrics) -> None:
    """One line per (metric, setting) at the mean over its runs, in its band (analytics/groups.py: the dashboard's
    grouping, on a grid of BAND_COLUMNS over the setting's x range)."""
    members: dict[tuple[str, str], list[str]] = {}
    for metric, run_id in lines:
        members.setdefault((metric, settings[run_id]), []).append(run_id)
    styles: dict[str, int] = defaultdict(int)
    for (metric, setting), runs in members.items():
        xs = np.concatenate([data[metric][r][0] for r in runs]).astype(float)
        (found,) = aggregate({setting: runs}, lambda r, m=metric: data[m][r], (xs.min(), xs.max()), band,
                             BAND_COLUMNS)
        strategy = palette.strategy_of.get(runs[0], "run")
        colour = cycle[metrics.index(metric) % len(cycle)] if several else palette.colour.get(strategy)
        linestyle = LINESTYLES[styles[(metric, strategy)] % len(LINESTYLES)]
        styles[(metric, strategy)] += 1
        curve = [np.asarray(found[k], dtype=float) for k in ("x", "mean", "lo", "hi")]
        mean, lo, hi = (ema(v, smooth) for v in curve[1:])
        over = f"mean of {len(runs)}" if len(runs) > 1 else "1 run"
        label = f"{setting}{f' · {metric}' if several else ''} ({over})"
        ax.plot(curve[0], mean, color=colour, linestyle=linestyle, linewidth=1.4, label=label)
        ax.fill_between(curve[0], lo, hi, color=colour, alpha=0.2, linewidth=0)
    ax.fill_between([], [], color="grey", alpha=0.25, linewidth=0, label=BAND_KEYS[band])


def _title_clear_of_key(fig) -> None:
    """The figure's title over the panels' side, so a long one never runs into a key beside them."""
    if fig.get_suptitle():
        fig.suptitle(fig.get_suptitle(), x=0.01, horizontalalignment="left")


def shared_legend(fig, axes) -> None:
    """One legend for the figure, under its panels: every panel draws the same runs, so one key says it."""
    handles, names = [], []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if not handles:
        return
    if len(axes) == 1 and len(handles) <= 4:
        axes[0].legend(handles, names, loc="best")
    elif len(axes) == 1:  # beside the panel, never over the data: the figure widens by the key's width
        width, height = fig.get_size_inches()
        fig.set_size_inches(width + 0.09 * max(len(line) for n in names for line in n.split("\n")) + 0.8, height)
        _title_clear_of_key(fig)
        fig.legend(handles, names, loc="outside right upper")
    else:
        columns = max(1, min(4, len(handles), int(fig.get_figwidth() / 2.4)))  # as many as fit across
        width, height = fig.get_size_inches()  # room for the key, so the panels keep their height
        fig.set_size_inches(width, height + 0.2 * math.ceil(len(handles) / columns) + 0.2)
        fig.legend(handles, names, loc="outside lower center", ncol=columns)


def compare(conn, metric: str, stat: str = "final", style: str = "paper", estimator: str = "mean"):
    table = per_run(conn, ExportSpec([metric], stat, command="plot", estimator=estimator)).to_pylist()
    if all(r[metric] is None for r in table):
        raise ConsumerError(f"plot: no run has a {stat} value of {metric}")
    by_strategy = defaultdict(list)
    for r in table:
        if r[metric] is not None:
            by_strategy[r["strategy"] or "run"].append(r[metric])
    several = any(len(v) > 1 for v in by_strategy.values())
    over = "mean" if estimator == "mean" else "IQM"
    fig, (ax,) = _figure(style, 1, f"{stat} {metric} per strategy" + (f"\n({over} over seeds)" if several else ""))
    fig.set_size_inches(max(fig.get_figwidth(), 1.3 * len(by_strategy) + 1.5), fig.get_figheight() + 0.9)
    palette = Palette(conn)
    names = sorted(by_strategy)
    found = [estimate(by_strategy[n], estimator) for n in names]
    means = [e.value for e in found]
    spread = [[e.value - e.low if e.low is not None else 0.0 for e in found],
              [e.high - e.value if e.high is not None else 0.0 for e in found]]
    ax.bar(names, means, yerr=spread if several else None, capsize=4, alpha=0.8,
           color=[palette.colour.get(n) for n in names])
    dots = "black" if style == "paper" else "white"
    for i, n in enumerate(names):
        ax.scatter([i] * len(by_strategy[n]), by_strategy[n], color=dots, s=12, zorder=3)
    if several:  # the key explains the marks, in neutral colours: the bars' colours are the strategies'
        # the key says how the interval was made, as a table's caption does
        method = bootstrap_of(estimator).replace(f" intervals of {STATISTICS[estimator]} over seeds (", " interval\n(")
        fig.legend(handles=[matplotlib.patches.Patch(facecolor="lightgrey", edgecolor="grey",
                                                    label=f"{over}, {method}"),
                           plt.Line2D([], [], marker="o", linestyle="", color=dots, label="runs (seeds)")],
                  loc="outside lower center")  # below: it hides no run
    ax.set_xlabel("strategy")
    label_axis(ax.yaxis, [metric], units_of(conn))
    ax.tick_params(axis="x", labelrotation=20)  # long strategy names must not run into each other
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    return fig


def convergence(conn, metric: str, threshold: float, direction: str = "above", style: str = "paper"):
    (metric_id,) = resolve(conn, [metric], "plot")
    spec = ExportSpec([metric], "first-crossing", threshold, direction, command="plot")
    rows = per_run(conn, spec).to_pylist()
    reach = conn.query("SELECT run_id, max(coalesce(epoch, step)) AS last FROM metrics WHERE source = $s AND "
                       "name = $n GROUP BY ALL", {"s": metric_id.source, "n": metric_id.name}).to_pylist()
    last = {r["run_id"]: r["last"] for r in reach}
    fig, (ax,) = _figure(style, 1, f"epochs until {metric} {'≥' if direction == 'above' else '≤'} {threshold}")
    palette, labels = Palette(conn), run_labels(conn)
    names = [labels.get(r["run_id"], r["run_id"]) for r in rows]
    for i, r in enumerate(rows):
        colour = palette.colour.get(r["strategy"] or "run")
        if r[metric] is not None:
            ax.barh(i, r[metric], color=colour)
            ax.text(r[metric], i, f" {r[metric]:g}", va="center")
        else:  # where it stopped without getting there: a hollow bar to its last epoch
            stop = last.get(r["run_id"]) or 0
            ax.barh(i, stop, color="none", edgecolor=colour, hatch="//", linewidth=1)
            ax.text(stop, i, f" – (stopped at {stop:g})", va="center")
    ax.set_yticks(range(len(rows)), names)
    ax.set_xlim(0, max([*(r[metric] or 0 for r in rows), *(v or 0 for v in last.values()), 1]) * 1.3)
    fig.set_size_inches(max(fig.get_figwidth(), 6.0), 1.6 + 0.28 * len(rows))  # a readable row per run
    # per setting (strategy and the config values that differ): k of n reached and the epochs, with intervals
    settings, by_setting, colour_of = setting_labels(conn), defaultdict(list), {}
    for r in rows:
        setting = settings.get(r["run_id"], r["strategy"] or "run")
        by_setting[setting].append(r[metric])
        colour_of[setting] = palette.colour.get(r["strategy"] or "run")  # a setting is of one strategy
    handles = []
    for setting, epochs in sorted(by_setting.items()):
        got = [e for e in epochs if e is not None]
        share = reached_interval(len(got), len(epochs))
        found = estimate(got)
        text = f"{setting}: {len(got)} of {len(epochs)} [{share[0]:.2f}, {share[1]:.2f}]"
        if found is not None:  # one run's epoch as it is; a mean over several with its interval
            text += (f", epoch {found.value:g}" if found.low is None else
                     f", epoch {found.value:.1f} [{found.low:.1f}, {found.high:.1f}]")
        handles.append(matplotlib.patches.Patch(color=colour_of[setting], label=text))
    handles.append(matplotlib.patches.Patch(facecolor="none", edgecolor="grey", hatch="//", label="not reached"))
    method = bootstrap_of("mean").replace(" of the mean over seeds (", "\nof the mean (")
    handles.append(matplotlib.patches.Patch(color="none", label=f"{method};\nk of n: exact Clopper–Pearson"))
    longest = max(len(line) for h in handles for line in h.get_label().split("\n"))
    fig.set_size_inches(fig.get_figwidth() + 0.07 * longest + 0.6, fig.get_figheight())  # the key beside the bars
    fig.legend(handles=handles, loc="outside right upper", title="reached: k of n · epoch: mean [95 % interval]")
    _title_clear_of_key(fig)
    ax.set_xlabel("epoch")
    ax.set_ylabel("run")
    return fig


def correlation(conn, x_metric: str, y_metrics: list[str], trend: bool = False, style: str = "paper"):
    x_id, *y_ids = resolve(conn, [x_metric, *y_metrics], "plot")
    fig, axes = _figure(style, len(y_metrics), f"correlation with {x_metric}")
    palette, units = Palette(conn), units_of(conn)
    for ax, y_metric, y_id in zip(axes, y_metrics, y_ids, strict=True):
        rows = conn.query("SELECT a.run_id, a.value AS x, b.value AS y FROM metrics a JOIN metrics b "
                          "USING (run_id, step) WHERE a.source = $xs AND a.name = $x AND b.source = $ys AND "
                          "b.name = $y ORDER BY a.run_id",
                          {"xs": x_id.source, "x": x_id.name, "ys": y_id.source, "y": y_id.name}).to_pylist()
        if not rows:
            raise ConsumerError(f"plot: {x_id} and {y_id} are never recorded at the same step in these runs, so "
                                "there is nothing to correlate")
        by_run = defaultdict(lambda: ([], []))
        for r in rows:
            by_run[r["run_id"]][0].append(r["x"])
            by_run[r["run_id"]][1].append(r["y"])
        by_strategy = defaultdict(lambda: ([], []))
        for run_id, (xs, ys) in by_run.items():  # a colour per strategy, so the key names strategies, not runs
            strategy = palette.strategy_of.get(run_id, "run")
            ax.scatter(xs, ys, s=8, alpha=0.7, label=strategy, color=palette.colour.get(strategy))
            group = by_strategy[strategy]
            group[0].extend(xs)
            group[1].extend(ys)
        if trend:  # one fit per strategy, in its colour, drawn only over the x its runs cover
            for strategy, (gx, gy) in sorted(by_strategy.items()):
                xs, ys = np.array(gx, dtype=float), np.array(gy, dtype=float)
                ok = np.isfinite(xs) & np.isfinite(ys)
                if ok.sum() < 2 or np.ptp(xs[ok]) == 0:
                    continue
                slope, intercept = np.polyfit(xs[ok], ys[ok], 1)
                r = np.corrcoef(xs[ok], ys[ok])[0, 1]
                grid = np.linspace(xs[ok].min(), xs[ok].max(), 50)
                ax.plot(grid, slope * grid + intercept, linestyle="--", color=palette.colour.get(strategy),
                        label=f"{strategy} fit (r = {r:.2f})")
        label_axis(ax.xaxis, [x_metric], units)
        label_axis(ax.yaxis, [y_metric], units)
        ax.grid(True, alpha=0.4)
    shared_legend(fig, axes)
    return fig


def layers(conn, prefix: str, style: str = "paper", normalise: str = "none", log: bool = False):
    """Per-parameter metrics (names sharing a prefix) over time, a row each. ``normalise="row"`` scales each row
    to its own range, so one large row (an embedding) does not flatten the rest; ``log`` colours by log10."""
    if normalise not in ("none", "row"):
        raise UsageError(f"plot: --normalise is none or row, not {normalise!r}")
    source, name_prefix = _layer_prefix(conn, prefix)
    rows = conn.query("SELECT name, coalesce(epoch, step) AS t, avg(value) AS v FROM metrics WHERE starts_with(name, "
                      "$p) AND ($s IS NULL OR source = $s) GROUP BY ALL ORDER BY name, t",
                      {"p": name_prefix, "s": source}).to_pylist()
    prefix = name_prefix
    if not rows:
        raise ConsumerError(f"plot: no metric names start with {prefix!r}",
                            hint='`ol query "SELECT DISTINCT source, name FROM metrics"` lists them')
    names = list(dict.fromkeys(r["name"] for r in rows))
    times = sorted({r["t"] for r in rows})
    grid = np.full((len(names), len(times)), np.nan)
    index = {t: i for i, t in enumerate(times)}
    for r in rows:
        grid[names.index(r["name"]), index[r["t"]]] = np.nan if r["v"] is None else r["v"]
    label = "value"
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            grid = np.where(grid > 0, np.log10(grid), np.nan)
        label = "log10 value"
    if normalise == "row":
        low, high = np.nanmin(grid, axis=1, keepdims=True), np.nanmax(grid, axis=1, keepdims=True)
        grid = (grid - low) / np.where(high > low, high - low, 1.0)
        label = f"{label}, per row\n(0 = row min, 1 = max)"
    fig, (ax,) = _figure(style, 1, f"{prefix}* over time")
    fig.set_size_inches(max(fig.get_figwidth(), 6.0), max(fig.get_figheight(), 1.5 + 0.22 * len(names)))
    half = (times[-1] - times[0]) / max(1, len(times) - 1) / 2  # each cell centred on its epoch
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis",
                      extent=(times[0] - half, times[-1] + half, len(names) - 0.5, -0.5))
    ax.set_yticks(range(len(names)), [n[len(prefix):] or n for n in names])
    ax.set_xlabel("epoch")
    ax.set_ylabel("parameter")
    fig.colorbar(image, ax=ax, label=label)
    return fig


def _layer_prefix(conn, prefix: str) -> tuple[str | None, str]:
    """(source, name prefix) of a --metric prefix spelled as the metric names are everywhere else:
    'hooks/weight_tracking/frobenius/', 'weight_tracking/frobenius/' or just 'frobenius/'."""
    rest = prefix[len("hooks/"):] if prefix.startswith("hooks/") else prefix
    head, _, tail = rest.partition("/")
    sources = {r["source"] for r in conn.query("SELECT DISTINCT source FROM metric_stats").to_pylist()}
    return (head, tail) if head in sources else (None, rest)


def save(fig, out: Path, fmt: str, dpi: int) -> Path:
    if fmt not in ("png", "svg", "pdf"):
        raise UsageError(f"plot: unknown --format {fmt!r}; choose png, svg or pdf")
    out = Path(out)
    if out.suffix.lstrip(".") != fmt:
        out = out.with_suffix(f".{fmt}")
    out.parent.mkdir(parents=True, exist_ok=True)
    title = fig.get_suptitle()  # the file says what it shows: image viewers and file managers read this
    fig.savefig(out, dpi=dpi, format=fmt, metadata={"Title": title} if title else None)
    plt.close(fig)
    return out
