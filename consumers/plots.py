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

matplotlib.use("Agg")  # files only: no display needed, works on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ol.consumers.export import ExportSpec, per_run  # noqa: E402
from ol.consumers.metric_names import MetricId, resolve  # noqa: E402
from ol.consumers.sql import StoreConnection  # noqa: E402
from ol.schemas import OlError  # noqa: E402

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


def y_label(metric: str) -> str:
    if metric.endswith("_acc") or metric.endswith("accuracy"):
        return f"{metric} (fraction correct)"
    if "loss" in metric:
        return f"{metric} (nats)"
    if metric == "lr":
        return "learning rate"
    return metric


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


def run_labels(conn: StoreConnection) -> dict[str, str]:
    rows = conn.query("SELECT run_id, strategy, seed FROM runs ORDER BY run_id").to_pylist()
    labels = {r["run_id"]: f"{r['strategy'] or 'run'} · seed {r['seed']}" for r in rows}
    counts = defaultdict(int)
    for label in labels.values():
        counts[label] += 1
    return {k: (f"{v} ({k[-6:]})" if counts[v] > 1 else v) for k, v in labels.items()}


def series(conn: StoreConnection, metric: MetricId, x: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """run_id -> (x values, metric values), ordered by step: one metric of one source."""
    xcol = {"step": "m.step", "epoch": "m.epoch", "time": "t.time"}[x]
    sql = (f"SELECT m.run_id, {xcol} AS x, m.value FROM metrics m "
           "LEFT JOIN (SELECT run_id, step, max(time) AS time FROM steps GROUP BY ALL) t USING (run_id, step) "
           "WHERE m.source = $source AND m.name = $name AND x IS NOT NULL ORDER BY m.run_id, m.step")
    out: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in conn.query(sql, {"source": metric.source, "name": metric.name}).to_pylist():
        xs, ys = out[row["run_id"]]
        xs.append(row["x"])
        ys.append(np.nan if row["value"] is None else row["value"])
    return {k: (np.asarray(v[0], dtype=float), np.asarray(v[1], dtype=float)) for k, v in out.items()}


def _figure(style: str, n: int = 1, title: str = ""):
    if style not in STYLES:
        raise OlError(f"plot: unknown style {style!r}; choose dark or paper")
    plt.rcParams.update(plt.rcParamsDefault)
    plt.rcParams.update(STYLES[style])
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    width = 3.4 * cols if style == "paper" else 5.0 * cols
    fig, axes = plt.subplots(rows, cols, figsize=(width, (2.6 if style == "paper" else 3.6) * rows),
                             squeeze=False, constrained_layout=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, list(axes.flat[:n])


def curves(conn, metrics: list[str], layout: str = "overlay", group_by: str = "metric", smooth: float = 0.0,
           log_y: bool = False, x: str = "step", x_range: tuple[float, float] | None = None, style: str = "dark"):
    ids = resolve(conn, metrics, "plot")
    if layout not in ("overlay", "grid") or group_by not in ("metric", "strategy") or x not in X_LABELS:
        raise OlError("plot: --layout overlay|grid, --group-by strategy|metric, --x step|epoch|time")
    if not 0 <= smooth < 1:
        raise OlError(f"plot: --smooth must be in [0, 1), got {smooth}")
    labels = run_labels(conn)
    strategies = {r["run_id"]: r["strategy"] for r in conn.query("SELECT run_id, strategy FROM runs").to_pylist()}
    data = {m: series(conn, i, x) for m, i in zip(metrics, ids, strict=True)}
    for m, i in zip(metrics, ids, strict=True):
        if not data[m]:  # an empty panel would be a silent wrong answer
            raise OlError(f"plot: {i} has no points with a {x} in these runs" +
                          ("; try --x step" if x != "step" else ""))
    if layout == "overlay":
        panels = {"": [(m, r) for m in metrics for r in data[m]]}
    elif group_by == "metric":
        panels = {m: [(m, r) for r in data[m]] for m in metrics}
    else:
        panels = {s: [(m, r) for m in metrics for r in data[m] if strategies.get(r) == s]
                  for s in sorted(set(strategies.values()))}
    fig, axes = _figure(style, len(panels), f"{', '.join(metrics)} by {x}" + (f" (EMA {smooth})" if smooth else ""))
    for ax, (name, lines) in zip(axes, panels.items(), strict=True):
        for metric, run_id in lines:
            xs, ys = data[metric][run_id]
            per_metric_panel = layout == "grid" and group_by == "metric"
            label = labels.get(run_id, run_id) + (f" · {metric}" if len(metrics) > 1 and not per_metric_panel else "")
            ax.plot(xs, ema(ys, smooth), label=label, linewidth=1.2)
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel(y_label(metrics[0]) if len(metrics) == 1 or group_by == "metric" and name else "value")
        if name:
            ax.set_title(name)
        if log_y:
            ax.set_yscale("log")
        if x_range:
            ax.set_xlim(*x_range)
        ax.grid(True, alpha=0.4)
        if lines:
            ax.legend(loc="best")
    return fig


def compare(conn, metric: str, stat: str = "final", style: str = "dark"):
    table = per_run(conn, ExportSpec([metric], stat, command="plot")).to_pylist()
    if all(r[metric] is None for r in table):
        raise OlError(f"plot: no run has a {stat} value of {metric}")
    by_strategy = defaultdict(list)
    for r in table:
        if r[metric] is not None:
            by_strategy[r["strategy"] or "run"].append(r[metric])
    fig, (ax,) = _figure(style, 1, f"{stat} {metric} per strategy (mean ± std over runs)")
    names = sorted(by_strategy)
    means = [float(np.mean(by_strategy[n])) for n in names]
    stds = [float(np.std(by_strategy[n], ddof=1)) if len(by_strategy[n]) > 1 else 0.0 for n in names]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ax.bar(names, means, yerr=stds, capsize=4, color=[colors[i % len(colors)] for i in range(len(names))],
           alpha=0.8, label="mean ± std")
    for i, n in enumerate(names):
        ax.scatter([i] * len(by_strategy[n]), by_strategy[n], color="black" if style == "paper" else "white",
                   s=12, zorder=3, label="runs (seeds)" if i == 0 else None)
    ax.set_xlabel("strategy")
    ax.set_ylabel(y_label(metric))
    ax.legend(loc="best")
    return fig


def convergence(conn, metric: str, threshold: float, direction: str = "above", style: str = "dark"):
    spec = ExportSpec([metric], "first-crossing", threshold, direction, command="plot")
    rows = per_run(conn, spec).to_pylist()
    fig, (ax,) = _figure(style, 1, f"first epoch with {metric} {'≥' if direction == 'above' else '≤'} {threshold}")
    labels = run_labels(conn)
    names = [labels.get(r["run_id"], r["run_id"]) for r in rows]
    values = [r[metric] for r in rows]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    colour_of = {s: colors[i % len(colors)] for i, s in enumerate(strategies)}
    bars = ax.barh(names, [v if v is not None else 0 for v in values],
                   color=[colour_of[r["strategy"]] for r in rows])
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " never" if v is None else f" {v}",
                va="center")
    handles = [matplotlib.patches.Patch(color=colour_of[s], label=s or "run") for s in strategies]
    ax.legend(handles=handles, title="strategy", loc="best")
    ax.set_xlabel("epoch (step where a run has no epochs)")
    ax.set_ylabel("run (strategy · seed)")
    return fig


def correlation(conn, x_metric: str, y_metrics: list[str], trend: bool = False, style: str = "dark"):
    x_id, *y_ids = resolve(conn, [x_metric, *y_metrics], "plot")
    labels = run_labels(conn)
    fig, axes = _figure(style, len(y_metrics), f"correlation with {x_metric}")
    for ax, y_metric, y_id in zip(axes, y_metrics, y_ids, strict=True):
        rows = conn.query("SELECT a.run_id, a.value AS x, b.value AS y FROM metrics a JOIN metrics b "
                          "USING (run_id, step) WHERE a.source = $xs AND a.name = $x AND b.source = $ys AND "
                          "b.name = $y ORDER BY a.run_id",
                          {"xs": x_id.source, "x": x_id.name, "ys": y_id.source, "y": y_id.name}).to_pylist()
        if not rows:
            raise OlError(f"plot: {x_id} and {y_id} are never recorded at the same step in these runs, so there is "
                          "nothing to correlate")
        by_run = defaultdict(lambda: ([], []))
        for r in rows:
            by_run[r["run_id"]][0].append(r["x"])
            by_run[r["run_id"]][1].append(r["y"])
        for run_id, (xs, ys) in by_run.items():
            ax.scatter(xs, ys, s=8, alpha=0.7, label=labels.get(run_id, run_id))
        xs = np.array([r["x"] for r in rows], dtype=float)
        ys = np.array([r["y"] for r in rows], dtype=float)
        ok = np.isfinite(xs) & np.isfinite(ys)
        if trend and ok.sum() >= 2 and np.ptp(xs[ok]) > 0:
            slope, intercept = np.polyfit(xs[ok], ys[ok], 1)
            r = np.corrcoef(xs[ok], ys[ok])[0, 1]
            grid = np.linspace(xs[ok].min(), xs[ok].max(), 50)
            ax.plot(grid, slope * grid + intercept, linestyle="--", label=f"trend (r = {r:.2f})")
        ax.set_xlabel(y_label(x_metric))
        ax.set_ylabel(y_label(y_metric))
        ax.legend(loc="best")
    return fig


def layers(conn, prefix: str, style: str = "dark"):
    rows = conn.query("SELECT name, coalesce(epoch, step) AS t, avg(value) AS v FROM metrics "
                      "WHERE starts_with(name, $p) GROUP BY ALL ORDER BY name, t", {"p": prefix}).to_pylist()
    if not rows:
        raise OlError(f"plot: no metric names start with {prefix!r}; `ol query \"SELECT DISTINCT name FROM "
                      "metrics\"` lists them")
    names = list(dict.fromkeys(r["name"] for r in rows))
    times = sorted({r["t"] for r in rows})
    grid = np.full((len(names), len(times)), np.nan)
    index = {t: i for i, t in enumerate(times)}
    for r in rows:
        grid[names.index(r["name"]), index[r["t"]]] = np.nan if r["v"] is None else r["v"]
    fig, (ax,) = _figure(style, 1, f"{prefix}* over time")
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis",
                      extent=(times[0], times[-1], len(names) - 0.5, -0.5))
    ax.set_yticks(range(len(names)), [n[len(prefix):] or n for n in names])
    ax.set_xlabel("epoch")
    ax.set_ylabel("parameter")
    fig.colorbar(image, ax=ax, label="value")
    return fig


def save(fig, out: Path, fmt: str, dpi: int) -> Path:
    if fmt not in ("png", "svg", "pdf"):
        raise OlError(f"plot: unknown --format {fmt!r}; choose png, svg or pdf")
    out = Path(out)
    if out.suffix.lstrip(".") != fmt:
        out = out.with_suffix(f".{fmt}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format=fmt)
    plt.close(fig)
    return out
