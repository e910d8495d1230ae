"""Comparison tables like a paper's: one row per run, or per strategy with the mean over seeds and its bootstrap
interval (store/read/intervals.py; CSV and JSON keep the std beside it)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pyarrow as pa

from ol.consumers.analytics.choices import STATS
from ol.consumers.analytics.formats import BOLD as LATEX_BOLD
from ol.consumers.analytics.metric_names import resolve
from ol.consumers.analytics.sql import StoreConnection
from ol.errors import ConsumerError, UsageError
from ol.store import STATISTICS, estimate, improvement, permutation_p, reached_interval

_MATCHES = "(source = $s{i} AND name = $m{i})"


@dataclass
class ExportSpec:
    metrics: list[str]
    stat: str = "final"
    threshold: float | None = None  # for first-crossing
    direction: str = "above"
    per: str = "auto"  # auto: per strategy when runs share a strategy, else per run
    estimator: str = "mean"  # a strategy's value over its runs: mean or iqm (intervals.STATISTICS)
    command: str = "export"  # who is asking, for the errors


def per_run(conn: StoreConnection, spec: ExportSpec) -> pa.Table:
    """One row per run: run_id, strategy, seed, then the statistic of each metric."""
    if spec.stat not in STATS:
        raise UsageError(f"{spec.command}: unknown --stat {spec.stat!r}; choose one of {', '.join(STATS)}")
    if spec.estimator not in STATISTICS:
        raise UsageError(f"{spec.command}: --estimator is {' or '.join(STATISTICS)}, not {spec.estimator!r}")
    ids = resolve(conn, spec.metrics, spec.command)  # each as one source and name, or a one-line error
    params: dict = {**{f"m{i}": m.name for i, m in enumerate(ids)}, **{f"s{i}": m.source for i, m in enumerate(ids)}}
    if spec.stat == "first-crossing":
        if spec.threshold is None:
            raise UsageError(f"{spec.command}: --stat first-crossing needs --threshold X")
        op = ">=" if spec.direction == "above" else "<="
        params["threshold"] = spec.threshold
        cols = [f"min(coalesce(epoch, step)) FILTER (WHERE {_MATCHES.format(i=i)} AND value {op} $threshold)"
                for i in range(len(spec.metrics))]
        source = "metrics"  # needs every point: a scan
    else:
        # final, min, max and mean are metric_stats' own column names (one row per run, source and name)
        cols = [f"max({spec.stat}) FILTER (WHERE {_MATCHES.format(i=i)})" for i in range(len(spec.metrics))]
        source = "metric_stats"  # one row per run and metric, computed at compaction
    select = ", ".join(f'{c} AS "{_quoted(name)}"' for c, name in zip(cols, spec.metrics, strict=True))
    sql = (f"SELECT r.run_id, r.strategy, r.seed, {select} FROM {source} JOIN runs r USING (run_id) "
           "GROUP BY ALL ORDER BY r.strategy, r.seed, r.run_id")
    return conn.query(sql, params)


def _quoted(name: str) -> str:
    return name.replace('"', '""')


def summarise(table: pa.Table, spec: ExportSpec) -> pa.Table:
    """Per strategy (the mean over its runs — or their IQM, ``spec.estimator`` — its std and its bootstrap interval:
    ``M low``, ``M high``) when runs
    share a strategy and per is auto/strategy.

    For first-crossing, the mean and std are over the runs that crossed, and the row says so: ``M crossed``
    counts them (of ``runs``, with the exact interval of that share: ``M crossed low``/``high``) and ``M not
    crossed`` names the others, so a failure is never averaged away."""
    rows = table.to_pylist()
    strategies = [r["strategy"] for r in rows]
    grouped = spec.per == "strategy" or (spec.per == "auto" and len(set(strategies)) < len(strategies))
    if not grouped:
        return table
    out = []
    for strategy in dict.fromkeys(strategies):
        members = [r for r in rows if r["strategy"] == strategy]
        row = {"strategy": strategy, "runs": len(members)}
        for m in spec.metrics:
            values = [r[m] for r in members if r[m] is not None]
            found = estimate(values, spec.estimator)
            row[m] = _mean(values) if spec.estimator == "mean" else found.value if found else None
            row[f"{m} std"] = _std(values)
            row[f"{m} low"], row[f"{m} high"] = (found.low, found.high) if found else (None, None)
            if spec.stat == "first-crossing":
                row[f"{m} crossed"] = len(values)
                row[f"{m} crossed low"], row[f"{m} crossed high"] = reached_interval(len(values), len(members))
                row[f"{m} not crossed"] = ", ".join(_who(r) for r in members if r[m] is None)
        out.append(row)
    return pa.Table.from_pylist(out)


def versus(table: pa.Table, spec: ExportSpec, declared: dict[str, str] | None = None) -> pa.Table:
    """Between every two strategies of a per-run table, per metric: the probability that a run of A is better
    than a run of B (ties half) — in the direction ``declared`` for the metric, fewer epochs for first-crossing,
    else "higher" (the column then says ``P(A>B)``) — and the two-sided permutation test's p-value of the
    difference in means (store/read/intervals.py). Runs without a value are left out; a pair with fewer than two
    values a side has no p."""
    rows = table.to_pylist()
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["strategy"] or "run", []).append(r)
    if len(by) < 2:
        raise UsageError(f"{spec.command}: --versus compares strategies; these runs have "
                         f"{'one' if by else 'none'} ({', '.join(by) or '—'})")
    out = []
    for a, b in itertools.combinations(by, 2):
        row: dict = {"A": a, "B": b}
        for m in spec.metrics:
            va, vb = ([r[m] for r in by[s] if r[m] is not None] for s in (a, b))
            way = "lower" if spec.stat == "first-crossing" else (declared or {}).get(m)
            sign = -1.0 if way == "lower" else 1.0
            row[f"{m} {'P(A better)' if way else 'P(A>B)'}"] = improvement([sign * v for v in va],
                                                                          [sign * v for v in vb])
            row[f"{m} p"] = permutation_p(va, vb)
        out.append(row)
    return pa.Table.from_pylist(out)


def _who(row: dict) -> str:
    return f"seed {row['seed']}" if row.get("seed") is not None else str(row["run_id"])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _std(values: list[float]) -> float | None:
    if len(values) < 2:
        return 0.0 if values else None
    mean = _mean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def presentable(table: pa.Table, spec: ExportSpec, precision: int, bold_best: bool, fmt: str,
                declared: dict[str, str] | None = None) -> pa.Table:
    """Cells as strings: "mean [low, high]" for grouped rows (its bootstrap interval), the best of each metric in
    bold; ``declared`` maps a metric to the direction to call best (the flags, else the runs' contracts)."""
    rows = table.to_pylist()
    grouped = "runs" in table.column_names
    derived = {f"{m}{suffix}" for m in spec.metrics for suffix in (" std", " low", " high", " crossed",
                                                                   " crossed low", " crossed high", " not crossed")}
    keys = [c for c in table.column_names if c not in spec.metrics and c not in derived]
    out = [{k: r[k] for k in keys} for r in rows]
    crossing = spec.stat == "first-crossing"
    digits = 1 if crossing else precision  # a mean of epoch counts: one decimal says enough
    for m in spec.metrics:
        values = [r[m] for r in rows]
        best = _best(values, m, spec, (declared or {}).get(m)) if bold_best else None
        for r, o, v in zip(rows, out, values, strict=True):
            text = ("never" if crossing else "") if v is None else _number(v, digits if grouped else precision,
                                                                         crossing and not grouped)
            averaged = (r[f"{m} crossed"] if crossing else r["runs"]) if grouped else 1  # values behind the mean
            if averaged > 1 and r.get(f"{m} low") is not None:
                text += f" [{r[f'{m} low']:.{digits}f}, {r[f'{m} high']:.{digits}f}]"
            if best is not None and v == best:
                text = {"markdown": f"**{text}**", "latex": f"{LATEX_BOLD}{text}}}"}.get(fmt, text)
            if grouped and crossing:
                missing = r[f"{m} not crossed"]
                share = f"[{r[f'{m} crossed low']:.2f}, {r[f'{m} crossed high']:.2f}]"
                text = (f"{text} ({r[f'{m} crossed']} of {r['runs']} crossed {share}" +
                        (f"; not: {missing})" if missing else ")")).strip()
            o[m] = text
    return pa.Table.from_pylist(out)


def _number(value: float | int, precision: int, epoch: bool = False) -> str:
    """Counts and a run's whole first-crossing epoch stay integers; measurements (and a Trainer's fractional
    epoch) get ``precision`` digits."""
    if isinstance(value, int) or (epoch and float(value).is_integer()):
        return str(int(value))
    return f"{value:.{precision}f}"


def declared_directions(conn: StoreConnection, metrics: list[str], higher: list[str] | None = None,
                        lower: list[str] | None = None) -> dict[str, str]:
    """Which way is better for each metric: what ``higher``/``lower`` (the command line) say, else, for the
    main metric of the runs, the direction their contracts declare (when they agree)."""
    said_here = {**{m: "higher" for m in higher or []}, **{m: "lower" for m in lower or []}}
    both = set(higher or []) & set(lower or [])
    if both:
        raise ConsumerError(f"export: {', '.join(sorted(both))} cannot be both higher- and lower-is-better")
    stray = sorted(set(said_here) - set(metrics))
    if stray:
        raise UsageError(f"export: --higher-is-better/--lower-is-better name {', '.join(stray)}, which is not among "
                         f"the --metrics {', '.join(metrics)}")
    out = dict(said_here)
    for m in metrics:
        if m in out:
            continue
        name = m.rsplit("/", 1)[-1]
        said = {r.contract.direction for r in conn.runs if r.contract.main_metric == name}
        if len(said) == 1 and None not in said:
            out[m] = said.pop()
    return out


def _best(values: list, metric: str, spec: ExportSpec, declared: str | None = None) -> float | None:
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return None
    if spec.stat == "first-crossing":  # fewer epochs to get there is better, whatever the metric
        return min(present)
    if declared is None:  # a name says nothing reliable about which way is better: ask, never guess
        raise UsageError(f"export: --bold-best cannot tell which {metric} is best: pass --higher-is-better {metric} or "
                         f"--lower-is-better {metric} (runs whose main metric it is declare it themselves)")
    return min(present) if declared == "lower" else max(present)
