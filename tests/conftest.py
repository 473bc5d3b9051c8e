"""Shared fixtures: every test gets its own freshly migrated SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database)
    yield database
    database.dispose()
