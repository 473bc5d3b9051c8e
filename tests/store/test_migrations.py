"""The migration chain builds exactly the schema the code declares, and can be walked down and up."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tokenledger.store import migrate
from tokenledger.store.database import Database
from tokenledger.store.schema import metadata

# Created by the migration for full-text search, deliberately outside the declared tables.
SEARCH_TABLES = {"logs_fts", "logs_fts_data", "logs_fts_idx", "logs_fts_docsize", "logs_fts_config"}


def _drift(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_name": lambda name, kind, _parent: not (kind == "table" and name in SEARCH_TABLES)},
        )
        return list(compare_metadata(context, metadata))


def test_migrations_match_the_declared_tables(db: Database) -> None:
    assert _drift(db) == []
    assert migrate.current_revision(db) == migrate.head_revision(db)


def test_downgrade_to_base_and_back(db: Database) -> None:
    migrate.downgrade(db, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db)
    assert {"logs", "users", "tokens", "channels", "quota_data", "sessions", "logs_fts"} <= set(
        inspect(db.engine).get_table_names()
    )
    assert _drift(db) == []


def test_empty_database_is_detected(db_url: str) -> None:
    fresh = Database(db_url)
    assert migrate.is_empty(fresh)
    migrate.upgrade(fresh)
    assert not migrate.is_empty(fresh)
