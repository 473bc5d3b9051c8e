"""PostgreSQL plans every statement for its own parameter values: psycopg's automatic server-side
prepared statements would let PostgreSQL settle on one generic plan, which read a heavy user's rows for
one of their API keys' pages (1.1 s instead of 14 ms at 10M rows)."""

from __future__ import annotations

from sqlalchemy import text

from tests.backends import Databases
from tokenledger.store import dsn
from tokenledger.store.database import server_engine


def test_repeated_queries_are_not_prepared_on_the_server(databases: Databases) -> None:
    engine = server_engine(dsn.normalize_url(databases.new("postgresql", "plans")))
    try:
        with engine.connect() as conn:
            statement = text("SELECT CAST(:value AS integer) + 1")
            for value in range(12):
                assert conn.execute(statement, {"value": value}).scalar_one() == value + 1
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
    finally:
        engine.dispose()
    assert prepared == 0
