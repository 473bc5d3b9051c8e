"""Query plans as the engines report them, for the tests that check a read stays on its index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ClauseElement, Connection, Row


def explain(conn: Connection, query: ClauseElement) -> list[Row[Any]]:
    """The engine's plan rows for `query`, its parameters written in: EXPLAIN QUERY PLAN on SQLite,
    EXPLAIN on PostgreSQL and MySQL."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    # The server drivers' paramstyle reads a lone % as a placeholder.
    return list(conn.exec_driver_sql("EXPLAIN " + sql.replace("%", "%%")))


def plan_text(conn: Connection, query: ClauseElement) -> str:
    """The plan rows as text, one line per row."""
    return "\n".join(" ".join(str(value) for value in row) for row in explain(conn, query))
