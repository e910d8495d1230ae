"""The query sandbox: a corpus of escape attempts, each refused in one line with no file changed
anywhere; a write that gets past the statement check still cannot reach a log; a forged cache is
never believed."""

from __future__ import annotations

import hashlib
import os

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.consumers.analytics.sql_guard import QueryError
from ol.store.index.files import CATALOG, DATA_DIR, index_home

runner = CliRunner()

WRITES = [
    "COPY (SELECT 'x' AS junk) TO '{log}' (FORMAT csv, HEADER false)",
    "COPY (SELECT 'x' AS junk) TO '{cache}' (FORMAT parquet)",
    "COPY (SELECT 1) TO '{outside}/stolen.csv'",
    "COPY steps TO '{store}/../escaped.csv'",
    "COPY (SELECT 1) TO '{link}/via-symlink.csv'",
    "EXPORT DATABASE '{outside}/dump'",
    "ATTACH '{outside}/new.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "PRAGMA enable_profiling",
    "CREATE TABLE t AS SELECT 1",
    "CREATE OR REPLACE VIEW steps AS SELECT 1",
    "INSERT INTO steps SELECT * FROM steps",
    "DROP VIEW runs",
    "CALL checkpoint()",
    "CHECKPOINT",
]
READS_OUTSIDE = [
    "SELECT * FROM read_text('{outside}/secret.txt')",
    "SELECT * FROM read_csv('{link}/secret.txt')",
    "SELECT * FROM read_csv('{store}/../outside/secret.txt')",
    "SELECT * FROM read_blob('{log}')",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{outside}/q.csv''')",
]


def _attempts() -> list[str]:
    out = []
    for sql in WRITES:
        out += [sql, f"EXPLAIN {sql}", f"EXPLAIN ANALYZE {sql}", f"SELECT 1; {sql}", f"{sql}; SELECT 1",
                f"explain analyze select 1; explain analyze {sql}", f"EXPLAIN /* hidden */ ANALYZE {sql}"]
    return out + READS_OUTSIDE + [f"EXPLAIN ANALYZE {sql}" for sql in READS_OUTSIDE]


def _tree_hashes(*roots) -> dict[str, str]:
    found = {}
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.islink(path) or name == CATALOG:  # the indexer's own bookkeeping may settle
                    continue
                with open(path, "rb") as f:
                    found[path] = hashlib.sha256(f.read()).hexdigest()
    return found


@pytest.fixture
def targets(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("a,b\n1,2\n")
    link = store / "exp" / "link-out"
    link.symlink_to(outside, target_is_directory=True)
    connect(store)  # index first, so the batch files exist and are part of what must not change
    run = store / "exp" / "r-stride-1"
    batch_file = next((index_home(store) / DATA_DIR).glob("*/steps.parquet"))
    return {"log": run / "log" / "00000000.olog", "cache": batch_file, "outside": outside, "store": store, "link": link}


def test_every_escape_attempt_is_refused_in_one_line_and_nothing_changes(store, tmp_path, targets):
    before = _tree_hashes(tmp_path)
    attempts = _attempts()
    for template in attempts:
        sql = template.format(**targets)
        result = runner.invoke(app, ["query", sql, "--store", str(store)])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1, (sql, result.output)
        assert lines[-1].startswith("error: query:") and "Traceback" not in result.output, (sql, result.output)
    assert _tree_hashes(tmp_path) == before
    assert not (tmp_path / "escaped.csv").exists()
    assert len(attempts) > 100


def test_plain_queries_and_explain_still_run(store):
    conn = connect(store)
    assert conn.query("SELECT count(*) AS n FROM steps").column("n")[0].as_py() == 90
    assert conn.query("WITH s AS (SELECT * FROM steps) SELECT max(step) AS m FROM s").column("m")[0].as_py() == 30
    assert conn.query("EXPLAIN SELECT * FROM steps").num_rows >= 1
    assert conn.query("EXPLAIN ANALYZE SELECT count(*) FROM metrics").num_rows >= 1
    assert conn.query("DESCRIBE steps").num_rows >= 6
    assert conn.query("SELECT * FROM runs WHERE seed = $s", {"s": 2}).num_rows == 1


def test_a_write_past_the_statement_check_cannot_reach_a_log(store, targets):
    """The second wall, tested without the first: the connection itself opens no file but the Parquet."""
    conn = connect(store)
    log_before = targets["log"].read_bytes()
    for sql in ("COPY (SELECT 'x') TO '{log}' (FORMAT csv)", "COPY (SELECT 1) TO '{outside}/x.csv'",
                "SELECT * FROM read_text('{outside}/secret.txt')"):
        with pytest.raises(Exception, match="Permission|disabled"):
            conn.con.sql(sql.format(**targets)).fetchall()
    assert targets["log"].read_bytes() == log_before
    with pytest.raises(Exception, match="lock|configuration"):
        conn.con.execute("SET enable_external_access = true")


def _batch_file(store, name):
    return next((index_home(store) / DATA_DIR).glob(f"*/{name}"))


def test_a_forged_index_file_is_never_believed(store):
    conn = connect(store)
    honest = conn.query("SELECT message FROM notes WHERE run_id = 'r-stride-1'").column("message").to_pylist()
    assert honest == ["done"]
    notes = _batch_file(store, "notes.parquet")
    # the write a fooled check would allow: the one kind of file the connection may open
    conn.con.sql(f"COPY (SELECT 'exp' AS experiment, 'r-stride-1' AS run_id, 0::BIGINT AS seq, 0::BIGINT AS step, "
                 f"0::BIGINT AS epoch, 'info' AS level, 'forged' AS message) TO '{notes}' "
                 "(FORMAT parquet, USE_TMP_FILE false)").fetchall()
    again = connect(store)
    messages = again.query("SELECT message FROM notes WHERE run_id = 'r-stride-1'").column("message").to_pylist()
    assert messages == ["done"]
    assert any("indexed again" in w for w in again.warnings)


def test_an_index_file_replaced_by_hand_is_rebuilt(store):
    connect(store)
    steps = _batch_file(store, "steps.parquet")
    steps.write_bytes(_batch_file(store, "epochs.parquet").read_bytes())  # other rows in its place
    rows = connect(store).query("SELECT DISTINCT run_id FROM steps WHERE run_id LIKE 'r-stride-%' ORDER BY 1")
    assert rows.column("run_id").to_pylist() == ["r-stride-1", "r-stride-2"]


def test_one_statement_at_a_time(store):
    conn = connect(store)
    with pytest.raises(QueryError, match="one statement at a time"):
        conn.query("SELECT 1; SELECT 2")
    with pytest.raises(QueryError, match="empty"):
        conn.query("  ")


def test_a_query_past_its_memory_limit_fails_in_one_line_and_spills_nothing_to_disk(store, tmp_path):
    """DuckDB's default is to spill into ./.tmp with most of the disk allowed (this query then succeeds, having
    written about 0.5 GB there, removed only if the process is not killed); `ol query` never writes there."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    cwd = tmp_path / "here"
    cwd.mkdir()
    done = subprocess.run([sys.executable, "-c", "from ol.cli import main; main()", "query", "--store", str(store),
                           "--memory-limit", "200MB", "SELECT count(*) FROM (SELECT range AS x FROM range(30000000) "
                           "ORDER BY random())"], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "more memory than its limit" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and not list(cwd.rglob("*"))
