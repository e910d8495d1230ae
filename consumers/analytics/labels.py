"""What a figure calls things. A metric's axis: its name and declared unit. A run: its name if it has one, else
what tells it apart from the other runs drawn — its strategy, the values of the config keys that differ among
them (``lr=0.003``) and its seed — and a run's setting: the same without the seed, so a group over seeds never
mixes two settings."""

from __future__ import annotations

import json
from collections import defaultdict

import matplotlib.ticker

from ol.consumers.analytics.groups import differing_keys
from ol.consumers.analytics.sql import StoreConnection


def setting_labels(conn: StoreConnection) -> dict[str, str]:
    """run_id -> its setting: strategy and the differing config values ("stride · lr=0.003"); "run" for a run
    that has neither."""
    runs = sorted(conn.runs, key=lambda i: i.run_id)
    keys = differing_keys([i.config for i in runs])
    return {i.run_id: " · ".join([i.strategy or "run", *(f"{k}={_value(i.config.get(k))}" for k in keys)])
            for i in runs}


def run_labels(conn: StoreConnection) -> dict[str, str]:
    """run_id -> a legend label: its name, else its setting and seed; the run id's tail only where two runs would
    still read the same."""
    settings = setting_labels(conn)
    labels = {}
    for i in conn.runs:
        base = i.name or settings[i.run_id]
        labels[i.run_id] = base if i.seed is None or i.name else f"{base} · seed {i.seed}"
    counts: dict[str, int] = defaultdict(int)
    for label in labels.values():
        counts[label] += 1
    return {k: (f"{v} ({k[-6:]})" if counts[v] > 1 else v) for k, v in labels.items()}


def units_of(conn: StoreConnection) -> dict[str, str]:
    """What each metric measures, as the runs' contracts declare it ("fraction", "nats", …); a metric the runs
    disagree on, or do not declare, has no unit here."""
    declared: dict[str, set[str]] = defaultdict(set)
    for row in conn.query("SELECT units FROM runs WHERE units IS NOT NULL").to_pylist():
        for metric, unit in json.loads(row["units"]).items():
            declared[metric].add(unit)
    return {m: next(iter(u)) for m, u in declared.items() if len(u) == 1}


def y_label(metric: str, unit: str | None = None) -> str:
    """The axis label: the metric as it is named everywhere, its declared unit on a line of its own (a long
    rotated label would outgrow a short panel). A fraction is drawn as a percentage."""
    if metric == "lr":  # the Step event's own field: ol knows what it is
        return "learning rate"
    if unit == "fraction":
        return f"{metric}\n(%)"
    return f"{metric}\n({unit})" if unit else metric


def label_axis(axis, metrics: list[str], units: dict[str, str]) -> None:
    """Label ``axis`` (ax.xaxis / ax.yaxis) with the metrics drawn on it; when they are all fractions, tick it
    in percent (the data stay fractions, so thresholds and targets keep their declared values)."""
    shown = {units.get(m) for m in metrics}
    unit = shown.pop() if len(shown) == 1 else None
    axis.set_label_text(y_label(metrics[0], unit) if len(metrics) == 1 else
                        ", ".join(metrics) + (f"\n({'%' if unit == 'fraction' else unit})" if unit else ""))
    if unit == "fraction":
        axis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0))


def _value(v) -> str:
    return "–" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
