"""Runs' paths through weight space (`ol plot trajectory`): the θ each recorded every N steps (the
``trajectory`` hook's arrays), projected onto the top two principal components of all the runs' points
together, so paths of different runs share one plane; coloured by epoch, with where each run reached its
target marked (its TargetReached event: the producer decided it, nothing is re-derived here)."""

from __future__ import annotations

import json

import numpy as np

from ol.consumers.analytics.labels import run_labels
from ol.consumers.analytics.plots import OKABE_ITO, plt, use_style
from ol.consumers.analytics.sql import StoreConnection
from ol.errors import ConsumerError


def shared_pca(paths: dict[str, np.ndarray], k: int = 2) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(each run's points in the top-k principal components of all points, the explained-variance share of
    each component). One SVD of the stacked, centred points; the components' signs are fixed so the first
    point of the first run has non-negative coordinates (a plot does not flip between identical inputs)."""
    stacked = np.concatenate(list(paths.values()))
    mean = stacked.mean(axis=0)
    _, sigma, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    basis = vt[:k]
    first = (stacked[0] - mean) @ basis.T
    basis = basis * np.where(first < 0, -1.0, 1.0)[:, None]
    total = float((sigma ** 2).sum()) or 1.0
    explained = np.zeros(k)
    explained[: min(k, sigma.size)] = (sigma[:k] ** 2) / total
    return {r: (p - mean) @ basis.T for r, p in paths.items()}, explained


def trajectory(conn: StoreConnection, style: str = "paper"):
    rows = conn.query("SELECT run_id, step, epoch, \"values\" FROM arrays WHERE source = 'trajectory' AND "
                      "name = 'trajectory' ORDER BY run_id, step").to_pylist()
    if not rows:
        raise ConsumerError("plot: these runs recorded no trajectory",
                            hint="train with `ol train EXP --record-trajectory [EVERY]`")
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run_id"], []).append(r)
    sizes = {len(v[0]["values"]) for v in by_run.values()}
    if len(sizes) > 1:
        raise ConsumerError("plot: these runs recorded trajectories of different sizes (other models, or another "
                            "--trajectory-dim)", hint="compare runs of one model recorded alike")
    paths = {r: np.array([p["values"] for p in points], dtype=np.float64) for r, points in by_run.items()}
    projected, explained = shared_pca(paths)
    targets = _target_steps(conn)
    labels = run_labels(conn)
    use_style(style)
    fig, ax = plt.subplots(figsize=(6.4, 5.0), constrained_layout=True)
    fig.suptitle(f"trajectories of {len(paths)} run(s) in their shared top-2 principal components")
    epochs = [p["epoch"] if p["epoch"] is not None else p["step"] for v in by_run.values() for p in v]
    norm = plt.Normalize(min(epochs), max(epochs))
    for i, (run_id, points) in enumerate(projected.items()):
        ax.plot(points[:, 0], points[:, 1], color=OKABE_ITO[i % len(OKABE_ITO)], linewidth=1, alpha=0.8,
                label=labels.get(run_id, run_id))
        when = [p["epoch"] if p["epoch"] is not None else p["step"] for p in by_run[run_id]]
        dots = ax.scatter(points[:, 0], points[:, 1], c=when, cmap="viridis", norm=norm, s=10, zorder=3)
        if run_id in targets:  # the recorded point nearest the step the run reached its target
            steps = np.array([p["step"] for p in by_run[run_id]])
            j = int(np.abs(steps - targets[run_id]).argmin())
            ax.scatter(points[j, 0], points[j, 1], marker="*", s=160, color=OKABE_ITO[i % len(OKABE_ITO)],
                       edgecolors="black", linewidths=0.6, zorder=4)
    if any(r in targets for r in projected):
        ax.scatter([], [], marker="*", s=120, color="white", edgecolors="black", label="target reached")
    ax.set_xlabel(f"PC1 ({explained[0]:.1%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.1%} of variance)")
    ax.legend(fontsize=7, loc="best")
    by_epoch = all(p["epoch"] is not None for v in by_run.values() for p in v)
    fig.colorbar(dots, ax=ax, label="epoch" if by_epoch else "step")
    return fig


def _target_steps(conn: StoreConnection) -> dict[str, int]:
    rows = conn.query("SELECT run_id, event FROM events WHERE kind = 'target_reached'").to_pylist()
    return {r["run_id"]: json.loads(r["event"])["step"] for r in rows}
