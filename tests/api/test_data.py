"""GET /api/data/ (admin) and /api/data/self: hourly usage buckets of consume rows."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import T0, Ingest, data_of, failure
from tests.factories import Account, make_key, record
from tokenledger.store.database import Database

DATA = "/api/data/"
SELF_DATA = "/api/data/self"
HOUR = 3600
DAY = 86_400
H0 = T0 - T0 % HOUR
BASE_KEYS = {"model_name", "created_at", "count", "quota", "token_used"}

Buckets = dict[tuple[str, int], tuple[int, int, int]]


def _dataset(alice: Account, bob: Account) -> list[dict[str, Any]]:
    """Consume rows over three hours (including both edges of each hour), plus rows of other types."""
    offsets = [0, 1, 1799, 3599, HOUR, HOUR + 5, 2 * HOUR - 1, 2 * HOUR + 100, 2 * HOUR + 3599]
    rows = []
    for i, offset in enumerate(offsets * 2):
        rows.append(
            record(
                alice if i % 3 else bob,
                created_at=H0 + offset,
                model_name="gpt-4o" if i % 2 else "claude-3",
                quota=100 + i,
                prompt_tokens=10 * i,
                completion_tokens=i + 1,
            )
        )
    for log_type in (1, 3, 5, 6):
        rows.append(record(alice, created_at=H0 + 10, type=log_type, quota=999_999, prompt_tokens=999))
    return rows


def _expected(records: list[dict[str, Any]], user_id: int | None = None, start: int = 0, end: int = 0) -> Buckets:
    sums: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        hour = r["created_at"] - r["created_at"] % HOUR
        if r["type"] != 2 or (user_id is not None and r["user_id"] != user_id):
            continue
        if (start and hour < start) or (end and hour > end):
            continue
        bucket = sums[(r["model_name"], hour)]
        bucket[0] += 1
        bucket[1] += r["quota"]
        bucket[2] += r["prompt_tokens"] + r["completion_tokens"]
    return {key: (c, q, t) for key, (c, q, t) in sums.items()}


def _seconds(value: int) -> int:
    return value // 1000 if value >= 10**11 else value


def _buckets(rows: list[dict[str, Any]]) -> Buckets:
    result: Buckets = {}
    for row in rows:
        key = (row["model_name"], row["created_at"])
        assert key not in result, f"bucket {key} appears twice"
        assert row["created_at"] % HOUR == 0
        result[key] = (row["count"], row["quota"], row["token_used"])
    return result


def test_admin_buckets_sum_consume_rows_over_users(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _dataset(alice, bob)
    ingest(records)
    rows = data_of(client.get(DATA, headers=root.headers))
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == BASE_KEYS  # summed over users: no user fields
    expected = _expected(records)
    assert _buckets(rows) == expected
    assert len(expected) == 6  # 2 models x 3 hours
    # Another batch into the same hours adds up.
    more = [record(bob, created_at=H0 + 30, model_name="claude-3", quota=5, prompt_tokens=1, completion_tokens=2)]
    ingest(more)
    assert _buckets(data_of(client.get(DATA, headers=root.headers))) == _expected(records + more)


def test_admin_buckets_of_one_user_carry_user_fields(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _dataset(alice, bob)
    ingest(records)
    for account in (alice, bob):
        rows = data_of(client.get(DATA, headers=root.headers, params={"username": account.username}))
        for row in rows:
            assert set(row) == BASE_KEYS | {"user_id", "username"}
            assert (row["user_id"], row["username"]) == (account.id, account.username)
        assert _buckets(rows) == _expected(records, user_id=account.id)
    assert data_of(client.get(DATA, headers=root.headers, params={"username": "nobody"})) == []
    # An empty username means all users.
    assert _buckets(data_of(client.get(DATA, headers=root.headers, params={"username": ""}))) == _expected(records)


def test_window_applies_to_the_bucket_hour_start_inclusively(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _dataset(alice, bob)
    ingest(records)
    windows = [
        (H0 + HOUR, 0),
        (H0 + HOUR + 1, 0),  # the second hour's bucket starts before this: excluded
        (0, H0 + HOUR),  # end on an hour start includes that bucket
        (0, H0 + HOUR - 1),
        (H0, H0),
        (H0 + 1, H0 + HOUR - 1),  # no hour start inside: nothing, though rows were created in it
        (H0 + 1, H0 + 2 * HOUR - 1),
        ((H0 + HOUR) * 1000, (H0 + 2 * HOUR) * 1000 + 999),  # milliseconds
    ]
    for start, end in windows:
        params = {key: value for key, value in (("start_timestamp", start), ("end_timestamp", end)) if value}
        rows = data_of(client.get(DATA, headers=root.headers, params=params))
        expected = _expected(records, start=_seconds(start), end=_seconds(end))
        assert _buckets(rows) == expected, (start, end)
    inside_first_hour = {"start_timestamp": H0 + 1, "end_timestamp": H0 + HOUR - 1}
    assert data_of(client.get(DATA, headers=root.headers, params=inside_first_hour)) == []
    assert _buckets(data_of(client.get(DATA, headers=root.headers, params={"start_timestamp": H0 + 1}))) == {
        key: value for key, value in _expected(records).items() if key[1] > H0
    }
    assert "start_timestamp" in failure(client.get(DATA, headers=root.headers, params={"start_timestamp": "x"}))
    message = failure(client.get(DATA, headers=root.headers, params={"start_timestamp": H0 + 5, "end_timestamp": H0}))
    assert "start_timestamp" in message


def test_self_buckets_are_only_the_callers(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    records = _dataset(alice, bob)
    ingest(records)
    window = {"start_timestamp": H0, "end_timestamp": H0 + 10 * DAY}
    for account in (alice, bob):
        rows = data_of(client.get(SELF_DATA, headers=account.headers, params=window))
        assert _buckets(rows) == _expected(records, user_id=account.id)
        assert all(row.get("user_id", account.id) == account.id for row in rows)
    via_key = data_of(client.get(SELF_DATA, headers=alice.key_headers(), params=window | {"username": "bob"}))
    assert _buckets(via_key) == _expected(records, user_id=alice.id)
    narrow = {"start_timestamp": H0 + HOUR, "end_timestamp": H0 + HOUR}
    rows = data_of(client.get(SELF_DATA, headers=alice.headers, params=narrow))
    assert _buckets(rows) == _expected(records, user_id=alice.id, start=H0 + HOUR, end=H0 + HOUR)


def test_self_refuses_spans_over_30_days(client: TestClient, alice: Account, ingest: Ingest) -> None:
    now = int(time.time())
    recent = record(alice, created_at=now - 2 * HOUR, quota=7, prompt_tokens=1, completion_tokens=1)
    ancient = record(alice, created_at=T0, quota=11)
    ingest([recent, ancient])
    for params in (
        {"start_timestamp": H0, "end_timestamp": H0 + 31 * DAY},
        {"start_timestamp": H0, "end_timestamp": H0 + 30 * DAY + 1},
        {"start_timestamp": now - 40 * DAY},  # end defaults to now
        {"start_timestamp": (now - 31 * DAY) * 1000, "end_timestamp": now * 1000},
    ):
        message = failure(client.get(SELF_DATA, headers=alice.headers, params=params))
        assert "30 days" in message, params
    exact = data_of(
        client.get(SELF_DATA, headers=alice.headers, params={"start_timestamp": H0, "end_timestamp": H0 + 30 * DAY})
    )
    assert _buckets(exact) == _expected([ancient], user_id=alice.id)
    # Without a window: the last 30 days.
    assert _buckets(data_of(client.get(SELF_DATA, headers=alice.headers))) == _expected([recent], user_id=alice.id)


def test_data_routes_check_the_caller(client: TestClient, alice: Account) -> None:
    assert "insufficient privileges" in failure(client.get(DATA, headers=alice.headers), 403)
    failure(client.get(DATA), 401)
    failure(client.get(SELF_DATA), 401)
