"""MLflow runs as ol runs, from either of MLflow's local stores, read directly (read-only; MLflow itself is
not needed to import): a SQLite tracking database (``mlflow.db``, ``sqlite:///…``) or a file store (an
``mlruns`` folder). Each run keeps its name, experiment, parameters (its config), user tags, every metric
value at its step with its timestamp, and its status (FINISHED → completed, FAILED → failed, KILLED →
interrupted, a run still RUNNING → crashed, since nothing will end it now). Deleted runs are left out.

Either store is untrusted input: the database's tables must be tables (a recursive VIEW named ``metrics``
would never end) and every query runs under a deadline; a row that is not MLflow's (NULL step, text value)
is skipped with a note; a parameter or tag past MAX_PARAM_CHARS is left out; the file store's files are
read as source_files.py reads any import (no link followed, sizes capped)."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

from ol.errors import UsageError
from ol.integrations.importing import Imported, plain_experiment, plain_step
from ol.integrations.source_files import MAX_SMALL_BYTES, Refused, SourceTree, named_file, walk_lines

STATUS = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "interrupted", "RUNNING": "crashed",
          "SCHEDULED": "crashed"}
FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}  # meta.yaml's numbers
TABLES = ("runs", "experiments", "metrics", "params", "tags")
QUERY_SECONDS = 60.0  # one query over the database; MLflow's own never take this long
MAX_PARAM_CHARS = 64 * 1024  # a parameter or tag value (MLflow's own limit is 6,000 for params)


def find(source: str) -> tuple[list[tuple[str, Path, str]], list[str]]:
    """(kind, store path, run id) of every run of ``source`` (a .db file, a sqlite:/// URI or an mlruns folder),
    and what was passed over."""
    path = Path(source.removeprefix("sqlite:///")) if source.startswith("sqlite:///") else Path(source)
    if path.is_file() or path.is_symlink():
        path = named_file(path, "MLflow database")
        with _connect(path) as con:
            ids = [r[0] for r in con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage != 'deleted' "
                                              "ORDER BY start_time, run_uuid")]
        return [("sqlite", path, i) for i in ids], []
    tree = SourceTree(path)
    runs = []
    for meta in tree.files("meta.yaml"):
        relative = meta.relative_to(tree.root).parts
        if len(relative) == 3 and relative[0] != ".trash":
            runs.append(("files", tree.root, f"{relative[0]}/{relative[1]}"))
    return runs, tree.passed_over


def read(kind: str, path: Path, run_id: str) -> Imported:
    return _from_sqlite(path, run_id) if kind == "sqlite" else _from_files(path, run_id)


def _connect(path: Path) -> _Database:
    """The database, read-only (a source is never changed), its MLflow tables checked to be tables, and every
    query under the QUERY_SECONDS deadline."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, factory=_Database)
    deadline = [time.monotonic() + QUERY_SECONDS]
    con.set_progress_handler(lambda: time.monotonic() > deadline[0], 10_000)  # nonzero: sqlite stops the query
    kinds = dict(con.execute("SELECT name, type FROM sqlite_master WHERE name IN (?, ?, ?, ?, ?)", TABLES))
    wrong = [t for t in ("runs", "experiments", "metrics") if kinds.get(t) != "table"]
    if wrong:
        con.close()
        raise UsageError(f"import: {path} is not an MLflow tracking database: {', '.join(wrong)} "
                         f"{'is' if len(wrong) == 1 else 'are'} not a table")
    con.tables = {t for t, kind in kinds.items() if kind == "table"}
    return con


class _Database(sqlite3.Connection):
    """A connection that knows which of MLflow's tables the database has."""

    tables: set = set()


def _from_sqlite(path: Path, run_id: str) -> Imported:
    with _connect(path) as con:
        name, status, start, end, experiment = con.execute(
            "SELECT r.name, r.status, r.start_time, r.end_time, e.name FROM runs r LEFT JOIN experiments e "
            "ON e.experiment_id = r.experiment_id WHERE r.run_uuid = ?", (run_id,)).fetchone()
        run = _run(path, run_id, _text(name), _text(status), _number(start), _number(end), _text(experiment))
        for what in ("params", "tags"):
            if what not in con.tables:
                run.note(f"the database has no {what} table: the run has no {what}")
                continue
            pairs = _pairs(run, what, con.execute(
                f"SELECT key, CASE WHEN length(value) > ? THEN NULL ELSE value END FROM {what} "  # noqa: S608
                "WHERE run_uuid = ?", (MAX_PARAM_CHARS, run_id)))
            if what == "params":
                run.config = {k: _value(v) for k, v in pairs}
            else:
                run.tags = _tags(pairs)
        for key, value, timestamp, step, is_nan in con.execute(
                "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? ORDER BY step, timestamp",
                (run_id,)):
            number, when, at = _number(value), _number(timestamp), plain_step(step)
            if not isinstance(key, str) or at is None or when is None or (number is None and not is_nan):
                run.note("metric rows with a NULL or non-numeric step, timestamp or value were skipped")
                continue
            run.add(at, key, math.nan if is_nan else number, when / 1000)
    return run


def _pairs(run: Imported, what: str, rows) -> list[tuple[str, str]]:
    out = []
    for key, value in rows:
        if isinstance(key, str) and isinstance(value, str):
            out.append((key, value))
        else:
            run.note(f"{what} over {MAX_PARAM_CHARS:,} characters or not text were left out")
    return out


def _from_files(root: Path, run_id: str) -> Imported:
    tree = SourceTree(root)
    folder = tree.root / run_id
    meta = _yaml(tree, folder / "meta.yaml")
    experiment = _yaml(tree, folder.parent / "meta.yaml").get("name", "mlflow")
    status = meta.get("status")
    run = _run(tree.root, run_id, _text(meta.get("run_name")) or "", _text(FILE_STATUS.get(status, status)),
               _number(meta.get("start_time")), _number(meta.get("end_time")), _text(experiment))
    for what in ("params", "tags"):
        pairs = []
        for p in tree.files("*", under=folder / what, recursive=False) if (folder / what).is_dir() else []:
            try:
                pairs.append((p.name, tree.read_text(p, MAX_PARAM_CHARS)))
            except Refused as e:
                run.note(f"{what}: {e}; left out")
        if what == "params":
            run.config = {k: _value(v) for k, v in pairs}
        else:
            run.tags = _tags(pairs)
    metrics = folder / "metrics"
    for metric in tree.files("*", under=metrics) if metrics.is_dir() else []:
        key = metric.relative_to(metrics).as_posix()
        try:
            with tree.open(metric) as f:
                for number, line in enumerate(walk_lines(f), start=1):
                    _metric_line(run, key, number, line)
        except Refused as e:
            run.note(f"metric {key}: {e}; left out")
    for passed in tree.passed_over:
        run.note(passed)
    return run


def _metric_line(run: Imported, key: str, number: int, line: str) -> None:
    parts = line.split()
    try:
        timestamp, value = float(parts[0]), float(parts[1])
        step = plain_step(int(parts[2])) if len(parts) > 2 else 0
    except (IndexError, ValueError):
        step = None
    if step is None or not math.isfinite(timestamp):
        run.note(f"metric {key}, line {number}: {line.strip()[:80]!r} is not 'timestamp value step'; skipped")
        return
    run.add(step, key, value, timestamp / 1000)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _run(path: Path, run_id: str, name: str, status: str | None, start, end, experiment: str) -> Imported:
    run = Imported(name=name or run_id, origin=f"mlflow:{path.resolve()}#{run_id}",
                   experiment=plain_experiment(experiment or "", "mlflow"), status=STATUS.get(status or "", None))
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


def _yaml(tree: SourceTree, path: Path) -> dict:
    """The flat ``key: value`` lines of an MLflow meta.yaml (no YAML library needed for these)."""
    out: dict = {}
    try:
        lines = tree.read_text(path, MAX_SMALL_BYTES).splitlines()
    except (Refused, OSError):
        return out
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "-")):
            value = value.strip().strip("'\"")
            out[key.strip()] = _value(value) if value not in ("null", "") else None
    return out
