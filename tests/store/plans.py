"""Query plans as the engines report them, for the tests that check a read stays on its index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import ClauseElement, Connection, Row

from tests.backends import Databases
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import _dialect, logs, migrate
from tokenledger.store.database import Database


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


def analyzed_database(databases: Databases, backend: str, tmp_path: Path, entries: Sequence[LogEntry]) -> Database:
    """A fresh migrated database of a server engine holding `entries`, the planner statistics of the logs
    and their rollups refreshed so that plans follow the rows."""
    database = Database(databases.fresh(backend, tmp_path / "unused.db").core)
    migrate.upgrade(database)
    with database.write_logs() as conn:
        logs.insert_logs(conn, entries)
        _dialect.refresh_statistics(conn, ("logs", "log_rollups"))
    return database


def models_over_hours() -> list[LogEntry]:
    """Logs of four models (three matching `gpt-4o%`) in each of 300 hours: a pattern's values each have a
    rollup row per hour, which a scan would read and a seek per value does not."""
    models = ("gpt-4o", "gpt-4o-mini", "gpt-4o-mini-tts", "gpt-5")
    return [
        LogEntry(id=0, user_id=1, created_at=1_790_000_000 + hour * 3600, type=LogType.CONSUME, model_name=model)
        for hour in range(300)
        for model in models
    ]
