"""The full-text conditions the store writes are the ones the engines' text indexes answer: if the query's
expression and the migration's index drift apart, search silently turns into a table scan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.backends import Databases
from tests.store.plans import plan_text
from tokenledger.store import _dialect, migrate
from tokenledger.store.database import Connection, Database
from tokenledger.store.schema import logs


@pytest.fixture(params=["postgresql", "mysql"])
def server_db(request: pytest.FixtureRequest, databases: Databases, tmp_path: Path) -> Iterator[Database]:
    urls = databases.fresh(str(request.param), tmp_path / "unused.db")
    database = Database(urls.core)
    migrate.upgrade(database)
    yield database
    database.dispose()


def _plan(conn: Connection, words: list[str]) -> str:
    """EXPLAIN of a query filtered by the full-text condition, one line per plan row."""
    listed = _dialect.content_matches(conn, words, 100).listed if conn.dialect.name == "postgresql" else None
    query = select(logs.c.id).where(listed if listed is not None else _dialect.mysql_fulltext(words))
    return plan_text(conn, query)


def test_search_reads_the_full_text_index(server_db: Database) -> None:
    with server_db.read_logs() as conn:
        if server_db.log_backend == "postgresql":
            # On a near-empty table a scan is cheaper; forbid it to see whether the index can serve at all.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            assert "ix_logs_content_fts" in _plan(conn, ["upstream", "timeout"])
            # How search learns whether the matches are few enough to list whole: the index's listing in
            # full, of which the LIMIT reads the first rows (with a plain LIMIT, PostgreSQL at 10M rows
            # tested the table's rows one by one instead).
            listing = _dialect.content_matches(conn, ["upstream"], 100).listing
            assert listing is not None
            few = plan_text(conn, listing.first_ids(500))
            assert "CTE Scan on listed" in few and "ix_logs_content_fts" in few, few
        else:
            plan = _plan(conn, ["upstream", "timeout"])
            assert "fulltext" in plan and "ix_logs_content_fts" in plan, plan


def test_postgresql_tests_the_plain_content_before_spacing_it(databases: Databases, tmp_path: Path) -> None:
    """A walk tests each row's content for the words before computing its spaced text (every run of other
    characters turned into a space), which costs six times as much per row: PostgreSQL evaluates a filter's
    conditions in the order its plan shows them."""
    database = Database(databases.fresh("postgresql", tmp_path / "unused.db").core)
    migrate.upgrade(database)
    try:
        with database.read_logs() as conn:
            condition = _dialect.content_matches(conn, ["upstream", "timeout"], 100).condition
            plan = plan_text(conn, select(logs.c.id).where(condition))
    finally:
        database.dispose()
    filtered = next(line for line in plan.splitlines() if "Filter:" in line)
    before_spacing = filtered[: filtered.find("regexp_replace")]
    assert all(
        "(content ~~* '" in test and word in test
        for test, word in zip(before_spacing.split(" AND ")[:2], ("upstream", "timeout"), strict=True)
    ), filtered
    assert before_spacing.count("~~*") == 2, filtered
