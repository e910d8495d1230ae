"""The Python entry point for analysis in notebooks: ``ol.open(store)``.

    import ol
    store = ol.open("runs")
    store.runs(status="completed")                     # a pyarrow Table: .to_pandas(), polars.from_arrow(...)
    store.metrics(names=["eval/test_acc"], x="epoch")  # long: run_id, x, source, name, value
    store.compare(metrics=["test_acc"], stat="max")     # the table `ol export` prints, numbers kept numeric
    store.best("test_acc")                              # runs ranked by their best value, best first
    fig = store.plot.curves(metrics=["loss"])           # a matplotlib Figure, not a file

The same code as the CLI (SQL views, the metric-name resolver, export's statistics, the plots), read-only:
every call opens a fresh snapshot of the store, so it is safe while runs are being written and always sees
what has been recorded so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from ol.consumers.analytics.choices import STATS
from ol.consumers.analytics.metric_names import MetricId, resolve
from ol.consumers.analytics.points import points
from ol.consumers.analytics.sql import StoreConnection, connect
from ol.errors import ConsumerError, OlError
from ol.store import X_AXES, require_store, resolve_run


class Store:
    """A store of runs, opened for reading. Create with ``ol.open(path)``."""

    def __init__(self, path: str | Path = "runs"):
        self.path = require_store(Path(path))
        self.plot = _Plots(self)

    def __repr__(self) -> str:
        return f"ol.Store({str(self.path)!r})"

    def _repr_html_(self) -> str:
        """In a notebook, the store shows itself as its runs: id, strategy, seed, status and main metric."""
        from html import escape

        columns = ["run_id", "run_name", "experiment", "strategy", "seed", "status", "main_metric", "main_best"]
        rows = self.runs().select(columns).to_pylist()
        head = "".join(f"<th>{escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{escape('' if r[c] is None else str(r[c]))}</td>" for c in columns)
                       + "</tr>" for r in rows)
        return (f"<p><b>ol store</b> {escape(str(self.path))}: {len(rows)} run(s)</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    # the views -------------------------------------------------------------------------------

    def connect(self, runs: Iterable[str] | str | None = None) -> StoreConnection:
        """A DuckDB connection over the views (runs, steps, epochs, metrics, …) of these runs, or all."""
        if isinstance(runs, str):
            runs = [runs]
        dirs = None if runs is None else [resolve_run(self.path, r) for r in runs]
        return connect(self.path, dirs)

    def query(self, sql: str, runs: Iterable[str] | str | None = None, **params) -> pa.Table:
        """One SELECT over the views, with ``$name`` parameters: ``store.query("… WHERE lr = $lr", lr=1e-3)``."""
        return self.connect(runs).query(sql, params or None)

    def runs(self, **filters) -> pa.Table:
        """One row per run: identity, status, what the run said it is (main metric, direction, target, planned
        epochs), the best (and at which epoch) and final value of its main metric, the epoch it reached its
        target, its summary and its config keys as columns. Filter by
        experiment, strategy, status, group, seed or any config key: ``store.runs(strategy="random", lr=1e-3)``."""
        table = self.connect().query("SELECT * FROM runs ORDER BY started, run_id")
        for key, value in filters.items():
            if key not in table.column_names:
                known = ", ".join(k for k in table.column_names if k not in ("config", "dir"))
                raise ConsumerError(f"runs: no column {key!r} to filter on; the runs have {known}")
            keep = [v == value for v in table.column(key).to_pylist()]
            table = table.filter(pa.array(keep, pa.bool_()))
        return table

    def metrics(self, runs: Iterable[str] | str | None = None, names: Iterable[str] | str = (), x: str = "step",
                wide: bool = False) -> pa.Table:
        """The points of these metrics (``source/name`` or a bare name one source logs), long: run_id, x, source,
        name, value; ``wide=True`` pivots to one column per metric. ``x`` is step, epoch, or time (seconds the
        run had been training at that step, summed over resumed stretches) or another metric (W&B's step
        metric: its last value at or before each point)."""
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise ConsumerError("metrics: name at least one metric, e.g. names=['loss']")
        conn = self.connect(runs)
        if x not in X_AXES:  # another metric: by its name as the others are
            try:
                x = str(resolve(conn, [x], "metrics")[0])
            except OlError as e:
                raise ConsumerError(f"metrics: x is one of {', '.join(X_AXES)} or a metric of these runs, not "
                                    f"{x!r} ({e})") from None
        ids = resolve(conn, names, "metrics")
        parts = []
        for asked, metric in zip(names, ids, strict=True):
            part = _points(conn, metric, x)
            if part.num_rows == 0:
                raise ConsumerError(f"metrics: {metric} has no points with a {x} in these runs")
            parts.append(part.append_column("metric", pa.array([asked] * part.num_rows, pa.string())))
        table = pa.concat_tables(parts)
        if not wide:
            return table.drop_columns(["metric"])
        return _pivot(table, names)

    def compare(self, runs: Iterable[str] | str | None = None, metrics: Iterable[str] | str = (),
                stat: str = "final", per: str = "auto", threshold: float | None = None,
                direction: str = "above", estimator: str = "mean") -> pa.Table:
        """The comparison table `ol export` prints, with numbers kept numeric: per run, or per strategy with the
        mean (or ``estimator="iqm"``, the interquartile mean), std and bootstrap interval (low, high) over its
        seeds in columns of their own (first-crossing: over the runs that crossed, with how many did and which
        did not)."""
        from ol.consumers.analytics.export import ExportSpec, per_run, summarise

        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if not metrics:
            raise ConsumerError("compare: name at least one metric, e.g. metrics=['test_acc']")
        if per not in ("auto", "run", "strategy") or direction not in ("above", "below"):
            raise ConsumerError("compare: per is auto, run or strategy; direction is above or below")
        spec = ExportSpec(metrics, stat, threshold, direction, per, command="compare", estimator=estimator)
        return summarise(per_run(self.connect(runs), spec), spec)

    def best(self, metric: str, runs: Iterable[str] | str | None = None, stat: str | None = None,
             direction: str | None = None) -> pa.Table:
        """Runs ranked by ``metric``, best first: "which run is best by validation loss". Which way is better
        comes from ``direction`` ("higher"/"lower") or the runs' own contracts (never from the name); the
        statistic is the best value over the run unless ``stat`` (final, mean, …) says otherwise."""
        from ol.consumers.analytics.export import ExportSpec, declared_directions, per_run

        conn = self.connect(runs)
        if direction not in (None, "higher", "lower"):
            raise ConsumerError(f"best: direction is 'higher' or 'lower', not {direction!r}")
        higher, lower = ([metric], None) if direction == "higher" else (None, [metric]) if direction else (None, None)
        said = declared_directions(conn, [metric], higher, lower)
        way = said.get(metric)
        if way is None:
            raise ConsumerError(f"best: which {metric} is best is not declared by these runs; pass direction='higher' "
                                "or direction='lower'")
        stat = stat or ("max" if way == "higher" else "min")
        if stat not in STATS or stat == "first-crossing":
            raise ConsumerError(f"best: stat is one of final, min, max, mean, not {stat!r}")
        table = per_run(conn, ExportSpec([metric], stat, per="run", command="best"))
        rows = [r for r in table.to_pylist() if r[metric] is not None]
        rows.sort(key=lambda r: r[metric], reverse=(way == "higher"))
        return pa.Table.from_pylist(rows, schema=table.schema)


class _Plots:
    """``store.plot.curves(...)`` and friends: the `ol plot` figures, returned as matplotlib Figures."""

    def __init__(self, store: Store):
        self._store = store

    def curves(self, runs=None, metrics: Iterable[str] | str = (), **options):
        from ol.consumers.analytics import plots

        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        return plots.curves(self._store.connect(runs), metrics, **options)

    def compare(self, metric: str, runs=None, stat: str = "final", style: str = "paper", estimator: str = "mean"):
        from ol.consumers.analytics import plots

        return plots.compare(self._store.connect(runs), metric, stat, style, estimator)

    def convergence(self, metric: str, threshold: float, runs=None, direction: str = "above", style: str = "paper"):
        from ol.consumers.analytics import plots

        return plots.convergence(self._store.connect(runs), metric, threshold, direction, style)

    def correlation(self, x_metric: str, y_metrics: Iterable[str], runs=None, trend: bool = False,
                    style: str = "paper"):
        from ol.consumers.analytics import plots

        return plots.correlation(self._store.connect(runs), x_metric, list(y_metrics), trend, style)


def _points(conn: StoreConnection, metric: MetricId, x: str) -> pa.Table:
    found = points(conn, metric, x)
    n = sum(len(xs) for xs, _ in found.values())
    xs = np.concatenate([xs for xs, _ in found.values()]) if found else np.zeros(0)
    ys = np.concatenate([ys for _, ys in found.values()]) if found else np.zeros(0)
    return pa.table({"run_id": pa.array([r for r, (xs, _) in found.items() for _ in xs], pa.string()), "x": xs,
                     "source": pa.array([metric.source] * n, pa.string()),
                     "name": pa.array([metric.name] * n, pa.string()), "value": ys})


def _pivot(table: pa.Table, names: list[str]) -> pa.Table:
    """One row per (run, x), one column per metric as it was asked for."""
    rows: dict[tuple, dict] = {}
    for r in table.to_pylist():
        row = rows.setdefault((r["run_id"], r["x"]), {"run_id": r["run_id"], "x": r["x"]})
        row[r["metric"]] = r["value"]
    out = sorted(rows.values(), key=lambda r: (r["run_id"], r["x"]))
    schema = pa.schema([("run_id", pa.string()), ("x", table.schema.field("x").type),
                        *[(n, pa.float64()) for n in dict.fromkeys(names)]])
    return pa.Table.from_pylist(out, schema=schema)
