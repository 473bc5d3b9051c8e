"""MySQL and MariaDB read a deep or cursor page's ids from the filter's index alone, then fetch only the
page's rows: given every column to return, MariaDB read each row an OFFSET skipped, and walked a user's
index from its newest entry instead of seeking to a cursor's bound (hundreds of milliseconds at 1M rows)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import Databases
from tests.store.plans import analyzed_database, explain
from tokenledger.domain.filters import Cursor, LogFilters
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import logs
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
