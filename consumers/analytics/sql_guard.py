"""What user SQL may do, decided from DuckDB's own parse of it: one read-only query, nothing else.

This is the first of two walls (the second is the connection itself, which can open no file but
the Parquet files it reads; see ``sql._lock_down``). A statement runs only when DuckDB parses the
text as exactly one statement of type SELECT *and* ``json_serialize_sql`` — which serialises
nothing but pure query trees — accepts it. ``EXPLAIN [ANALYZE] X`` runs only when X alone passes
the same check, since EXPLAIN ANALYZE executes what it wraps. Anything the check cannot prove to
be a query is refused: a refusal names what was found and what is allowed.
"""

from __future__ import annotations

import json
import re

import duckdb

from ol.errors import OlError

_EXPLAIN = re.compile(r"^\s*explain\s+(?:analyze\s+)?(?P<inner>.*)$", re.IGNORECASE | re.DOTALL)


class QueryError(OlError):
    """A query that was refused or that DuckDB could not run."""


def checked_statement(con: duckdb.DuckDBPyConnection, sql: str, hint: str = "") -> str:
    """The one read-only statement in ``sql``, or QueryError saying why it may not run; ``hint`` follows
    a syntax error (what there is to query)."""
    statements = _parse(con, sql, hint)
    if not statements:
        raise QueryError("query: the SQL is empty; write one SELECT statement")
    if len(statements) > 1:
        kinds = ", ".join(s.type.name for s in statements)
        raise QueryError(f"query: one statement at a time ({len(statements)} given: {kinds}); "
                         "run them separately")
    statement = statements[0]
    kind = statement.type.name
    if kind == "SELECT":
        _require_pure_query(con, statement.query, kind)
        return statement.query
    if kind == "EXPLAIN":
        match = _EXPLAIN.match(statement.query)
        inner = _parse(con, match.group("inner")) if match else []
        if len(inner) != 1 or inner[0].type.name != "SELECT":
            raise QueryError("query: EXPLAIN runs only over a single SELECT (found "
                             f"{_kinds(inner) or 'something else'}); the store is read-only")
        _require_pure_query(con, inner[0].query, "EXPLAIN")
        return statement.query
    raise QueryError(f"query: only SELECT runs here ({kind} refused); the store is read-only")


def _parse(con, sql: str, hint: str = "") -> list:
    try:
        return con.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryError(f"query: {first_line(e)}{hint}") from None


def _kinds(statements: list) -> str:
    return ", ".join(s.type.name for s in statements)


def _require_pure_query(con, sql: str, kind: str) -> None:
    """DuckDB's serializer accepts only plain query trees: a second, independent opinion."""
    try:
        serialized = con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchall()[0][0]
        verdict = json.loads(serialized)
    except (duckdb.Error, ValueError, TypeError) as e:
        raise QueryError(f"query: {kind} could not be checked ({first_line(e)}); the store is read-only") from None
    if verdict.get("error"):
        message = verdict.get("error_message", "not a plain query")
        raise QueryError(f"query: only plain SELECT queries run here ({message}); the store is read-only")


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
