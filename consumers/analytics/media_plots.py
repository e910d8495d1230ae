"""Plots of vector and media events: a histogram's distribution over steps (as TensorBoard's distributions,
but as one heatmap), a run's images at chosen steps, and a vector metric (a hook's array) as stacked areas.

Data come from the ``histograms``, ``images`` and ``arrays`` views, so they see what `ol query` sees.
"""

from __future__ import annotations

import io

import numpy as np

from ol.consumers.analytics.labels import run_labels
from ol.consumers.analytics.plots import _figure, plt, use_style
from ol.consumers.analytics.sql import StoreConnection
from ol.errors import ConsumerError, UsageError

ROWS = 80  # value bins of the heatmap: every step's own bins are redistributed onto one grid
MAX_IMAGES = 8


def _named(conn: StoreConnection, view: str, metric: str) -> tuple[str, str]:
    """(source, name) of ``metric`` as logged ('w', or 'eval/w' for another source), or a ConsumerError
    listing what the run logged in that view."""
    source, _, name = metric.rpartition("/") if "/" in metric else ("train", "", metric)
    found = conn.query(f"SELECT DISTINCT source, name FROM {view}").to_pylist()
    known = {(r["source"], r["name"]) for r in found}
    if (source, name) in known:
        return source, name
    if ("train", metric) in known:  # a name with '/' in it, logged by the training loop
        return "train", metric
    spelled = sorted(n if s == "train" else f"{s}/{n}" for s, n in known)
    listing = ", ".join(spelled[:12]) if spelled else f"none: these runs logged no {view}"
    raise ConsumerError(f"plot: no {view[:-1]} named {metric!r} in these runs", hint=f"logged: {listing}")


def histogram(conn: StoreConnection, metric: str, style: str = "paper"):
    """One heatmap per run: x the step, y the value, colour the share of the step's values in each value bin
    (each step's bins redistributed onto one grid spanning every step's range)."""
    source, name = _named(conn, "histograms", metric)
    rows = conn.query("SELECT run_id, step, edges, counts FROM histograms WHERE source = $s AND name = $n "
                      "ORDER BY run_id, step", {"s": source, "n": name}).to_pylist()
    labels = run_labels(conn)
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run_id"], []).append(r)
    low = min(r["edges"][0] for r in rows)
    high = max(r["edges"][-1] for r in rows)
    grid_edges = np.linspace(low, high if high > low else low + 1.0, ROWS + 1)
    fig, axes = _figure(style, len(by_run), f"{metric}: distribution over steps")
    for ax, (run_id, hist) in zip(axes, by_run.items(), strict=True):
        steps = np.array([h["step"] for h in hist])
        grid = np.zeros((ROWS, len(hist)))
        for j, h in enumerate(hist):
            # each bin's count spread evenly over its width: the step's cumulative count at the grid's
            # edges, differenced, so bins wider or narrower than the grid's rows leave no gaps
            edges, counts = np.asarray(h["edges"]), np.asarray(h["counts"])
            cumulative = np.interp(grid_edges, edges, np.concatenate([[0.0], np.cumsum(counts)]))
            grid[:, j] = np.diff(cumulative)
            total = grid[:, j].sum()
            if total > 0:
                grid[:, j] /= total
        half = (steps[-1] - steps[0]) / max(1, len(steps) - 1) / 2 or 0.5
        image = ax.imshow(grid, aspect="auto", origin="lower", interpolation="nearest", cmap="viridis",
                          extent=(steps[0] - half, steps[-1] + half, grid_edges[0], grid_edges[-1]))
        ax.set_title(labels.get(run_id, run_id))
        ax.set_xlabel("step (optimiser updates)")
        ax.set_ylabel(f"{name} value")
        fig.colorbar(image, ax=ax, label="share of values")
    return fig


def images(conn: StoreConnection, metric: str, steps: list[int] | None = None, style: str = "paper"):
    """A run's images named ``metric``: at ``steps`` (the nearest logged step to each), else up to eight spread
    over the run; one row per run, titled with the step."""
    source, name = _named(conn, "images", metric)
    rows = conn.query("SELECT run_id, step, caption, data FROM images WHERE source = $s AND name = $n "
                      "ORDER BY run_id, step", {"s": source, "n": name}).to_pylist()
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run_id"], []).append(r)
    chosen = {run_id: _pick(found, steps) for run_id, found in by_run.items()}
    cols = max(len(v) for v in chosen.values())
    labels = run_labels(conn)
    use_style(style)
    fig, axes = plt.subplots(len(chosen), cols, figsize=(1.9 * cols + 0.4, 2.1 * len(chosen) + 0.4),
                             squeeze=False, constrained_layout=True)
    fig.suptitle(f"{metric}: images by step")
    for row, (run_id, picked) in zip(axes, chosen.items(), strict=True):
        for ax in row:
            ax.set_axis_off()
        for ax, r in zip(row, picked, strict=False):
            ax.imshow(plt.imread(io.BytesIO(r["data"]), format=None), interpolation="nearest",
                      cmap="gray" if _grey(r["data"]) else None)
            ax.set_title(f"step {r['step']}" + (f"\n{r['caption']}" if r["caption"] else ""), fontsize=8)
        row[0].set_axis_on()
        row[0].set_xticks([])
        row[0].set_yticks([])
        row[0].set_ylabel(labels.get(run_id, run_id), fontsize=8)
    return fig


def _pick(found: list[dict], steps: list[int] | None) -> list[dict]:
    if steps:
        at = np.array([r["step"] for r in found])
        return [found[int(np.abs(at - s).argmin())] for s in steps][:MAX_IMAGES]
    if len(found) <= MAX_IMAGES:
        return found
    return [found[int(i)] for i in np.linspace(0, len(found) - 1, MAX_IMAGES).round()]


def _grey(data: bytes) -> bool:
    """A one-channel PNG (colour type 0): drawn with a grey map, not matplotlib's default colours."""
    return data[:8] == b"\x89PNG\r\n\x1a\n" and data[25] == 0


SORTS = ("power", "index", "acquired")


def area(conn: StoreConnection, metric: str, top_n: int = 10, sort_by: str = "power", normalize: bool = False,
         style: str = "paper"):
    """A vector metric over time as stacked areas (the Fourier hook's power per frequency: which frequencies
    the network acquires, and when): its ``top_n`` components by mean value, the rest as one 'other' band.
    ``sort_by`` stacks them by mean power, by index, or by when each first reached half its peak."""
    if sort_by not in SORTS:
        raise UsageError(f"plot: --sort-by is one of {', '.join(SORTS)}, not {sort_by!r}")
    source, name = _named(conn, "arrays", metric.removeprefix("hooks/"))  # as replays spell a hook's metric too
    rows = conn.query("SELECT run_id, coalesce(epoch, step) AS t, epoch IS NOT NULL AS by_epoch, \"values\" "
                      "FROM arrays WHERE source = $s AND name = $n ORDER BY run_id, step",
                      {"s": source, "n": name}).to_pylist()
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run_id"], []).append(r)
    labels = run_labels(conn)
    fig, axes = _figure(style, len(by_run), f"{metric} over time" + (" (shares)" if normalize else ""))
    for ax, (run_id, found_rows) in zip(axes, by_run.items(), strict=True):
        width = max(len(r["values"]) for r in found_rows)
        grid = np.zeros((len(found_rows), width))
        for i, r in enumerate(found_rows):
            grid[i, : len(r["values"])] = np.nan_to_num(np.asarray(r["values"], dtype=float))
        if normalize:
            totals = grid.sum(axis=1, keepdims=True)
            grid = np.divide(grid, totals, out=np.zeros_like(grid), where=totals > 0)
        times = np.array([r["t"] for r in found_rows], dtype=float)
        chosen = np.argsort(-grid.mean(axis=0), kind="stable")[:top_n]
        if sort_by == "index":
            chosen = np.sort(chosen)
        elif sort_by == "acquired":  # first time each reached half its own peak
            reached = [times[np.argmax(grid[:, k] >= grid[:, k].max() / 2)] for k in chosen]
            chosen = chosen[np.argsort(reached, kind="stable")]
        rest = np.delete(grid, chosen, axis=1).sum(axis=1)
        bands = [grid[:, k] for k in chosen] + ([rest] if rest.any() else [])
        names = [f"[{k}]" for k in chosen] + (["other"] if rest.any() else [])
        colours = [plt.cm.viridis(i / max(1, len(chosen) - 1)) for i in range(len(chosen))] + ["#bbbbbb"]
        ax.stackplot(times, bands, labels=names, colors=colours[: len(bands)], linewidth=0)
        ax.set_title(labels.get(run_id, run_id))
        ax.set_xlabel("epoch" if found_rows[0]["by_epoch"] else "step (optimiser updates)")
        ax.set_ylabel(f"{name}\n(share of the total)" if normalize else name)
        ax.legend(title="index", fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
