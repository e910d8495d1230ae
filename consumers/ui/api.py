"""The dashboard's JSON API: each handler takes the query parameters and returns plain data.

Parameters are checked here, one line of error each (HTTP 400): unknown runs or metrics, an x axis
that is not step/epoch/time, a range that is not a finite interval, a width out of bounds.
"""

from __future__ import annotations

import hashlib
import math
import os
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import numpy as np

from ol.consumers.analytics.groups import BANDS, aggregate, crossings, group_labels
from ol.consumers.ui import table
from ol.consumers.ui.client import CLIENT
from ol.consumers.ui.data import BadRequest, estimator_of, named_run, records, vectors
from ol.store import (
    TIME,
    X_AXES,
    RunInfo,
    StoreReader,
    bootstrap_of,
    is_x_axis,
    on_disk,
    paused_gc,
    run_started,
    split_key,
    started_order,
)
from ol.store import downsample_xy as downsample

MAX_RUNS = 1000
WIDTH = (16, 8192)
# pixel columns over all the runs of one answer (M4 keeps ≤ 4 points a column): a chart of 1,000 runs gets
# 200 columns a run, about 30 MB of JSON at worst, however many steps the runs have or what width is asked
SERIES_COLUMNS = 200_000
NO_STORE = ("There is no store at {store} yet (the directory does not exist). Record a run with "
            "`ol train mod_arithmetic --store {store}` and it appears here.")
STORE_EMPTY = ("No runs in this store yet. Record one with `ol train mod_arithmetic --store {store}` "
               "(or the Run API), and it appears here.")
_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="ol-ui-read")


class Dashboard:
    """What every handler reads: the store's runs and their data, through one reader."""

    def __init__(self, store):
        self.reader = StoreReader(store)
        self.filters: dict[tuple, set] = {}  # (where, the runs it was asked of) -> the runs it kept
        self._rows: dict[tuple, dict] = {}  # a run's table row, kept while the run is unchanged

    def rows(self, runs: list[RunInfo]) -> dict[str, dict]:
        """The table row of each run, by key: built once per state of the run, not at every poll."""
        kept, out = {}, {}
        with paused_gc():
            for i in runs:
                state = self.state(i)
                row = self._rows.get(state)
                if row is None:
                    row = table.row(self.reader, i)
                kept[state] = out[i.key] = row
        self._rows = kept  # runs gone from the store are forgotten
        return out

    def state(self, i: RunInfo) -> tuple:
        """What changes when a run's row, or a filter's answer about it, may change: its key, status and
        progress, and where its data is (a sealed run indexed again gets another batch)."""
        return i.key, i.status, i.last_step, i.last_epoch, self.reader.stamp(i)


def runs(dash: Dashboard, q: dict, _path) -> dict:
    """One page of the runs table (consumers/ui/table.py), the rows of the runs the chart shows, and a
    version: asked again with it while nothing changed, the answer is one line."""
    reader = dash.reader
    everything = sorted(reader.refresh(), key=started_order, reverse=True)
    entries = everything
    where = q.get("where", "").strip()
    if where:
        # the page asks again every few seconds: a filter over unchanged runs is answered from memory
        asked = (where, tuple(map(dash.state, entries)))
        allowed = dash.filters.get(asked)
        if allowed is None:
            allowed = _where(entries, where, reader.store)
            if len(dash.filters) >= 16:
                dash.filters.pop(next(iter(dash.filters)))
            dash.filters[asked] = allowed
        entries = [i for i in entries if (i.experiment, i.run_id) in allowed]
    if "only" in q:  # the runs inside the workspace's brushes
        only = set(q["only"].split(","))
        entries = [i for i in entries if i.key in only]
    sort, search = q.get("sort", "started"), q.get("q", "")
    if table.column(sort) is None:
        raise BadRequest(f"sort must be a column of the runs table (run_id, started, final:METRIC, config:KEY…), "
                         f"got {sort!r}")
    desc = q.get("desc", "1") != "0"
    offset, limit = _int(q, "offset", 0, 0, 10**9), _int(q, "limit", table.PAGE_SIZE, 1, table.MAX_PAGE)
    defaults = default_runs(everything)
    # a page that has chosen nothing yet is shown the default runs' rows, which it then takes as its choice
    chosen = list(dict.fromkeys(k for k in q.get("selected", "").split(",") if k))[:MAX_RUNS] \
        if "selected" in q else defaults
    state = [dash.state(i) for i in everything]
    version = hashlib.blake2b(repr((where, q.get("only"), sort, search, desc, offset, limit, chosen, state,
                                    reader.warnings)).encode(),
                              digest_size=8).hexdigest()
    if q.get("version") == version:
        return {"unchanged": True, "version": version}
    if sort == "started" and desc and not search:  # the default order is the runs' own: rows for one page only
        on_page, total = table.in_started_order(entries, offset, limit)
        known = {i.key for i in everything}
        rows = dash.rows(on_page + [named_run(reader, k) for k in chosen if k in known])
        page = [rows[i.key] for i in on_page]
    else:
        rows = dash.rows(everything)
        page, total = table.page_of([rows[i.key] for i in entries], q=search, sort=sort, desc=desc, offset=offset,
                                    limit=limit)
    paged = {r["key"] for r in page}
    message = ""
    if reader.empty:
        message = (STORE_EMPTY if reader.store.is_dir() else NO_STORE).format(store=shlex.quote(str(reader.store)))
    return {"store": str(reader.store), "runs": page, "total": total, "all": len(everything), "offset": offset,
            "limit": limit, "selected": [rows[k] for k in chosen if k in rows and k not in paged],
            **table.overview(entries), "message": message, "warnings": reader.warnings, "version": version,
            "default": defaults}


DEFAULT_LATEST = 10  # runs a workspace shows first when the newest run belongs to no group
DEFAULT_GROUP = 200  # at most this many of the newest group's runs


def default_runs(newest_first: list[RunInfo]) -> list[str]:
    """What a workspace shows before anyone chooses: the newest run's group or sweep (its newest DEFAULT_GROUP
    runs), else the latest runs of the newest run's experiment — never a mix of unrelated experiments."""
    if not newest_first:
        return []
    newest = newest_first[0]
    if newest.group:
        return [i.key for i in newest_first if i.group == newest.group][:DEFAULT_GROUP]
    return [i.key for i in newest_first if i.experiment == newest.experiment][:DEFAULT_LATEST]


def _where(entries: list[RunInfo], where: str, store: Path) -> set[tuple[str, str]]:
    # DuckDB loads with the first filter: about 20 MiB resident that a server nobody filters on never needs
    from ol.consumers.analytics.sql import DASHBOARD_LIMITS, QueryError, runs_connection

    conn = runs_connection(entries, store, DASHBOARD_LIMITS)
    client = CLIENT.get()
    forget = client.on_gone(conn.con.interrupt) if client else None
    try:
        table = conn.query(f"SELECT experiment, run_id FROM runs WHERE {where}")
    except QueryError as e:
        raise BadRequest(f"filter: {str(e).removeprefix('query: ')}") from None
    finally:
        if forget:
            forget()
        conn.con.close()
    return set(zip(table.column("experiment").to_pylist(), table.column("run_id").to_pylist(), strict=True))


def metrics(dash: Dashboard, q: dict, _path) -> dict:
    reader = dash.reader
    counts: dict[str, int] = {}
    for i in chosen_runs(reader, q):
        for k in reader.metric_names(i):
            counts[k] = counts.get(k, 0) + 1
    return {"metrics": [{"key": k, "source": split_key(k)[0], "name": split_key(k)[1], "runs": n}
                        for k, n in sorted(counts.items())]}


def series(dash: Dashboard, q: dict, _path) -> dict:
    reader = dash.reader
    entries = chosen_runs(reader, q)
    metric, x, width = _metric(q), _x(q), _run_width(q, len(entries))
    reader.load_series(entries)  # one query for all, before the threads read them
    x0, x1 = _range(q)
    # runs are read on one thread per core: lz4 and numpy release the GIL for most of the work
    curves = list(_POOL.map(lambda i: reader.curve(i, metric, x, x0, x1, width), entries))
    out = {}
    for i, curve in zip(entries, curves, strict=True):
        if curve is None:
            continue
        progress = reader.progress(i)
        out[i.key] = {"x": curve[0].tolist(), "y": curve[1].tolist(), "status": i.status,
                      "last_step": progress.last_step, "resets": progress.resets}
    return {"metric": metric, "x": x, "runs": out}


def groups(dash: Dashboard, q: dict, _path) -> dict:
    reader = dash.reader
    entries = chosen_runs(reader, q)
    metric, x = _metric(q), _x(q)
    reader.load_series(entries)
    by = q.get("by", "strategy")
    band = q.get("band", "std")
    if band not in BANDS:
        raise BadRequest(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    try:
        labels = group_labels(entries, by)
    except ValueError as e:
        raise BadRequest(str(e)) from None
    members: dict[str, list[str]] = {}
    for i in entries:
        members.setdefault(labels[i.key], []).append(i.key)
    width = _run_width(q, len(members))
    by_key = {i.key: i for i in entries}
    ends = [span for i in entries if (span := reader.extent(i, metric, x)) is not None]
    x_range = (min(a for a, _ in ends), max(b for _, b in ends)) if ends else None
    # every point, one run at a time: a mean over seeds must not be a mean of extremes
    groups = aggregate(members, lambda k: reader.points(by_key[k], metric, x), x_range, band, width)
    result = {"metric": metric, "x": x, "by": by, "band": band, "groups": groups}
    if "threshold" in q:
        threshold = _float(q, "threshold")
        direction = q.get("direction", "above")
        if direction not in ("above", "below"):
            raise BadRequest(f"direction must be above or below, got {direction!r}")
        statistic = estimator_of(q)
        on_epochs = crossings(members, lambda k: reader.points(by_key[k], metric, "epoch"), threshold, direction,
                              statistic)
        result["crossings"] = {"threshold": threshold, "direction": direction, "x": "epoch", "groups": on_epochs,
                               "method": f"{bootstrap_of(statistic)}; reached: exact Clopper–Pearson intervals"}
    return result


def run_page(dash: Dashboard, q: dict, path: dict) -> dict:
    reader = dash.reader
    i = named_run(reader, f"{path['experiment']}/{path['run_id']}")
    started = run_started(i.dir)
    events = records(reader, i, "events")
    kinds: dict[str, int] = {}
    for row in events:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    kind = q.get("kind", "")
    if kind and kind not in kinds:
        raise BadRequest(f"this run has no events of kind {kind!r}; it has {', '.join(sorted(kinds)) or 'none'}")
    limit = _int(q, "limit", 300, 1, 10_000)
    shown = [r for r in events if not kind or r["kind"] == kind][-limit:]
    hooks: dict[str, list[str]] = {}
    for key in reader.metric_names(i):
        source, name = split_key(key)
        if source not in ("train", "eval"):
            hooks.setdefault(source, []).append(name)
    notes = records(reader, i, "notes")
    return {
        "key": i.key, "run": table.row(reader, i), "config": i.config_now,
        "environment": _builtins(started.environment) if started else {},
        "parameters": started.parameters if started else None,
        "notes": notes, "warnings": [n for n in notes if n["level"] in ("warning", "error")],
        "checkpoints": [{**c, "on_disk": on_disk(i.dir, c["path"])} for c in records(reader, i, "checkpoints")],
        "events": shown, "event_kinds": kinds,
        "hooks": hooks, "commands": _commands(i), "vectors": vectors(reader, i),
    }


def _commands(i: RunInfo) -> dict:
    """What works for this run: `ol train` reproduces and resumes only its own runs (a run says what recorded
    it); one a script or a framework recorded is continued by running that again with the run's id."""
    run_dir, store = shlex.quote(str(i.dir)), shlex.quote(str(i.dir.parent.parent))
    out = {}
    if i.recorder == "ol train":
        config = i.dir / "experiment_config.json"
        out["reproduce"] = (f"ol train {i.experiment} --config {shlex.quote(str(config))} --store {store}"
                            if config.exists() else "")
        out["resume"] = f"ol train {i.experiment} --resume {run_dir} --store {store}"
    elif not i.recorder.startswith("import:"):
        how = {"lightning": f'OlLogger(..., run_id="{i.run_id}")',
               "transformers": f'OlCallback(..., run_id="{i.run_id}")',
               "wandb": f'wandb.init(..., id="{i.run_id}", resume="allow")'}.get(
            i.recorder, f'Run.start(..., run_id="{i.run_id}", resume=True)')
        out["resume"] = f"run its script again with {how}"
    return {**out, "verify": f"ol verify {run_dir}", "events": f"ol events {run_dir}",
            "replay_tensorboard": f"ol replay {run_dir} --to tensorboard --store {store}",
            "replay_wandb": f"ol replay {run_dir} --to wandb --store {store}"}


class LiveStream:
    """One page's live subscription: new points of the running runs after what the page has."""

    def __init__(self, dash: Dashboard, q: dict):
        self.reader, self.q = dash.reader, q
        self.finished = False

    def check(self) -> None:
        self.runs = chosen_runs(self.reader, self.q)
        self.metric, self.x, self.width = _metric(self.q), _x(self.q), _run_width(self.q, len(self.runs))
        self.after = _after(self.q)
        progress = {i.key: self.reader.progress(i) for i in self.runs}
        self.status = {k: p.status for k, p in progress.items()}
        self.resets = {k: p.resets for k, p in progress.items()}

    def poll(self) -> list[tuple[str, dict]]:
        messages: list[tuple[str, dict]] = []
        points, changed, reset = {}, {}, []
        watching = [i for i in self.runs if self.status[i.key] == "running"]
        if not watching:
            self.finished = True
            return [("done", {"runs": list(self.status)})]
        for i in watching:
            progress = self.reader.progress(i)
            if progress.resets != self.resets[i.key]:
                self.resets[i.key] = progress.resets
                reset.append(i.key)
                continue
            new = self._new_points(i)
            if new is not None:
                points[i.key] = new
            if progress.status != "running":
                self.status[i.key] = changed[i.key] = progress.status
        if points:
            messages.append(("points", {"metric": self.metric, "x": self.x, "runs": points}))
        if reset:
            messages.append(("reset", {"runs": reset}))
        if changed:
            messages.append(("status", {"runs": changed}))
        return messages

    def _new_points(self, i: RunInfo) -> dict | None:
        s = self.reader.series(i, self.metric)
        if s is None or not len(s.step):
            return None
        after = self.after.get(i.key)
        start = 0 if after is None else int(np.searchsorted(s.step, after, side="right"))
        if start >= len(s.step):
            return None
        self.after[i.key] = int(s.step[-1])
        x, y = self.reader.to_x(i, self.x, s.step[start:], s.epoch[start:], s.value[start:])
        if len(x):  # a page that catches up (opened late, or back from sleep) gets a chart's worth, not every point
            x, y = downsample(x, y, x[0], x[-1], self.width)
        return {"x": x.tolist(), "y": y.tolist(), "last_step": int(s.step[-1])}


# parameters ------------------------------------------------------------------------------------


def chosen_runs(reader: StoreReader, q: dict) -> list[RunInfo]:
    keys = [k for k in q.get("runs", "").split(",") if k]
    if not keys:
        raise BadRequest("runs is required: comma-separated experiment/run_id (see /api/runs)")
    if len(keys) > MAX_RUNS:
        raise BadRequest(f"at most {MAX_RUNS} runs per request, got {len(keys)}")
    return [named_run(reader, k) for k in dict.fromkeys(keys)]


def _metric(q: dict) -> str:
    metric = q.get("metric", "")
    source, name = split_key(metric)
    if not source or not name or metric == TIME:
        raise BadRequest(f"metric must be source/name, e.g. train/loss (see /api/metrics), got {metric!r}")
    return metric


def _x(q: dict) -> str:
    x = q.get("x", "step")
    if not is_x_axis(x):
        raise BadRequest(f"x must be one of {', '.join(X_AXES)} or a metric (source/name), got {x!r}")
    return x


def _width(q: dict) -> int:
    return _int(q, "width", 800, *WIDTH)


def _run_width(q: dict, runs: int) -> int:
    """The pixel columns each run's curve gets: the asked width, within the answer's budget."""
    return max(WIDTH[0], min(_width(q), SERIES_COLUMNS // max(runs, 1)))


def _range(q: dict) -> tuple[float | None, float | None]:
    x0 = _float(q, "x0") if "x0" in q else None
    x1 = _float(q, "x1") if "x1" in q else None
    if x0 is not None and x1 is not None and not x0 < x1:
        raise BadRequest(f"x0 must be less than x1, got {x0} and {x1}")
    return x0, x1


def _after(q: dict) -> dict[str, int]:
    out = {}
    for part in filter(None, q.get("after", "").split(",")):
        key, _, step = part.rpartition(":")
        try:
            out[key] = int(step)
        except ValueError:
            raise BadRequest(f"after must be experiment/run_id:step,…, got {part!r}") from None
    return out


def _int(q: dict, name: str, default: int, lo: int, hi: int) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(q: dict, name: str) -> float:
    raw = q.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be finite, got {raw!r}")
    return value


def _builtins(struct) -> dict:
    return msgspec.to_builtins(struct)
