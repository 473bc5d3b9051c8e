"""Fixtures for driving the app in-process over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.backends import DatabaseUrls
from tests.factories import Account, make_user, root_account
from tokenledger.app import create_app
from tokenledger.settings import Settings
from tokenledger.store.database import Database


@pytest.fixture
def settings(db_urls: DatabaseUrls) -> Settings:
    return Settings(
        sql_dsn=db_urls.core,
        log_sql_dsn=db_urls.logs,
        session_secret="test-session-secret-0123456789",
        rate_limit_enabled=False,
    )


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as test_client:
        yield test_client


@pytest.fixture
def root(db: Database) -> Account:
    return root_account(db)


# Users depend on root so that root is always created first: the first start only makes root on an empty table.
@pytest.fixture
def alice(db: Database, root: Account) -> Account:
    return make_user(db, "alice")


@pytest.fixture
def bob(db: Database, root: Account) -> Account:
    return make_user(db, "bob")


@pytest.fixture
def ingest(client: TestClient, root: Account) -> Callable[[list[dict[str, Any]]], int]:
    """Push records through POST /api/log/ingest as root; returns how many were inserted."""

    def push(records: list[dict[str, Any]]) -> int:
        response = client.post("/api/log/ingest", json=records, headers=root.headers)
        body = response.json()
        assert body["success"], body["message"]
        return int(body["data"]["inserted"])

    return push
