"""What the dashboard asks of the store beyond its runs' records and curves: the lookup of a run a request
names, and the media and vectors a run's page lists — all through ``ol.store``'s ``StoreReader``, which
answers the same way for a live run as for a sealed one.

Runs are named ``experiment/run_id`` and only ever looked up in the store's catalog, never joined onto a
path, so no request can name a file outside the store.
"""

from __future__ import annotations

from ol.store import STATISTICS, RunInfo, StoreReader

MEDIA_TABLES = ("arrays", "histograms", "images", "tables")  # what a workspace's media panels draw


class BadRequest(ValueError):
    """A request the dashboard cannot answer as asked: becomes HTTP 400 with this one line."""


def named_run(reader: StoreReader, key: str) -> RunInfo:
    info = reader.run(key)
    if info is None:
        raise BadRequest(f"no run {key!r} in this store (runs are named experiment/run_id; see /api/runs)")
    return info


def records(reader: StoreReader, info: RunInfo, table: str) -> list[dict]:
    """Rows of a run's checkpoints, notes or events table."""
    return reader.table(info, table).drop_columns(["experiment", "run_id"]).to_pylist()


def vectors(reader: StoreReader, info: RunInfo) -> list[dict]:
    """What the run logged as arrays, histograms, images and tables: per name, how many, the last step and
    (arrays) shape; never the values themselves (a trajectory is θ every few steps)."""
    wanted = {"arrays": ["source", "name", "step", "shape"], "histograms": ["source", "name", "step"],
              "images": ["source", "name", "step"], "tables": ["source", "name", "step"]}
    out: dict[tuple[str, str, str], dict] = {}
    for kind, cols in wanted.items():
        for row in reader.table(info, kind, cols).to_pylist():
            key = (kind, row["source"], row["name"])
            item = out.setdefault(key, {"kind": kind[:-1], "source": row["source"], "name": row["name"],
                                        "count": 0, "last_step": row["step"], "shape": row.get("shape")})
            item["count"] += 1
            if row["step"] >= item["last_step"]:
                item["last_step"], item["shape"] = row["step"], row.get("shape")
    return sorted(out.values(), key=lambda v: (v["kind"], v["source"], v["name"]))


def media_names(reader: StoreReader, infos: list[RunInfo]) -> dict[tuple[str, str, str], list[str]]:
    """(kind, source, name) of every array, histogram, image and table these runs logged → the runs that did
    (names only, each batch file read once for all of its runs)."""
    found: dict[tuple[str, str, str], set] = {}
    keys = ["experiment", "run_id", "source", "name"]
    for table in MEDIA_TABLES:
        for row in reader.tables(infos, table, keys).group_by(keys).aggregate([]).to_pylist():
            runs = found.setdefault((table[:-1], row["source"], row["name"]), set())
            runs.add(f"{row['experiment']}/{row['run_id']}")
    order = {info.key: i for i, info in enumerate(infos)}
    return {k: sorted(v, key=order.__getitem__) for k, v in sorted(found.items())}


def estimator_of(q: dict) -> str:
    """A group's value over its runs, as asked (``estimator``): the mean or the IQM."""
    statistic = q.get("estimator", "mean")
    if statistic not in STATISTICS:
        raise BadRequest(f"estimator is {' or '.join(STATISTICS)}, got {statistic!r}")
    return statistic
