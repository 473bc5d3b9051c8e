"""PostgreSQL adds a batch's logs to the current hour's counters without moving the rows (migration 0013):
the counter tables' pages keep room, so each update is heap-only and touches no index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.backends import Databases
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import logs, migrate
from tokenledger.store.database import Database

HOUR = 1_790_002_800
USERS = 600


def _logs(users: range) -> list[LogEntry]:
    return [
        LogEntry(
            id=0,
            user_id=user,
            username=f"user{user}",
            token_id=10_000 + user,
            token_name=f"key{user}",
            model_name=f"model{user % 40}",
            created_at=HOUR + user % 3600,
            type=LogType.CONSUME,
            quota=user,
            prompt_tokens=7,
            completion_tokens=3,
        )
        for user in users
    ]


@pytest.fixture
def postgresql_db(databases: Databases, tmp_path: Path) -> Iterator[Database]:
    database = Database(databases.fresh("postgresql", tmp_path / "unused.db").core)
    migrate.upgrade(database)
    yield database
    database.dispose()


def test_an_hours_counters_are_updated_in_place(postgresql_db: Database) -> None:
    # 600 users' logs fill thousands of counter rows over dozens of pages, all of this hour.
    with postgresql_db.write_logs() as conn:
        logs.insert_logs(conn, _logs(range(1, USERS + 1)))
    with postgresql_db.write_logs() as conn:
        # A tenth of the users log again in the same hour: their rows are updated, spread over every page.
        logs.insert_logs(conn, _logs(range(1, USERS + 1, 10)))
        counts = {
            row.relname: (row.n_tup_upd, row.n_tup_hot_upd)
            for row in conn.execute(
                text(
                    "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                    "WHERE relname IN ('log_rollups', 'usage_hourly')"
                )
            )
        }
    updated, heap_only = counts["log_rollups"]
    # Each of the 60 users' own rows (user; user and key; username; key name; user and key name; user and
    # model) and the shared ones (all logs, models, channel, group).
    assert updated >= 60 * 6
    assert heap_only == updated
    updated, heap_only = counts["usage_hourly"]
    assert updated == 60
    assert heap_only == updated
