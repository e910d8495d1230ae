"""Spectral analysis of a data order itself, before any training (`ol analyze order`).

Input: one epoch's sample stream, each component an integer sequence in Z/m in feeding order, and the
batch size. Per component:

- the one-sided power spectrum of the mean-removed sequence, |rfft(x − x̄)|² / N, at frequencies
  k/N cycles per example (the peak, DC excluded, with its share of the total power);
- the autocorrelation up to a lag, by FFT (zero-padded, so circular wrap-around does not leak in);
- per (full) batch: the value entropy normalised by log min(B, m), and the coverage, distinct values / m;
- the distribution of consecutive modular differences (x[i+1] − x[i]) mod m;
- the per-batch spectrum over Z/mZ, |FFT(histogram)_k|² / B for k = 1 … min(m/2, 500), averaged over
  batches: ≈ 1 for batches drawn uniformly at random, large where an order packs a batch with structure.

All vectorised with numpy: the paper sizes (p = 9973, 300,000 pairs) take seconds.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np

MAX_ZP_FREQUENCY = 500


@dataclass
class ComponentOrder:
    frequencies: np.ndarray  # cycles per example, k/N for k = 1 … N/2
    power: np.ndarray
    autocorrelation: np.ndarray  # lags 0 … lag
    batch_entropy: np.ndarray  # per full batch, in [0, 1]
    batch_coverage: np.ndarray  # per full batch, distinct values / m
    differences: np.ndarray  # share of each (x[i+1] − x[i]) mod m, length m
    zp_spectrum: np.ndarray  # k = 1 … K, mean over batches

    def summary(self) -> dict:
        peak = int(np.argmax(self.power)) if self.power.size else 0
        total = float(self.power.sum())
        return {"peak_frequency": float(self.frequencies[peak]) if self.power.size else None,
                "peak_period": float(1 / self.frequencies[peak]) if self.power.size else None,
                "peak_power_share": float(self.power[peak] / total) if total > 0 else 0.0,
                "mean_batch_entropy": float(self.batch_entropy.mean()) if self.batch_entropy.size else None,
                "mean_batch_coverage": float(self.batch_coverage.mean()) if self.batch_coverage.size else None,
                "max_zp_power": float(self.zp_spectrum.max()) if self.zp_spectrum.size else None}


def analyse(values: np.ndarray, modulus: int, batch_size: int, lag: int = 500) -> ComponentOrder:
    x = np.asarray(values, dtype=np.int64).reshape(-1)
    n = x.size
    centred = x - x.mean()
    spectrum = np.abs(np.fft.rfft(centred)) ** 2 / max(n, 1)
    frequencies = np.arange(spectrum.size) / max(n, 1)
    padded = np.fft.rfft(centred, n=2 * n)  # zero padding: the linear, not the circular, autocorrelation
    acf = np.fft.irfft(np.abs(padded) ** 2)[: min(lag, n - 1) + 1]
    acf = acf / acf[0] if acf.size and acf[0] > 0 else np.zeros_like(acf)
    entropy, coverage, zp = _per_batch(x, modulus, batch_size)
    steps = np.diff(x) % modulus
    differences = np.bincount(steps, minlength=modulus)[:modulus] / max(steps.size, 1)
    return ComponentOrder(frequencies[1:], spectrum[1:], acf, entropy, coverage, differences, zp)


def _per_batch(x: np.ndarray, m: int, b: int, chunk: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entropy, coverage and Z/m spectrum of each full batch, from a (batches × m) count matrix built and
    transformed ``chunk`` batches at a time (a whole epoch's matrix at p = 9973 would be ~90 MB, twice)."""
    full = x.size // b
    if full == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    k = min(m // 2, MAX_ZP_FREQUENCY)
    entropy, coverage = np.empty(full), np.empty(full)
    zp_sum = np.zeros(k)
    norm = np.log(min(b, m)) if min(b, m) > 1 else 1.0
    for start in range(0, full, chunk):
        rows = x[start * b : min(full, start + chunk) * b].reshape(-1, b)
        n = rows.shape[0]
        flat = (np.arange(n)[:, None] * m + rows).reshape(-1)  # (batch, value) as one index: one bincount
        counts = np.bincount(flat, minlength=n * m).reshape(n, m).astype(np.float64)
        share = counts / b
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy[start : start + n] = -np.where(share > 0, share * np.log(share), 0.0).sum(axis=1) / norm
        coverage[start : start + n] = (counts > 0).sum(axis=1) / m
        zp_sum += (np.abs(np.fft.rfft(counts, axis=1)[:, 1 : k + 1]) ** 2 / b).sum(axis=0)
    return entropy, coverage, zp_sum / full


def analyse_stream(components: dict[str, np.ndarray], modulus: int, batch_size: int,
                   lag: int = 500) -> dict[str, ComponentOrder]:
    return {name: analyse(values, modulus, batch_size, lag) for name, values in components.items()}


def thin(frequencies: np.ndarray, power: np.ndarray, points: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` of a spectrum for a log-log line: the largest power in each log-spaced bin of
    frequency, so every peak stays visible while a 150,000-point line is not drawn point by point."""
    if power.size <= points:
        return frequencies, power
    edges = np.unique(np.geomspace(1, power.size, points).astype(np.int64)) - 1
    return frequencies[edges], np.maximum.reduceat(power, edges)


def order_figure(results: dict[str, dict[str, ComponentOrder]], component: str, title: str, style: str = "paper"):
    """One component, strategies side by side (a column each), five rows: power spectrum, autocorrelation,
    per-batch entropy and coverage, consecutive differences, the Z/m spectrum."""
    from ol.consumers.analytics.plots import OKABE_ITO, plt, use_style

    use_style(style)
    strategies = list(results)
    fig, axes = plt.subplots(5, len(strategies), figsize=(3.3 * len(strategies) + 0.6, 11.5), squeeze=False,
                             constrained_layout=True, sharey="row")
    # wrapped to the figure's width: one column is narrower than the sentence that names it
    fig.suptitle(textwrap.fill(title, width=max(36, int(11 * (3.3 * len(strategies) + 0.6)))))
    for col, strategy in enumerate(strategies):
        r = results[strategy][component]
        colour = OKABE_ITO[col % len(OKABE_ITO)]
        ax = axes[0, col]
        f, power = thin(r.frequencies, r.power)
        ax.loglog(f, np.maximum(power, 1e-12), color=colour, linewidth=0.7)
        ax.set_title(strategy)
        ax.set_xlabel("frequency (cycles per example)")
        ax = axes[1, col]
        ax.plot(np.arange(r.autocorrelation.size), r.autocorrelation, color=colour, linewidth=0.9)
        ax.set_xlabel("lag (examples)")
        ax = axes[2, col]
        batches = np.arange(r.batch_entropy.size)
        ax.plot(batches, r.batch_entropy, color=colour, linewidth=0.9, label="entropy")
        ax.plot(batches, r.batch_coverage, color="grey", linewidth=0.9, linestyle="--", label="coverage")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("batch (step of the epoch)")
        ax = axes[3, col]
        ax.plot(np.arange(r.differences.size), r.differences, color=colour, linewidth=0.8, drawstyle="steps-mid")
        ax.set_xlabel("(x[i+1] − x[i]) mod m")
        ax = axes[4, col]
        ax.semilogy(np.arange(1, r.zp_spectrum.size + 1), np.maximum(r.zp_spectrum, 1e-6), color=colour,
                    linewidth=0.8)
        ax.axhline(1.0, color="grey", linestyle=":", linewidth=0.9)  # a uniformly random batch
        ax.set_xlabel("k (frequency over Z/m)")
    axes[0, 0].set_ylabel("power\n|FFT|² / N")
    axes[1, 0].set_ylabel("autocorrelation")
    axes[2, 0].set_ylabel("share (0–1)")
    axes[2, 0].legend(loc="lower left", fontsize=7)
    axes[3, 0].set_ylabel("share of steps")
    axes[4, 0].set_ylabel("|FFT(hist)|² / B\n(1 = uniform)")
    return fig
