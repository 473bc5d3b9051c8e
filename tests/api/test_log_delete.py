"""DELETE /api/log/?target_timestamp= (admin): deletes rows created strictly before the target."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import T0, Ingest, all_offset_pages, data_of, failure, newest_first, rids
from tests.factories import Account, make_key, record
from tokenledger.store.database import Database

DELETE = "/api/log/"


def _remaining(client: TestClient, root: Account) -> list[str]:
    rows, total = all_offset_pages(client, "/api/log/", root.headers, 100)
    assert len(rows) == total
    return rids(rows)


def test_delete_removes_exactly_the_rows_before_the_target(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = [record(alice if i % 2 else bob, created_at=T0 + i // 2, request_id=f"d{i}") for i in range(20)]
    ingest(records)
    target = T0 + 4
    deleted = data_of(client.delete(DELETE, headers=root.headers, params={"target_timestamp": target}))
    expected_gone = [r for r in records if r["created_at"] < target]
    assert deleted == len(expected_gone) == 8
    assert _remaining(client, root) == rids(newest_first([r for r in records if r["created_at"] >= target]))
    # Nothing is left before the target: deleting again removes nothing.
    assert data_of(client.delete(DELETE, headers=root.headers, params={"target_timestamp": target})) == 0
    # The row at the target itself is kept (strictly before), and goes with the next second.
    assert data_of(client.delete(DELETE, headers=root.headers, params={"target_timestamp": target + 1})) == 2


def test_delete_accepts_milliseconds(client: TestClient, root: Account, alice: Account, ingest: Ingest) -> None:
    records = [record(alice, created_at=T0 + i, request_id=f"m{i}") for i in range(6)]
    ingest(records)
    target_ms = (T0 + 3) * 1000 + 999  # → T0 + 3 (rounded down)
    assert data_of(client.delete(DELETE, headers=root.headers, params={"target_timestamp": target_ms})) == 3
    assert _remaining(client, root) == ["m5", "m4", "m3"]


def test_delete_requires_a_target(client: TestClient, root: Account, alice: Account, ingest: Ingest) -> None:
    ingest([record(alice, created_at=T0 + i) for i in range(3)])
    for params in ({}, {"target_timestamp": ""}, {"target_timestamp": "0"}):
        message = failure(client.delete(DELETE, headers=root.headers, params=params))
        assert "target timestamp is required" in message, params
    for value in ("abc", "1.5", "-10"):
        assert "target_timestamp" in failure(
            client.delete(DELETE, headers=root.headers, params={"target_timestamp": value})
        )
    assert len(_remaining(client, root)) == 3


def test_delete_is_admin_only(client: TestClient, db: Database, root: Account, alice: Account, ingest: Ingest) -> None:
    make_key(db, alice)
    ingest([record(alice, created_at=T0)])
    target = {"target_timestamp": T0 + 10}
    assert "insufficient privileges" in failure(client.delete(DELETE, headers=alice.headers, params=target), 403)
    failure(client.delete(DELETE, headers=alice.key_headers(), params=target), 401)
    failure(client.delete(DELETE, params=target), 401)
    assert len(_remaining(client, root)) == 1


def test_deleted_rows_vanish_from_search_and_stat(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    old = [
        record(alice, created_at=T0 + i, content=f"purgeable entry {i}", request_id=f"old{i}", quota=5)
        for i in range(4)
    ]
    new = [
        record(alice, created_at=T0 + 100 + i, content=f"purgeable keeper {i}", request_id=f"new{i}", quota=7)
        for i in range(3)
    ]
    ingest(old + new)

    callers = (("/api/log/search", root.headers), ("/api/log/self/search", alice.headers))

    def search(path: str, headers: dict[str, str], keyword: str) -> list[str]:
        return rids(data_of(client.get(path, headers=headers, params={"keyword": keyword})))

    for path, headers in callers:
        assert len(search(path, headers, "purgeable")) == 7
    assert data_of(client.delete(DELETE, headers=root.headers, params={"target_timestamp": T0 + 100})) == 4
    for path, headers in callers:
        assert search(path, headers, "purgeable") == ["new2", "new1", "new0"]
        assert search(path, headers, "entry") == []
    assert data_of(client.get("/api/log/stat", headers=root.headers))["quota"] == 3 * 7
    assert data_of(client.get("/api/log/self/stat", headers=alice.headers))["quota"] == 3 * 7
