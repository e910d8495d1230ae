"""MLflow runs as ol runs, from either of MLflow's local stores, read directly (read-only; MLflow itself is
not needed to import): a SQLite tracking database (``mlflow.db``, ``sqlite:///…``) or a file store (an
``mlruns`` folder). Each run keeps its name, experiment, parameters (its config), user tags, every metric
value at its step with its timestamp, and its status (FINISHED → completed, FAILED → failed, KILLED →
interrupted, a run still RUNNING → crashed, since nothing will end it now). Deleted runs are left out."""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

from ol.integrations.importing import Imported

STATUS = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "interrupted", "RUNNING": "crashed",
          "SCHEDULED": "crashed"}
FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}  # meta.yaml's numbers


def find(source: str) -> list[tuple[str, Path, str]]:
    """(kind, store path, run id) of every run of ``source``: a .db file, a sqlite:/// URI or an mlruns folder."""
    path = Path(source.removeprefix("sqlite:///")) if source.startswith("sqlite:///") else Path(source)
    if path.is_file():
        with _connect(path) as con:
            ids = [r[0] for r in con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage != 'deleted' "
                                              "ORDER BY start_time, run_uuid")]
        return [("sqlite", path, i) for i in ids]
    runs = []
    for meta in sorted(path.glob("*/*/meta.yaml")):
        if meta.is_symlink() or meta.parent.parent.name == ".trash":
            continue
        runs.append(("files", path, f"{meta.parent.parent.name}/{meta.parent.name}"))
    return runs


def read(kind: str, path: Path, run_id: str) -> Imported:
    return _from_sqlite(path, run_id) if kind == "sqlite" else _from_files(path, run_id)


def experiment_name(name: str) -> str:
    """An MLflow experiment name as an ol one (plain letters, digits, '.', '_', '-')."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:64]
    return plain or "mlflow"


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)  # read-only: a source is never changed


def _from_sqlite(path: Path, run_id: str) -> Imported:
    with _connect(path) as con:
        name, status, start, end, experiment = con.execute(
            "SELECT r.name, r.status, r.start_time, r.end_time, e.name FROM runs r JOIN experiments e "
            "ON e.experiment_id = r.experiment_id WHERE r.run_uuid = ?", (run_id,)).fetchone()
        run = _run(path, run_id, name, status, start, end, experiment)
        run.config = {k: _value(v) for k, v in con.execute("SELECT key, value FROM params WHERE run_uuid = ?",
                                                           (run_id,))}
        run.tags = _tags(con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)))
        for key, value, timestamp, step, is_nan in con.execute(
                "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? ORDER BY step, timestamp",
                (run_id,)):
            run.add(int(step), key, math.nan if is_nan else float(value), timestamp / 1000)
    return run


def _from_files(root: Path, run_id: str) -> Imported:
    folder = root / run_id
    meta = _yaml(folder / "meta.yaml")
    experiment = _yaml(folder.parent / "meta.yaml").get("name", "mlflow")
    status = meta.get("status")
    run = _run(root, run_id, meta.get("run_name") or "", FILE_STATUS.get(status, status), meta.get("start_time"),
               meta.get("end_time"), experiment)
    run.config = {p.name: _value(p.read_text()) for p in sorted((folder / "params").glob("*")) if p.is_file()}
    run.tags = _tags((p.name, p.read_text()) for p in sorted((folder / "tags").glob("*")) if p.is_file())
    for metric in sorted((folder / "metrics").rglob("*")):
        if not metric.is_file() or metric.is_symlink():
            continue
        key = metric.relative_to(folder / "metrics").as_posix()
        for number, line in enumerate(metric.read_text().splitlines(), start=1):
            parts = line.split()
            try:
                timestamp, value, step = float(parts[0]), float(parts[1]), int(parts[2]) if len(parts) > 2 else 0
            except (IndexError, ValueError):
                run.skipped.append(f"metric {key}, line {number}: {line!r} is not 'timestamp value step'")
                continue
            run.add(step, key, value, timestamp / 1000)
    return run


def _run(path: Path, run_id: str, name: str, status: str | None, start, end, experiment: str) -> Imported:
    run = Imported(name=name or run_id, origin=f"mlflow:{path.resolve()}#{run_id}",
                   experiment=experiment_name(experiment or "mlflow"), status=STATUS.get(status or "", None))
    if start:
        run.started_at = start / 1000
    if end and run.status not in (None, "crashed"):
        run.ended_at = end / 1000
    return run


def _tags(pairs) -> list[str]:
    """User tags as key=value labels; MLflow's own (mlflow.*) describe the client, not the run."""
    return [f"{k}={v}" for k, v in pairs if not k.startswith("mlflow.")]


def _value(text: str):
    """Parameters are strings in MLflow; numbers come back as numbers."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _yaml(path: Path) -> dict:
    """The flat ``key: value`` lines of an MLflow meta.yaml (no YAML library needed for these)."""
    out: dict = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "-")):
            value = value.strip().strip("'\"")
            out[key.strip()] = _value(value) if value not in ("null", "") else None
    return out
