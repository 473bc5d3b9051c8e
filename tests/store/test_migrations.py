"""The migration chain builds exactly the schema the code declares on every backend (and, with LOG_SQL_DSN,
each part in its own database), can be walked down and up, and stale schemas are refused."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, inspect, select, text

from tests.backends import Databases, DatabaseUrls
from tests.store.samples import filter_sets, sample_entries
from tokenledger.domain.errors import LedgerError
from tokenledger.domain.filters import LogFilters
from tokenledger.store import logs, migrate, schema
from tokenledger.store.database import Database
from tokenledger.store.schema import core_metadata, log_metadata

# Created by the migration for SQLite's full-text search, deliberately outside the declared tables.
SEARCH_TABLES = {"logs_fts", "logs_fts_data", "logs_fts_idx", "logs_fts_docsize", "logs_fts_config", "logs_fts_terms"}
# The full-text indexes on PostgreSQL and MySQL are expression or FULLTEXT indexes the metadata does not
# declare; on MySQL it covers a generated column the queries never select.
SEARCH_INDEXES = {"ix_logs_content_fts", "ix_logs_content_day_terms", "ix_logs_content_day_words"}
SEARCH_COLUMNS = {"content_words", "content_day_words"}


def _include(name: str | None, kind: str, _parent: Any) -> bool:
    return not (
        (kind == "table" and name in SEARCH_TABLES)
        or (kind == "index" and name in SEARCH_INDEXES)
        or (kind == "column" and name in SEARCH_COLUMNS)
    )


def _drift(engine: Engine, metadata: list[MetaData]) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _include, "compare_type": True})
        return list(compare_metadata(context, metadata))


def _all_drift(db: Database) -> list[Any]:
    if db.separate_logs:
        return _drift(db.engine, [core_metadata]) + _drift(db.log_engine, [log_metadata])
    return _drift(db.engine, [core_metadata, log_metadata])


@pytest.fixture
def fresh_db(fresh_urls: DatabaseUrls) -> Iterator[Database]:
    database = Database(fresh_urls.core, fresh_urls.logs)
    yield database
    database.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_migrations_match_the_declared_tables(fresh_db: Database) -> None:
    migrate.upgrade(fresh_db)
    assert _all_drift(fresh_db) == []
    assert set(migrate.revisions(fresh_db).values()) == {migrate.head_revision()}
    migrate.check_current(fresh_db)


def test_each_database_holds_only_its_part(fresh_db: Database) -> None:
    migrate.upgrade(fresh_db)
    core = _tables(fresh_db.engine)
    logs = _tables(fresh_db.log_engine)
    assert set(core_metadata.tables) <= core
    assert set(log_metadata.tables) <= logs
    if fresh_db.separate_logs:
        assert not core & set(log_metadata.tables)
        assert not logs & set(core_metadata.tables)


def test_downgrade_to_base_and_back(fresh_db: Database) -> None:
    migrate.upgrade(fresh_db)
    migrate.downgrade(fresh_db, "base")
    assert _tables(fresh_db.engine) <= {"alembic_version"}
    assert _tables(fresh_db.log_engine) <= {"alembic_version"}
    migrate.upgrade(fresh_db)
    assert set(core_metadata.tables) | set(log_metadata.tables) <= _tables(fresh_db.engine) | _tables(
        fresh_db.log_engine
    )
    assert _all_drift(fresh_db) == []


def test_empty_database_is_detected(fresh_db: Database) -> None:
    assert migrate.is_empty(fresh_db)
    migrate.upgrade(fresh_db)
    assert not migrate.is_empty(fresh_db)


def test_a_stale_revision_is_refused_naming_the_command(fresh_db: Database) -> None:
    migrate.upgrade(fresh_db)
    with fresh_db.log_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(LedgerError, match=r"revision 0000.*tokenledger db upgrade"):
        migrate.check_current(fresh_db)


def test_a_core_database_used_without_its_log_database_is_refused(databases: Databases, tmp_path: Path) -> None:
    """A database created with the logs elsewhere, later used alone, must not serve an empty log table."""
    urls = databases.fresh("split", tmp_path / "unused.db")
    split = Database(urls.core, urls.logs)
    migrate.upgrade(split)
    split.dispose()
    core_alone = Database(urls.core)
    try:
        with pytest.raises(LedgerError, match=r"SQL_DSN lacks the tables .*\blogs, quota_data"):
            migrate.check_current(core_alone)
    finally:
        core_alone.dispose()


def test_log_sql_dsn_naming_the_same_database_is_one_database(fresh_urls: DatabaseUrls) -> None:
    same = Database(fresh_urls.core, fresh_urls.core)
    try:
        assert not same.separate_logs
        migrate.upgrade(same)
        migrate.check_current(same)
        assert set(log_metadata.tables) <= _tables(same.engine)
    finally:
        same.dispose()


def test_rollups_are_filled_from_the_logs_already_stored(fresh_db: Database) -> None:
    """Upgrading a database that already holds logs computes their rollups (revision 0003)."""
    migrate.upgrade(fresh_db, "0002")
    entries = sample_entries(random.Random(9), 300)
    with fresh_db.write_logs() as conn:
        conn.execute(
            insert(schema.logs), [dict(zip(logs._COLUMNS, logs._values(entry), strict=True)) for entry in entries]
        )
    migrate.upgrade(fresh_db)
    with fresh_db.read_logs() as conn:
        assert logs.count(conn, LogFilters()) == 300
        for filters in filter_sets():
            assert logs.count(conn, filters) == logs.count_raw(conn, filters), filters
        # Revision 0007: every (username, user id) pair the logs carry.
        pairs = select(schema.logs.c.username, schema.logs.c.user_id).distinct()
        assert set(conn.execute(select(schema.log_usernames))) == set(conn.execute(pairs))
