"""MySQL and MariaDB read a deep or cursor page's ids from the filter's index alone, then fetch only the
page's rows: given every column to return, MariaDB read each row an OFFSET skipped, and walked a user's
index from its newest entry instead of seeking to a cursor's bound (hundreds of milliseconds at 1M rows).
And the values of a LIKE pattern are found a seek each, not by reading every hour's rollup row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from tests.backends import Databases
from tests.store.plans import analyzed_database, explain, models_over_hours
from tokenledger.domain.filters import Cursor, LogFilters, TextMatch
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import logs, rollups
from tokenledger.store.database import Database


@pytest.fixture
def mysql_db(databases: Databases, tmp_path: Path) -> Iterator[Database]:
    entries = [
        LogEntry(id=0, user_id=1 + n % 3, created_at=1_790_000_000 + n, type=LogType(2 + n % 2)) for n in range(600)
    ]
    database = analyzed_database(databases, "mysql", tmp_path, entries)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (LogFilters(), "ix_logs_created_at_id"),
        (LogFilters(user_id=2), "ix_logs_user_id_created_at_id"),
        (LogFilters(type=LogType.MANAGE), "ix_logs_type_created_at_id"),
    ],
)
@pytest.mark.parametrize("paging", ["offset", "cursor"])
def test_deep_and_cursor_pages_read_ids_from_the_index_alone(
    mysql_db: Database, filters: LogFilters, index: str, paging: str
) -> None:
    with mysql_db.read_logs() as conn:
        if paging == "offset":
            query = logs._newest(conn, filters, limit=10, offset=100, page=True)
        else:
            query = logs._newest(conn, filters, limit=10, after=Cursor(1_790_000_300, 300, 100), page=True)
        plan = [dict(row._mapping) for row in explain(conn, query)]
    id_steps = [step for step in plan if step["key"] == index]
    assert id_steps and "Using index" in str(id_steps[0]["Extra"]), plan
    assert any(step["table"] == "logs" and step["key"] == "PRIMARY" for step in plan), plan


def _handler_reads(conn: Connection) -> dict[str, int]:
    """This session's row-read counters (index seeks, next-row steps…) so far."""
    return {name: int(value) for name, value in conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%%'")}


def test_a_patterns_values_are_found_without_reading_each_values_hours(databases: Databases, tmp_path: Path) -> None:
    """Beside a LIKE, MariaDB computed min(key_text) by reading every rollup row of the range: each value's
    row for every hour it was logged in. Each value must cost a seek and a step or two, whatever its hours."""
    database = analyzed_database(databases, "mysql", tmp_path, models_over_hours())
    try:
        with database.read_logs() as conn:
            before = _handler_reads(conn)
            values = rollups.values_like(conn, "model_name", TextMatch("gpt-4o%", is_pattern=True), 32)
            after = _handler_reads(conn)
    finally:
        database.dispose()
    assert values == ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini-tts"]
    steps = after["Handler_read_next"] - before["Handler_read_next"]
    assert steps < 20, f"{steps} index steps for 3 values of 300 hours each"
