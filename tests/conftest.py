"""Shared fixtures. Every test that touches storage runs once per backend (see tests/backends.py) on
freshly migrated, empty databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import Databases, DatabaseUrls, selected_backends
from tokenledger.domain import credentials
from tokenledger.store import migrate
from tokenledger.store.database import Database


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """bcrypt at its production cost takes ~0.4 s a hash here; tests hash many passwords."""
    original = credentials.BCRYPT_ROUNDS
    credentials.BCRYPT_ROUNDS = 4
    yield
    credentials.BCRYPT_ROUNDS = original


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    created = Databases(tmp_path_factory.mktemp("databases"))
    yield created
    created.drop_all()


# Session-scoped so that module-scoped fixtures (a database shared by read-only tests) can follow it too.
@pytest.fixture(scope="session", params=selected_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_urls(backend: str, databases: Databases, tmp_path: Path) -> DatabaseUrls:
    """Migrated, empty databases (SQL_DSN and, for the split backend, LOG_SQL_DSN)."""
    return databases.clean(backend, tmp_path / "ledger.db")


@pytest.fixture
def fresh_urls(backend: str, databases: Databases, tmp_path: Path) -> DatabaseUrls:
    """Brand-new databases with no schema at all."""
    return databases.fresh(backend, tmp_path / "fresh.db")


@pytest.fixture
def db(db_urls: DatabaseUrls) -> Iterator[Database]:
    database = Database(db_urls.core, db_urls.logs)
    if database.backend == "sqlite":
        migrate.upgrade(database)
    yield database
    database.dispose()
