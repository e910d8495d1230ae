"""Weights compared across runs (`ol plot weights`): per-layer norms, singular value spectra, and the cosine
similarity of each layer between every pair of runs. Plain numpy arrays in, figures out; loading the
weights (torch) is the producer's (ol.producer.weights)."""

from __future__ import annotations

import numpy as np

from ol.errors import UsageError

ANALYSES = ("norms", "svd", "similarity")


def layer_names(runs: dict[str, dict[str, np.ndarray]], top: int) -> list[str]:
    """The layers every run has with the same shape, largest first, at most ``top`` of them."""
    first = next(iter(runs.values()))
    shared = [n for n in first if all(n in w and w[n].shape == first[n].shape for w in runs.values())]
    if not shared:
        raise UsageError("weights: these runs share no parameter of the same shape; compare runs of one model")
    return sorted(shared, key=lambda n: -first[n].size)[:top]


def short(layer: str, width: int = 28) -> str:
    """A parameter name that fits a panel: its last dotted parts, '…' for what was cut."""
    if len(layer) <= width:
        return layer
    parts, kept = layer.split("."), ""
    for part in reversed(parts):
        candidate = f"{part}.{kept}" if kept else part
        if len(candidate) + 1 > width:
            break
        kept = candidate
    return "…" + (kept or layer[-width + 1:])


def norms(runs: dict[str, dict[str, np.ndarray]], layers: list[str]) -> np.ndarray:
    """runs × layers Frobenius norms."""
    return np.array([[np.linalg.norm(w[n]) for n in layers] for w in runs.values()])


def singular_values(weight: np.ndarray, rank: int) -> np.ndarray:
    matrix = weight.reshape(weight.shape[0], -1) if weight.ndim > 1 else weight.reshape(1, -1)
    return np.linalg.svd(matrix, compute_uv=False)[:rank]


def similarity(runs: dict[str, dict[str, np.ndarray]], layer: str) -> np.ndarray:
    """runs × runs cosine similarity of one layer's flattened weights: 1 for identical weights, near 0 for
    independent random initialisations of a large layer."""
    flat = np.stack([w[layer].reshape(-1) for w in runs.values()])
    unit = flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-300)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def weights_figure(runs: dict[str, dict[str, np.ndarray]], labels: dict[str, str], analyses: list[str],
                   top: int, rank: int, title: str, style: str = "paper"):
    from ol.consumers.analytics.plots import OKABE_ITO, plt, use_style

    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown:
        raise UsageError(f"plot: unknown analysis {unknown[0]!r}", hint=f"choose from {', '.join(ANALYSES)}")
    layers = layer_names(runs, top)
    use_style(style)
    ids = list(runs)
    rows = {"norms": 1, "svd": 1, "similarity": 1}
    heights = {"norms": 2.8, "svd": 2.6, "similarity": 2.6 + 0.18 * len(ids)}
    cols = len(layers)
    fig = plt.figure(figsize=(max(6.5, 2.9 * cols), sum(heights[a] for a in analyses) + 0.6), constrained_layout=True)
    grid = fig.add_gridspec(sum(rows[a] for a in analyses), cols, height_ratios=[heights[a] for a in analyses])
    fig.suptitle(title)
    colours = {r: OKABE_ITO[i % len(OKABE_ITO)] for i, r in enumerate(ids)}
    for row, analysis in enumerate(analyses):
        if analysis == "norms":
            ax = fig.add_subplot(grid[row, :])
            values = norms(runs, layers)
            width = 0.8 / len(ids)
            for i, r in enumerate(ids):
                ax.bar(np.arange(cols) + (i - (len(ids) - 1) / 2) * width, values[i], width, label=labels[r],
                       color=colours[r])
            ax.set_xticks(range(cols), [short(n) for n in layers], rotation=15, ha="right", fontsize=8)
            ax.set_ylabel("Frobenius norm ‖W‖")
            ax.set_title("per-layer norms")
            ax.legend(fontsize=7, ncols=min(4, len(ids)))
        elif analysis == "svd":
            for c, layer in enumerate(layers):
                ax = fig.add_subplot(grid[row, c])
                for r in ids:
                    s = singular_values(runs[r][layer], rank)
                    ax.semilogy(np.arange(1, s.size + 1), np.maximum(s, 1e-12), color=colours[r], linewidth=1,
                                label=labels[r])
                ax.set_title(f"{short(layer)}\nsingular values", fontsize=8)
                ax.set_xlabel("index (largest first)")
                if c == 0:
                    ax.set_ylabel("singular value σᵢ")
        else:
            heatmaps = []
            for c, layer in enumerate(layers):
                ax = fig.add_subplot(grid[row, c])
                heatmaps.append(ax)
                sim = similarity(runs, layer)
                image = ax.imshow(sim, vmin=-1, vmax=1, cmap="RdBu_r")
                if len(ids) <= 6:  # the numbers themselves, where they fit
                    for (i, j), v in np.ndenumerate(sim):
                        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if abs(v) > 0.6 else "black")
                ax.set_xticks(range(len(ids)), [labels[r] for r in ids], rotation=30, ha="right", fontsize=7)
                ax.set_yticks(range(len(ids)), [labels[r] for r in ids], fontsize=7)
                ax.set_title(f"{short(layer)}\ncosine similarity", fontsize=8)
            fig.colorbar(image, ax=heatmaps, label="cos(Wᵢ, Wⱼ)", shrink=0.9)  # one scale for the row
    return fig


def matrix_figure(name: str, final: np.ndarray, history: list[tuple[int, np.ndarray]], components: int,
                  title: str, style: str = "paper"):
    """A weight matrix as a heatmap; its top singular values over the checkpoints; and the top left singular
    vectors of the matrix shown (for an embedding, over tokens: where Fourier features show as waves)."""
    from ol.consumers.analytics.plots import plt, use_style

    use_style(style)
    matrix = final.reshape(final.shape[0], -1) if final.ndim > 1 else final.reshape(1, -1)
    panels = 3 if history else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.0), constrained_layout=True, squeeze=False)
    axes = list(axes[0])
    fig.suptitle(title)
    bound = float(np.abs(matrix).max()) or 1.0
    image = axes[0].imshow(matrix, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
    axes[0].set_title(f"{short(name)}\n{matrix.shape[0]} × {matrix.shape[1]}", fontsize=9)
    axes[0].set_xlabel("column (input dimension)")
    axes[0].set_ylabel("row (e.g. token)")
    fig.colorbar(image, ax=axes[0], label="weight")
    u, sigma, _ = np.linalg.svd(matrix, full_matrices=False)
    k = min(components, sigma.size)
    ax = axes[1]
    for i in range(k):
        ax.plot(np.arange(matrix.shape[0]), u[:, i] * sigma[i], linewidth=0.9, label=f"σ{i + 1} = {sigma[i]:.3g}")
    ax.set_title(f"top {k} singular components", fontsize=9)
    ax.set_xlabel("row (e.g. token)")
    ax.set_ylabel("σᵢ · uᵢ")
    ax.legend(fontsize=6, ncols=2)
    if history:
        ax = axes[2]
        steps = [s for s, _ in history]
        values = np.array([singular_values(v, k) for _, v in history])
        for i in range(values.shape[1]):
            ax.plot(steps, values[:, i], marker="o", markersize=2, linewidth=1, label=f"σ{i + 1}")
        ax.set_title("singular values over checkpoints", fontsize=9)
        ax.set_xlabel("step (optimiser updates)")
        ax.set_ylabel("singular value σᵢ")
        ax.legend(fontsize=6, ncols=2)
    return fig


def probe_figure(activations: np.ndarray, b: int, position: str, title: str, style: str = "paper"):
    """Activations over every input a (rows) and unit (columns), units ordered by their dominant frequency
    over a; beside it, the power of each frequency over a, summed over units (learned Fourier features are a
    few strong frequencies)."""
    from ol.consumers.analytics.plots import plt, use_style

    use_style(style)
    acts = activations - activations.mean(axis=0, keepdims=True)
    power = np.abs(np.fft.rfft(acts, axis=0)) ** 2  # frequencies over a × units
    dominant = power[1:].argmax(axis=0) + 1
    order = np.lexsort((-power[1:].max(axis=0), dominant))
    fig, (heat, spec) = plt.subplots(1, 2, figsize=(9.5, 4.0), constrained_layout=True,
                                     gridspec_kw={"width_ratios": [3, 2]})
    fig.suptitle(title)
    bound = float(np.abs(acts).max()) or 1.0
    image = heat.imshow(acts[:, order].T, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound,
                        interpolation="nearest")
    heat.set_xlabel(f"input a (b = {b})")
    heat.set_ylabel("unit (ordered by dominant frequency)")
    heat.set_title(f"activations at position {position}, centred over a", fontsize=9)
    fig.colorbar(image, ax=heat, label="activation − its mean over a")
    total = power[1:].sum(axis=1)
    spec.bar(np.arange(1, total.size + 1), total / total.sum(), width=0.9, color="#0072B2")
    spec.set_xlabel("frequency k over a (cycles per p)")
    spec.set_ylabel("share of the power over a")
    spec.set_title("which frequencies the units carry", fontsize=9)
    return fig
