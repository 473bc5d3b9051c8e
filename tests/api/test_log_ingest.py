"""POST /api/log/ingest: JSON array or NDJSON, validated whole, written atomically."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import (
    T0,
    create_key_via_api,
    data_of,
    failure,
    newest_first,
    page,
    rids,
    total_logs,
)
from tests.factories import Account, make_key, make_user, record, root_account
from tokenledger.app import create_app
from tokenledger.domain.filters import LogFilters
from tokenledger.settings import Settings
from tokenledger.store import logs
from tokenledger.store.database import Database

INGEST = "/api/log/ingest"


def _post(client: TestClient, headers: dict[str, str], records: Any) -> Any:
    return client.post(INGEST, json=records, headers=headers)


def _all_rows(client: TestClient, root: Account) -> list[dict[str, Any]]:
    payload = page(client, "/api/log/", root.headers, page_size=100)
    assert payload["total"] == len(payload["items"])
    return list(payload["items"])


def test_json_array_is_ingested(client: TestClient, root: Account, alice: Account, bob: Account) -> None:
    records = [record(alice if i % 2 else bob, created_at=T0 + i, request_id=f"j{i}", quota=i) for i in range(5)]
    assert data_of(_post(client, root.headers, records)) == {"inserted": 5}
    rows = _all_rows(client, root)
    assert rids(rows) == rids(newest_first(records))
    for row, sent in zip(rows, newest_first(records), strict=True):
        assert row["user_id"] == sent["user_id"]
        assert row["quota"] == sent["quota"]
        assert row["created_at"] == sent["created_at"]
        assert row["other"] == sent["other"]


def test_ndjson_is_ingested(client: TestClient, root: Account, alice: Account) -> None:
    records = [record(alice, created_at=T0 + i, request_id=f"n{i}") for i in range(4)]
    body = "\n".join(json.dumps(r) for r in records[:2]) + "\n\n" + "\n".join(json.dumps(r) for r in records[2:]) + "\n"
    response = client.post(
        INGEST, content=body.encode(), headers=root.headers | {"Content-Type": "application/x-ndjson"}
    )
    assert data_of(response) == {"inserted": 4}
    assert rids(_all_rows(client, root)) == rids(newest_first(records))
    # A bad line fails the whole body, naming the line.
    bad = json.dumps(record(alice, request_id="x")) + "\n{oops\n"
    message = failure(client.post(INGEST, content=bad.encode(), headers=root.headers))
    assert "line 2" in message
    assert total_logs(client, root) == 4


def test_created_at_is_optional_and_accepts_milliseconds(client: TestClient, root: Account, alice: Account) -> None:
    before = int(time.time())
    records = [
        {"user_id": alice.id, "request_id": "no-time"},
        record(alice, created_at=1_700_000_123_456, request_id="ms"),  # ms → seconds, rounded down
        record(alice, created_at=1_700_000_123, request_id="s"),
    ]
    assert data_of(_post(client, root.headers, records)) == {"inserted": 3}
    after = int(time.time())
    by_rid = {row["request_id"]: row for row in _all_rows(client, root)}
    assert before <= by_rid["no-time"]["created_at"] <= after
    assert by_rid["ms"]["created_at"] == 1_700_000_123
    assert by_rid["s"]["created_at"] == 1_700_000_123
    # Fields left out take their defaults: a consume row with zero counts.
    assert by_rid["no-time"]["type"] == 2
    assert by_rid["no-time"]["quota"] == 0
    assert by_rid["no-time"]["other"] == ""


def test_user_id_or_username_fills_the_other(client: TestClient, root: Account, alice: Account, bob: Account) -> None:
    records = [
        {"user_id": alice.id, "created_at": T0, "request_id": "by-id"},
        {"username": "bob", "created_at": T0 + 1, "request_id": "by-name"},
        {"user_id": bob.id, "username": "bob", "created_at": T0 + 2, "request_id": "both"},
    ]
    assert data_of(_post(client, root.headers, records)) == {"inserted": 3}
    by_rid = {row["request_id"]: row for row in _all_rows(client, root)}
    assert (by_rid["by-id"]["user_id"], by_rid["by-id"]["username"]) == (alice.id, "alice")
    assert (by_rid["by-name"]["user_id"], by_rid["by-name"]["username"]) == (bob.id, "bob")
    assert (by_rid["both"]["user_id"], by_rid["both"]["username"]) == (bob.id, "bob")
    # The username in the row always follows the user, whatever a gateway sent.
    own = page(client, "/api/log/self", bob.headers)
    assert own["total"] == 2


def test_unknown_user_fails_naming_the_record(client: TestClient, root: Account, alice: Account) -> None:
    _post(client, root.headers, [record(alice, created_at=T0)])
    for unknown in ({"user_id": 9999}, {"username": "ghost"}):
        batch = [record(alice, created_at=T0 + 1), {"created_at": T0 + 2, **unknown}]
        message = failure(_post(client, root.headers, batch))
        assert "record 1" in message, unknown
        assert str(next(iter(unknown.values()))) in message
    assert "record 0" in failure(_post(client, root.headers, [{"created_at": T0, "quota": 1}]))
    assert total_logs(client, root) == 1


def _bad_records(alice: Account, bob: Account) -> list[tuple[Any, str]]:
    """(a bad record, a word its message must contain)."""
    valid = record(alice, created_at=T0 + 50)
    return [
        (valid | {"quota": "10"}, "quota"),
        (valid | {"quota": 1.5}, "quota"),
        (valid | {"prompt_tokens": -1}, "prompt_tokens"),
        (valid | {"completion_tokens": -5}, "completion_tokens"),
        (valid | {"quota": -1}, "quota"),
        (valid | {"nonsense": 1}, "nonsense"),
        (valid | {"type": 0}, "type"),
        (valid | {"type": 9}, "type"),
        (valid | {"type": "2"}, "type"),
        (valid | {"other": "[1, 2]"}, "other"),
        (valid | {"other": "not json"}, "other"),
        (valid | {"other": "42"}, "other"),
        (valid | {"other": [1, 2]}, "other"),
        (valid | {"is_stream": "yes"}, "is_stream"),
        (valid | {"created_at": "now"}, "created_at"),
        (valid | {"created_at": -1}, "created_at"),
        (valid | {"user_id": alice.id, "username": "bob"}, "bob"),
        (valid | {"user_id": "2"}, "user_id"),
        ({"created_at": T0, "quota": 3}, "user"),
        (5, "record 2"),
        ([record(alice)], "record 2"),
    ]


def test_a_bad_record_fails_the_whole_batch_and_writes_nothing(
    client: TestClient, root: Account, alice: Account, bob: Account
) -> None:
    _post(client, root.headers, [record(bob, created_at=T0)])
    for bad, word in _bad_records(alice, bob):
        batch = [
            record(alice, created_at=T0 + 1),
            record(bob, created_at=T0 + 2),
            bad,
            record(alice, created_at=T0 + 3),
        ]
        message = failure(_post(client, root.headers, batch))
        assert "record 2" in message, (bad, message)
        assert word in message, (bad, message)
        ndjson = "\n".join(json.dumps(item) for item in batch)
        assert "record 2" in failure(client.post(INGEST, content=ndjson.encode(), headers=root.headers))
    assert total_logs(client, root) == 1
    # The usage buckets were not touched either.
    buckets = data_of(client.get("/api/data/", headers=root.headers))
    assert [bucket["count"] for bucket in buckets] == [1]


def test_channel_id_alias_and_export_fields_are_accepted(client: TestClient, root: Account, alice: Account) -> None:
    records = [
        record(alice, created_at=T0, channel_id=7, request_id="alias"),
        record(alice, created_at=T0 + 1, channel=8, request_id="plain"),
        # A row as the API returns it can be pushed back: id and channel_name are ignored.
        record(alice, created_at=T0 + 2, id=12345, channel_name="whatever", request_id="exported"),
        record(alice, created_at=T0 + 3, other={"model_ratio": 1.5}, request_id="dict-other"),
        record(alice, created_at=T0 + 4, request_id="", upstream_request_id=""),
    ]
    assert data_of(_post(client, root.headers, records)) == {"inserted": 5}
    rows = _all_rows(client, root)
    by_rid = {row.get("request_id", ""): row for row in rows}
    assert by_rid["alias"]["channel"] == 7
    assert by_rid["plain"]["channel"] == 8
    assert by_rid["exported"]["id"] != 12345
    assert by_rid["exported"]["channel_name"] == ""
    assert isinstance(by_rid["dict-other"]["other"], str)
    assert json.loads(by_rid["dict-other"]["other"]) == {"model_ratio": 1.5}
    assert "request_id" not in by_rid[""]  # an empty request id stays empty


def test_malformed_bodies_fail(client: TestClient, root: Account, alice: Account) -> None:
    for body in (b"", b"   \n  ", b"[]", b"hello", b"[{oops", b"{not json", b'"a string"', b"\xff\xfe"):
        failure(client.post(INGEST, content=body, headers=root.headers))
    too_many = [{"user_id": alice.id}] * 10_001
    message = failure(_post(client, root.headers, too_many))
    assert "10000" in message.replace(",", "").replace("_", "")
    assert total_logs(client, root) == 0


def test_who_may_ingest(client: TestClient, db: Database, root: Account, alice: Account) -> None:
    make_key(db, alice)
    batch = [record(alice, created_at=T0)]
    assert "insufficient privileges" in failure(_post(client, alice.headers, batch), 403)
    failure(_post(client, alice.key_headers(), batch), 401)
    failure(_post(client, {}, batch), 401)
    # A common user may not get an ingest key.
    message = failure(client.post("/api/token/", json={"name": "push", "ingest": True}, headers=alice.headers), 403)
    assert "insufficient privileges" in message
    # An ordinary key of an admin may not ingest either.
    _, plain = create_key_via_api(client, root, "plain")
    failure(_post(client, {"Authorization": f"Bearer {plain}"}, batch), 401)
    assert total_logs(client, root) == 0
    # An ingest key made by an admin may.
    _, secret = create_key_via_api(client, root, "gateway", ingest=True)
    assert data_of(_post(client, {"Authorization": f"Bearer {secret}"}, batch * 3)) == {"inserted": 3}
    assert total_logs(client, root) == 3
    assert page(client, "/api/log/self", alice.headers)["total"] == 3


def test_deeply_nested_json_is_a_validation_failure(client: TestClient, root: Account, alice: Account) -> None:
    nested_other = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
    answer = client.post("/api/log/ingest", json=[record(alice, other=nested_other)], headers=root.headers)
    assert answer.status_code == 200
    assert answer.json()["success"] is False and "record 0: other" in answer.json()["message"]
    deep_body = "[" + "[" * 100_000 + "]" * 100_000 + "]"
    answer = client.post("/api/log/ingest", content=deep_body, headers=root.headers)
    assert answer.status_code == 200
    assert "not valid JSON" in answer.json()["message"]


def test_concurrent_ingest_over_http_is_acknowledged_and_exact(settings: Settings, db: Database) -> None:
    root = root_account(db)
    make_user(db, "alice")
    records = [{"username": "alice", "model_name": "gpt-4o", "quota": n, "prompt_tokens": 3} for n in range(50)]
    answers: list[dict[str, Any]] = []
    with TestClient(create_app(settings, db)) as client:

        def push() -> None:
            for _ in range(5):
                answers.append(client.post("/api/log/ingest", json=records, headers=root.headers).json())

        threads = [threading.Thread(target=push) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stat = client.get("/api/log/stat", params={"username": "alice"}, headers=root.headers).json()
    assert answers == [{"success": True, "message": "", "data": {"inserted": 50}}] * 30
    with db.read_logs() as conn:
        assert logs.count_raw(conn, LogFilters()) == 1500
    assert stat["data"]["quota"] == 30 * sum(range(50))
