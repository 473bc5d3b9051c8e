"""A list filtered by an API key reads that key's index, not its owner's: the user's index would walk the
owner's other keys' rows too (SQLite, which keeps no statistics, chose it for a heavy user's key)."""

from __future__ import annotations

from pathlib import Path

from tests.store.plans import plan_text
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import logs, migrate
from tokenledger.store.database import Database


def test_a_keys_logs_are_read_from_the_keys_index(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate.upgrade(db)
    with db.write_logs() as conn:
        entries = [
            LogEntry(id=0, user_id=1, token_id=1 + n % 4, created_at=1_790_000_000 + n, type=LogType.CONSUME)
            for n in range(400)
        ]
        logs.insert_logs(conn, entries)
    key = LogFilters(user_id=1, token_id=3)
    with db.read_logs() as conn:
        plan = plan_text(conn, logs._newest(conn, key, limit=100))
        found = logs.list_recent(conn, key, 1000)
    db.dispose()
    assert "INDEX ix_logs_token_id_created_at_id" in plan and "TEMP B-TREE" not in plan, plan
    assert [entry.created_at for entry in found] == [1_790_000_000 + n for n in range(399, -1, -1) if n % 4 == 2]
