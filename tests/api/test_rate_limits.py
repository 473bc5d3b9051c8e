"""Rate limits on /api/log/token (per key) and the search routes (per user)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account, make_key, make_user, root_account
from tokenledger.app import create_app
from tokenledger.settings import Settings
from tokenledger.store.database import Database


@pytest.fixture
def limited(settings: Settings, db: Database) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={"rate_limit_enabled": True, "token_log_rate_limit": 3, "search_rate_limit": 2}
    )
    with TestClient(create_app(settings, db)) as client:
        yield client


def test_token_route_limits_each_key(limited: TestClient, db: Database) -> None:
    root_account(db)
    carol = make_user(db, "carol")
    first, second = make_key(db, carol, "first"), make_key(db, carol, "second")
    answers = [limited.get("/api/log/token", headers={"Authorization": f"Bearer {first}"}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[-1].json()
    assert refused["success"] is False and "too many requests" in refused["message"]
    # Another key of the same user has its own allowance.
    assert limited.get("/api/log/token", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_search_routes_limit_each_user(limited: TestClient, db: Database) -> None:
    root = root_account(db)
    dave: Account = make_user(db, "dave")
    for _ in range(2):
        assert limited.get("/api/log/self/search?keyword=gpt", headers=dave.headers).status_code == 200
    assert limited.get("/api/log/self/search?keyword=gpt", headers=dave.headers).status_code == 429
    assert limited.get("/api/log/search?keyword=gpt", headers=root.headers).status_code == 200


def test_limits_off_when_disabled(client: TestClient, alice: Account) -> None:
    statuses = {client.get("/api/log/self/search?keyword=x", headers=alice.headers).status_code for _ in range(40)}
    assert statuses == {200}
