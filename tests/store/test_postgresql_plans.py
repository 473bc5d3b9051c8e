"""PostgreSQL plans every statement for its own parameter values: psycopg's automatic server-side
prepared statements would let PostgreSQL settle on one generic plan, which read a heavy user's rows for
one of their API keys' pages (1.1 s instead of 14 ms at 10M rows)."""

from __future__ import annotations

import pytest

from tokenledger.domain.filters import LogFilters, PageRequest
from tokenledger.store import logs
from tokenledger.store.database import Database


def test_repeated_queries_are_not_prepared_on_the_server(db: Database) -> None:
    if db.log_backend != "postgresql":
        pytest.skip("server-side prepared statements are a PostgreSQL matter")
    with db.read_logs() as conn:
        for token_id in range(1, 13):
            logs.list_page(conn, LogFilters(user_id=1, token_id=token_id), PageRequest())
        prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one()
    assert prepared == 0
