"""GET /api/log/token: the calling API key's own logs, as New API serves them to key holders."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import (
    T0,
    Ingest,
    all_cursor_pages,
    assert_user_view,
    data_of,
    failure,
    newest_first,
    page,
    rids,
)
from tests.factories import Account, make_key, record
from tokenledger.store.database import Database

TOKEN = "/api/log/token"


def _key_rows(db: Database, alice: Account, bob: Account) -> list[dict[str, Any]]:
    """alice has keys k1 and k2; rows of each, rows of hers without a key, and bob's rows that claim k1's id."""
    make_key(db, alice, "k1")
    make_key(db, alice, "k2")
    k1, k2 = alice.keys["k1"][0], alice.keys["k2"][0]
    rows = [record(alice, created_at=T0 + i, token_id=k1, token_name="k1", request_id=f"k1-{i}") for i in range(7)]
    rows += [record(alice, created_at=T0 + i, token_id=k2, token_name="k2", request_id=f"k2-{i}") for i in range(3)]
    rows += [record(alice, created_at=T0 + 20 + i, token_id=0, request_id=f"nokey-{i}") for i in range(2)]
    rows += [record(bob, created_at=T0 + 30 + i, token_id=k1, token_name="k1", request_id=f"bob-{i}") for i in range(2)]
    return rows


def _of(rows: list[dict[str, Any]], account: Account, key_id: int) -> list[dict[str, Any]]:
    return newest_first([r for r in rows if r["user_id"] == account.id and r["token_id"] == key_id])


def test_key_from_header_or_query_sees_only_its_own_rows(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _key_rows(db, alice, bob)
    ingest(records)
    for name in ("k1", "k2"):
        key_id, secret = alice.keys[name]
        expected = rids(_of(records, alice, key_id))
        from_header = client.get(TOKEN, headers={"Authorization": f"Bearer {secret}"})
        from_query = client.get(TOKEN, params={"key": secret})
        for response in (from_header, from_query):
            rows = data_of(response)
            assert isinstance(rows, list)  # no paging parameters: a bare array
            assert rids(rows) == expected, name
            assert {row["token_id"] for row in rows} == {key_id}
            assert {row["username"] for row in rows} == {"alice"}
            assert_user_view(rows)
            assert response.headers["access-control-allow-origin"] == "*"


def test_without_paging_parameters_the_newest_1000_rows(
    client: TestClient, db: Database, alice: Account, ingest: Ingest
) -> None:
    make_key(db, alice, "k")
    key_id = alice.keys["k"][0]
    records = [record(alice, created_at=T0 + i // 3, token_id=key_id, request_id=f"n{i}") for i in range(1004)]
    records.append(record(alice, created_at=T0 + 5000, token_id=0, request_id="other-key"))
    ingest(records)
    rows = data_of(client.get(TOKEN, headers=alice.key_headers("k")))
    assert len(rows) == 1000
    assert rids(rows) == rids(_of(records, alice, key_id)[:1000])
    assert [row["id"] for row in rows] == list(range(1, 1001))


def test_paging_parameters_give_a_page_object(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _key_rows(db, alice, bob)
    ingest(records)
    key_id = alice.keys["k1"][0]
    mine = _of(records, alice, key_id)
    headers = alice.key_headers("k1")
    second = page(client, TOKEN, headers, p=2, page_size=3)
    assert second["total"] == len(mine)
    assert second["page"] == 2
    assert second["page_size"] == 3
    assert rids(second["items"]) == rids(mine[3:6])
    assert [row["id"] for row in second["items"]] == [4, 5, 6]
    assert_user_view(second["items"], first_position=4)
    only_size = page(client, TOKEN, headers, page_size=2)
    assert rids(only_size["items"]) == rids(mine[:2])
    only_p = page(client, TOKEN, headers, p=1)
    assert only_p["page_size"] == 10
    assert rids(only_p["items"]) == rids(mine)
    assert rids(page(client, TOKEN, headers, ps=4)["items"]) == rids(mine[:4])
    window = page(client, TOKEN, headers, start_timestamp=T0 + 2, end_timestamp=(T0 + 4) * 1000)
    assert rids(window["items"]) == rids([r for r in mine if T0 + 2 <= r["created_at"] <= T0 + 4])
    assert window["total"] == 3
    assert rids(page(client, TOKEN, headers, end_timestamp=T0 + 1)["items"]) == ["k1-1", "k1-0"]
    cursor_rows, payloads = all_cursor_pages(client, TOKEN, headers, 3)
    assert rids(cursor_rows) == rids(mine)
    assert [row["id"] for row in cursor_rows] == list(range(1, len(mine) + 1))
    assert payloads[-1]["next_cursor"] is None
    # ?key= with paging parameters works the same way.
    via_query = page(client, TOKEN, None, key=alice.keys["k1"][1], p=2, page_size=3)
    assert via_query["items"] == second["items"]


def test_cors_is_open(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    response = client.get(TOKEN, headers=alice.key_headers())
    assert data_of(response) == []
    assert response.headers["access-control-allow-origin"] == "*"
    paged = client.get(TOKEN, headers=alice.key_headers(), params={"p": 1})
    assert data_of(paged)["items"] == []
    assert paged.headers["access-control-allow-origin"] == "*"
    # The preflight carries no credential, and must be answered all the same.
    preflight = client.options(TOKEN, headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    # Only this route is open: routes that accept a session cookie are not readable cross-origin.
    assert "access-control-allow-origin" not in client.get("/api/log/self", headers=alice.key_headers()).headers


def test_failures_are_cors_open_too(client: TestClient, db: Database, alice: Account) -> None:
    """A browser client must be able to read why it was refused, so failures carry the header as well."""
    make_key(db, alice)
    for response in (
        client.get(TOKEN),
        client.get(TOKEN, params={"key": "sk-not-a-real-key"}),
        client.get(TOKEN, headers=alice.headers),
    ):
        failure(response, 401)
        assert response.headers.get("access-control-allow-origin") == "*"
    invalid = client.get(TOKEN, headers=alice.key_headers(), params={"start_timestamp": "yesterday"})
    assert "start_timestamp" in failure(invalid)
    assert invalid.headers.get("access-control-allow-origin") == "*"


def test_key_without_its_sk_prefix_is_accepted(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _key_rows(db, alice, bob)
    ingest(records)
    key_id, secret = alice.keys["k1"]
    bare = secret.removeprefix("sk-")
    expected = rids(_of(records, alice, key_id))
    assert rids(data_of(client.get(TOKEN, params={"key": bare}))) == expected
    assert rids(data_of(client.get(TOKEN, headers={"Authorization": f"Bearer {bare}"}))) == expected


def test_access_tokens_and_missing_keys_are_refused(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    ingest([record(alice, created_at=T0)])
    failure(client.get(TOKEN), 401)
    failure(client.get(TOKEN, headers=alice.headers), 401)
    failure(client.get(TOKEN, headers=root.headers), 401)
    failure(client.get(TOKEN, params={"key": alice.token}), 401)
    failure(client.get(TOKEN, params={"key": "sk-not-a-real-key"}), 401)
    failure(client.get(TOKEN, headers={"Authorization": "Bearer sk-not-a-real-key"}), 401)
    failure(client.get(TOKEN, params={"key": ""}), 401)


def test_disabled_and_deleted_keys_are_refused(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _key_rows(db, alice, bob)
    ingest(records)
    k1_id, k1 = alice.keys["k1"]
    k2_id, k2 = alice.keys["k2"]
    assert rids(data_of(client.get(TOKEN, params={"key": k1}))) == rids(_of(records, alice, k1_id))

    disabled = data_of(
        client.put(
            "/api/token/", params={"status_only": "true"}, json={"id": k1_id, "status": 2}, headers=alice.headers
        )
    )
    assert disabled["status"] == 2
    failure(client.get(TOKEN, params={"key": k1}), 401)
    failure(client.get(TOKEN, headers={"Authorization": f"Bearer {k1}"}), 401)
    failure(client.get(TOKEN, params={"key": k1, "p": 1}), 401)
    failure(client.get("/api/log/self", headers={"Authorization": f"Bearer {k1}"}), 401)
    failure(client.get("/api/log/self/stat", headers={"Authorization": f"Bearer {k1}"}), 401)
    # The other key is unaffected.
    assert rids(data_of(client.get(TOKEN, params={"key": k2}))) == rids(_of(records, alice, k2_id))

    data_of(
        client.put(
            "/api/token/", params={"status_only": "true"}, json={"id": k1_id, "status": 1}, headers=alice.headers
        )
    )
    assert rids(data_of(client.get(TOKEN, params={"key": k1}))) == rids(_of(records, alice, k1_id))

    data_of(client.delete(f"/api/token/{k2_id}", headers=alice.headers))
    failure(client.get(TOKEN, params={"key": k2}), 401)
    failure(client.get(TOKEN, headers={"Authorization": f"Bearer {k2}"}), 401)
    failure(client.get("/api/log/self", headers={"Authorization": f"Bearer {k2}"}), 401)
    failure(client.get("/api/data/self", headers={"Authorization": f"Bearer {k2}"}), 401)
