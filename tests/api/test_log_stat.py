"""GET /api/log/stat (admin; an API key gets its own) and /api/log/self/stat: quota, rpm, tpm."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import T0, Ingest, all_offset_pages, data_of, failure
from tests.factories import Account, make_key, record
from tokenledger.store.database import Database

STAT = "/api/log/stat"
SELF_STAT = "/api/log/self/stat"

Predicate = Callable[[dict[str, Any]], bool]


def _dataset(alice: Account, bob: Account) -> list[dict[str, Any]]:
    """Mixed users, types, models, keys, channels and groups over T0..T0+11, every quota distinct."""
    types = [2, 2, 1, 2, 5, 2, 3, 2, 2, 6, 2, 2]
    models = ["gpt-4o", "gpt-4o-mini", "gpt-4o", "claude-3", "gpt-4o", "gpt-4o", "x", "claude-3", "gpt-4o-mini"]
    rows = []
    for i in range(24):
        owner = alice if i % 3 else bob
        rows.append(
            record(
                owner,
                created_at=T0 + i % 12,
                type=types[i % 12],
                model_name=models[i % 9],
                token_name="k1" if i % 4 else "k2",
                channel=1 + i % 3,
                group="vip" if i % 5 == 0 else "default",
                quota=1000 + 7 * i,
                prompt_tokens=i,
                completion_tokens=2 * i,
                request_id=f"q{i}",
            )
        )
    return rows


def _cases(alice: Account, bob: Account) -> list[tuple[dict[str, Any], Predicate, Predicate]]:
    """(filters, which rows match on the admin route, which own rows match on the self route: there
    `username` and `channel` are ignored)."""
    names = {alice.id: alice.username, bob.id: bob.username}

    def every(r: dict[str, Any]) -> bool:
        return True

    def model(name: str) -> Predicate:
        return lambda r: r["model_name"] == name

    def window(start: int, end: int) -> Predicate:
        return lambda r: start <= r["created_at"] <= end

    return [
        ({}, every, every),
        ({"type": 1}, every, every),  # type is ignored: always consume rows
        ({"type": 5, "model_name": "gpt-4o"}, model("gpt-4o"), model("gpt-4o")),
        ({"model_name": "gpt-4o"}, model("gpt-4o"), model("gpt-4o")),
        ({"model_name": "gpt%"}, lambda r: r["model_name"].startswith("gpt"), lambda r: r["model_name"][:3] == "gpt"),
        ({"start_timestamp": T0 + 3, "end_timestamp": T0 + 8}, window(T0 + 3, T0 + 8), window(T0 + 3, T0 + 8)),
        (
            {"start_timestamp": (T0 + 3) * 1000 + 999, "end_timestamp": (T0 + 8) * 1000},
            window(T0 + 3, T0 + 8),
            window(T0 + 3, T0 + 8),
        ),
        ({"end_timestamp": T0 + 4}, window(0, T0 + 4), window(0, T0 + 4)),
        (
            {"token_name": "k1", "group": "default"},
            lambda r: r["token_name"] == "k1" and r["group"] == "default",
            lambda r: r["token_name"] == "k1" and r["group"] == "default",
        ),
        ({"group": "vip"}, lambda r: r["group"] == "vip", lambda r: r["group"] == "vip"),
        ({"request_id": "q7"}, lambda r: r["request_id"] == "q7", lambda r: r["request_id"] == "q7"),
        ({"username": "alice"}, lambda r: names[r["user_id"]] == "alice", every),
        ({"username": "%li%"}, lambda r: "li" in names[r["user_id"]], every),
        ({"channel": 2}, lambda r: r["channel"] == 2, every),
        ({"channel": 2, "model_name": "claude-3", "username": "bob"}, lambda r: False, model("claude-3")),
        (
            {"channel": 3, "start_timestamp": T0 + 2, "username": "bob"},
            lambda r: r["channel"] == 3 and r["created_at"] >= T0 + 2 and r["user_id"] == bob.id,
            window(T0 + 2, T0 + 100),
        ),
    ]


def _list_quota(client: TestClient, path: str, headers: dict[str, str], params: dict[str, Any]) -> int:
    rows, total = all_offset_pages(client, path, headers, 100, **(params | {"type": 2}))
    assert len(rows) == total
    assert all(row["type"] == 2 for row in rows)
    return sum(int(row["quota"]) for row in rows)


def test_admin_stat_quota_is_the_sum_of_matching_consume_rows(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _dataset(alice, bob)
    ingest(records)
    for params, predicate, _ in _cases(alice, bob):
        stat = data_of(client.get(STAT, headers=root.headers, params=params))
        assert set(stat) == {"quota", "rpm", "tpm"}
        expected = sum(r["quota"] for r in records if r["type"] == 2 and predicate(r))
        assert stat["quota"] == expected, params
        # INVARIANT: the stat equals the sum over the list endpoint's consume rows for the same filters.
        assert stat["quota"] == _list_quota(client, "/api/log/", root.headers, params), params
        assert stat["rpm"] == 0  # every row is years old
        assert stat["tpm"] == 0
    assert data_of(client.get(STAT, headers=root.headers))["quota"] > 0


def test_self_stat_quota_is_the_sum_of_own_matching_consume_rows(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    records = _dataset(alice, bob)
    ingest(records)
    for params, _, own_predicate in _cases(alice, bob):
        expected = sum(r["quota"] for r in records if r["type"] == 2 and r["user_id"] == alice.id and own_predicate(r))
        for headers in (alice.headers, alice.key_headers()):
            stat = data_of(client.get(SELF_STAT, headers=headers, params=params))
            assert stat["quota"] == expected, params
            assert stat["quota"] == _list_quota(client, "/api/log/self", headers, params), params
            assert stat["rpm"] == 0


def test_rpm_and_tpm_count_only_consume_rows_of_the_last_minute(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    now = int(time.time())
    records = [
        record(alice, created_at=now - 5, prompt_tokens=100, completion_tokens=50, quota=11),
        record(alice, created_at=now - 5, model_name="claude-3", prompt_tokens=7, completion_tokens=3, quota=13),
        record(alice, created_at=now - 5, type=5, prompt_tokens=1000, completion_tokens=1000, quota=17),
        record(alice, created_at=now - 120, prompt_tokens=500, completion_tokens=500, quota=19),
        record(bob, created_at=now - 2, prompt_tokens=20, completion_tokens=30, quota=23),
        record(bob, created_at=T0, prompt_tokens=40, completion_tokens=40, quota=29),
    ]
    ingest(records)

    def recent(r: dict[str, Any]) -> bool:
        return r["type"] == 2 and r["created_at"] >= now - 60

    def expect(predicate: Predicate) -> tuple[int, int]:
        rows = [r for r in records if recent(r) and predicate(r)]
        return len(rows), sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows)

    stat = data_of(client.get(STAT, headers=root.headers))
    assert (stat["rpm"], stat["tpm"]) == expect(lambda r: True) == (3, 210)
    assert stat["quota"] == 11 + 13 + 19 + 23 + 29
    # The time window does not apply to rpm/tpm, only to quota.
    old = data_of(client.get(STAT, headers=root.headers, params={"start_timestamp": T0, "end_timestamp": T0 + 1}))
    assert (old["rpm"], old["tpm"]) == expect(lambda r: True)
    assert old["quota"] == 29
    window = {"start_timestamp": (now - 200) * 1000, "end_timestamp": now - 100}
    windowed = data_of(client.get(STAT, headers=root.headers, params=window))
    assert windowed["quota"] == 19
    assert (windowed["rpm"], windowed["tpm"]) == expect(lambda r: True)
    # Other filters do apply to them.
    claude = data_of(client.get(STAT, headers=root.headers, params={"model_name": "claude-3"}))
    assert (claude["rpm"], claude["tpm"]) == expect(lambda r: r["model_name"] == "claude-3") == (1, 10)
    only_bob = data_of(client.get(STAT, headers=root.headers, params={"username": "bob"}))
    assert (only_bob["rpm"], only_bob["tpm"]) == expect(lambda r: r["user_id"] == bob.id) == (1, 50)
    own = data_of(client.get(SELF_STAT, headers=alice.headers, params={"username": "bob"}))
    assert (own["rpm"], own["tpm"]) == expect(lambda r: r["user_id"] == alice.id) == (2, 160)
    assert own["quota"] == 11 + 13 + 19


def test_api_key_on_admin_stat_gets_exactly_its_own_self_stat(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    records = _dataset(alice, bob)
    now = int(time.time())
    records += [record(alice, created_at=now - 3, quota=5), record(bob, created_at=now - 3, quota=7)]
    ingest(records)
    for params in ({}, {"username": "bob"}, {"channel": 2}, {"model_name": "gpt%"}, {"start_timestamp": T0 + 6}):
        via_admin_route = data_of(client.get(STAT, headers=alice.key_headers(), params=params))
        via_self_route = data_of(client.get(SELF_STAT, headers=alice.key_headers(), params=params))
        assert via_admin_route == via_self_route, params
    mine = sum(r["quota"] for r in records if r["type"] == 2 and r["user_id"] == alice.id)
    stat = data_of(client.get(STAT, headers=alice.key_headers(), params={"username": "bob"}))
    assert stat["quota"] == mine
    assert stat["rpm"] == 1
    assert stat["tpm"] == 150


def test_admin_stat_refuses_common_users_and_strangers(client: TestClient, alice: Account) -> None:
    assert "insufficient privileges" in failure(client.get(STAT, headers=alice.headers), 403)
    failure(client.get(STAT), 401)
    failure(client.get(SELF_STAT), 401)
    failure(client.get(STAT, headers={"Authorization": "Bearer sk-unknown"}), 401)


def test_stat_filters_are_validated(client: TestClient, root: Account, alice: Account) -> None:
    assert "model_name" in failure(client.get(STAT, headers=root.headers, params={"model_name": "%a%"}))
    assert "start_timestamp" in failure(client.get(STAT, headers=root.headers, params={"start_timestamp": "x"}))
    assert "channel" in failure(client.get(STAT, headers=root.headers, params={"channel": "x"}))
    assert "end_timestamp" in failure(client.get(SELF_STAT, headers=alice.headers, params={"end_timestamp": "x"}))


def test_stat_ignores_type_even_when_malformed(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    ingest([record(alice, created_at=T0, quota=70), record(alice, created_at=T0, type=5, quota=0)])
    for value in ("1", "9", "abc"):
        assert data_of(client.get(STAT, headers=root.headers, params={"type": value}))["quota"] == 70
        assert data_of(client.get(SELF_STAT, headers=alice.headers, params={"type": value}))["quota"] == 70
