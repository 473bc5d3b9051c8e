"""INVARIANT: a user, or an API key, never sees another user's rows, by any endpoint, filter or page,
whatever credential it comes with. Plus API_KEY_LOG_SCOPE: "account" (a key sees its owner's rows) or
"token" (a key sees only its own)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    Ingest,
    all_cursor_pages,
    all_offset_pages,
    data_of,
    login_client,
    newest_first,
    page,
    rids,
)
from tests.factories import Account, make_key, record
from tokenledger.app import create_app
from tokenledger.settings import Settings
from tokenledger.store.database import Database

HOUR = 3600


@dataclass
class World:
    now: int
    records: list[dict[str, Any]]
    accounts: tuple[Account, Account]
    sessions: dict[int, TestClient] = field(default_factory=dict)

    def own(
        self, account: Account, predicate: Callable[[dict[str, Any]], bool] = lambda r: True
    ) -> list[dict[str, Any]]:
        return newest_first([r for r in self.records if r["user_id"] == account.id and predicate(r)])

    def other(self, account: Account) -> Account:
        return self.accounts[1] if account is self.accounts[0] else self.accounts[0]


@pytest.fixture
def world(db: Database, alice: Account, bob: Account, ingest: Ingest) -> World:
    """Two users, two keys each, rows of every kind: some on shared models and channels, some claiming the
    other user's key id, all with the shared word "common" in their content."""
    for account in (alice, bob):
        make_key(db, account, "k1")
        make_key(db, account, "k2")
    now = int(time.time())
    records = []
    for owner, other in ((alice, bob), (bob, alice)):
        key_ids = [owner.keys["k1"][0], owner.keys["k2"][0], 0, other.keys["k1"][0], other.keys["k2"][0]]
        for i in range(12):
            records.append(
                record(
                    owner,
                    created_at=now - 5 - 97 * i,
                    type=[2, 2, 5, 1, 2, 3][i % 6],
                    model_name=["gpt-4o", f"{owner.username}-model"][i % 2],
                    token_id=key_ids[i % 5],
                    token_name=f"{owner.username}-key",
                    channel=1 + i % 3,
                    group="default",
                    quota=10 * owner.id + i,
                    content=f"common words {owner.username}only entry {i}",
                    request_id=f"{owner.username}-{i}",
                )
            )
    ingest(records)
    return World(now=now, records=records, accounts=(alice, bob))


def _credentials(
    client: TestClient, world: World, account: Account
) -> Iterator[tuple[str, TestClient, dict[str, str]]]:
    """The three kinds of credential: access token, session cookie (its own client), sk- key."""
    yield "access token", client, account.headers
    if account.id not in world.sessions:
        world.sessions[account.id] = login_client(client, account)
    yield "session", world.sessions[account.id], {}
    yield "api key", client, account.key_headers("k1")


def _check_rows(rows: list[dict[str, Any]], account: Account, where: Any) -> None:
    for row in rows:
        assert row["user_id"] == account.id, where
        assert row["username"] == account.username, where
        assert row["request_id"].startswith(f"{account.username}-"), where


def _list_params(other: Account) -> list[dict[str, Any]]:
    return [
        {},
        {"username": other.username},
        {"username": f"%{other.username[1:]}"},
        {"user_id": other.id},
        {"channel": 2},
        {"type": 2},
        {"type": 5, "username": other.username, "user_id": other.id},
        {"model_name": f"{other.username}-model"},
        {"model_name": "gpt-4o", "user_id": other.id},
        {"model_name": "%model"},
        {"token_name": f"{other.username}-key"},
        {"request_id": f"{other.username}-3"},
        {"start_timestamp": 1, "end_timestamp": 10**12 * 10},
    ]


def test_self_list_never_shows_another_users_rows(client: TestClient, world: World) -> None:
    for account in world.accounts:
        other = world.other(account)
        for kind, http, headers in _credentials(client, world, account):
            for params in _list_params(other):
                where = (account.username, kind, params)
                rows, total = all_offset_pages(http, "/api/log/self", headers, 6, **params)
                _check_rows(rows, account, where)
                assert len(rows) == total, where
                by_cursor, _ = all_cursor_pages(http, "/api/log/self", headers, 8, **params)
                assert by_cursor == rows, where
            everything = page(http, "/api/log/self", headers, page_size=100)
            assert rids(everything["items"]) == rids(world.own(account)), (account.username, kind)
            # Filters naming only the other user's values find nothing (instead of their rows).
            theirs = page(http, "/api/log/self", headers, model_name=f"{other.username}-model")
            assert theirs["total"] == 0
            assert page(http, "/api/log/self", headers, request_id=f"{other.username}-0")["total"] == 0


def test_self_stat_never_counts_another_users_rows(client: TestClient, world: World) -> None:
    for account in world.accounts:
        other = world.other(account)
        consume = world.own(account, lambda r: r["type"] == 2)
        quota = sum(r["quota"] for r in consume)
        recent = [r for r in consume if r["created_at"] >= world.now - 60]
        assert recent  # the test needs rows in the rpm window
        expected = {
            "quota": quota,
            "rpm": len(recent),
            "tpm": sum(r["prompt_tokens"] + r["completion_tokens"] for r in recent),
        }
        for kind, http, headers in _credentials(client, world, account):
            for params in (
                {},
                {"username": other.username},
                {"user_id": other.id},
                {"channel": 2, "user_id": other.id},
            ):
                stat = data_of(http.get("/api/log/self/stat", headers=headers, params=params))
                assert stat == expected, (account.username, kind, params)
            theirs = data_of(
                http.get("/api/log/self/stat", headers=headers, params={"model_name": f"{other.username}-model"})
            )
            assert theirs == {"quota": 0, "rpm": 0, "tpm": 0}
        # An API key on the admin stat route gets its own stat, never the platform's.
        via_key = data_of(
            client.get("/api/log/stat", headers=account.key_headers("k1"), params={"username": other.username})
        )
        assert via_key == expected


def test_self_search_never_returns_another_users_rows(client: TestClient, world: World) -> None:
    for account in world.accounts:
        other = world.other(account)
        for kind, http, headers in _credentials(client, world, account):
            for keyword in ("common", "words entry", f"{other.username}only", "2", "5", other.username):
                rows = data_of(http.get("/api/log/self/search", headers=headers, params={"keyword": keyword}))
                _check_rows(rows, account, (account.username, kind, keyword))
            common = data_of(http.get("/api/log/self/search", headers=headers, params={"keyword": "common"}))
            assert rids(common) == rids(world.own(account))
            assert (
                data_of(http.get("/api/log/self/search", headers=headers, params={"keyword": f"{other.username}only"}))
                == []
            )


def test_token_logs_never_show_another_users_rows(client: TestClient, world: World) -> None:
    for account in world.accounts:
        other = world.other(account)
        for name in ("k1", "k2"):
            key_id, secret = account.keys[name]
            expected = rids(world.own(account, lambda r, key_id=key_id: r["token_id"] == key_id))
            assert expected
            # The other user has rows claiming this key's id: they must not appear.
            assert any(r["token_id"] == key_id and r["user_id"] == other.id for r in world.records)
            for headers, params in (
                ({"Authorization": f"Bearer {secret}"}, {}),
                ({}, {"key": secret}),
                ({"Authorization": f"Bearer {secret}"}, {"username": other.username, "user_id": other.id}),
            ):
                rows = data_of(client.get("/api/log/token", headers=headers, params=params))
                _check_rows(rows, account, (account.username, name))
                assert rids(rows) == expected
            paged, total = all_offset_pages(client, "/api/log/token", {"Authorization": f"Bearer {secret}"}, 2)
            _check_rows(paged, account, (account.username, name, "paged"))
            assert rids(paged) == expected
            assert total == len(expected)


def _own_buckets(world: World, account: Account) -> dict[tuple[str, int], tuple[int, int, int]]:
    sums: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in world.own(account, lambda r: r["type"] == 2):
        bucket = sums[(r["model_name"], r["created_at"] - r["created_at"] % HOUR)]
        bucket[0] += 1
        bucket[1] += r["quota"]
        bucket[2] += r["prompt_tokens"] + r["completion_tokens"]
    return {key: (c, q, t) for key, (c, q, t) in sums.items()}


def test_self_data_never_shows_another_users_buckets(client: TestClient, world: World) -> None:
    for account in world.accounts:
        other = world.other(account)
        for kind, http, headers in _credentials(client, world, account):
            for params in ({}, {"username": other.username}, {"start_timestamp": world.now - 2 * 86_400}):
                rows = data_of(http.get("/api/data/self", headers=headers, params=params))
                got = {
                    (row["model_name"], row["created_at"]): (row["count"], row["quota"], row["token_used"])
                    for row in rows
                }
                assert got == _own_buckets(world, account), (account.username, kind, params)
                assert all(row.get("user_id", account.id) == account.id for row in rows)
                assert all(row["model_name"] != f"{other.username}-model" for row in rows)


@pytest.fixture
def token_scope_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_key_log_scope": "token"}), db)) as scoped:
        yield scoped


def test_token_scope_restricts_a_key_to_its_own_rows(token_scope_client: TestClient, world: World) -> None:
    http = token_scope_client
    for account in world.accounts:
        for name in ("k1", "k2"):
            key_id = account.keys[name][0]
            headers = account.key_headers(name)
            mine = world.own(account, lambda r, key_id=key_id: r["token_id"] == key_id)
            rows, total = all_offset_pages(http, "/api/log/self", headers, 3)
            assert rids(rows) == rids(mine)
            assert total == len(mine) < len(world.own(account))
            assert [row["id"] for row in rows] == list(range(1, total + 1))
            cursor_rows, _ = all_cursor_pages(http, "/api/log/self", headers, 2)
            assert cursor_rows == rows
            stat = data_of(http.get("/api/log/self/stat", headers=headers))
            assert stat["quota"] == sum(r["quota"] for r in mine if r["type"] == 2)
            assert data_of(http.get("/api/log/stat", headers=headers)) == stat
            found = data_of(http.get("/api/log/self/search", headers=headers, params={"keyword": "common"}))
            assert rids(found) == rids(mine)
        # The owner's own credentials are not restricted by the key scope.
        everything = page(http, "/api/log/self", account.headers, page_size=100)
        assert rids(everything["items"]) == rids(world.own(account))


def test_account_scope_shows_a_key_all_of_its_owners_rows(client: TestClient, world: World) -> None:
    for account in world.accounts:
        for name in ("k1", "k2"):
            headers = account.key_headers(name)
            rows, total = all_offset_pages(client, "/api/log/self", headers, 5)
            assert rids(rows) == rids(world.own(account))
            assert total == len(world.own(account))
            stat = data_of(client.get("/api/log/self/stat", headers=headers))
            assert stat["quota"] == sum(r["quota"] for r in world.own(account) if r["type"] == 2)
            found = data_of(client.get("/api/log/self/search", headers=headers, params={"keyword": "common"}))
            assert rids(found) == rids(world.own(account))
