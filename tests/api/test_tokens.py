"""API keys (API.md §5): created with the full key shown once, masked afterwards, owned by one user."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.api.mgmt_helpers import fails, ok
from tests.factories import Account, make_key
from tokenledger.store.database import Database

MASKED = re.compile(r"^sk-[A-Za-z0-9]{4}…[A-Za-z0-9]{4}$")


def create(client: TestClient, account: Account, **body: object) -> dict[str, object]:
    data: dict[str, object] = ok(client.post("/api/token/", json=body, headers=account.headers))
    return data


def key_works(client: TestClient, secret: str) -> bool:
    response = client.get("/api/log/self", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code == 200 and bool(response.json()["success"])


def test_create_returns_the_full_key_once(client: TestClient, alice: Account) -> None:
    created = create(client, alice, name="laptop")
    secret = created["key"]
    assert isinstance(secret, str) and secret.startswith("sk-") and len(secret) == 51
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", secret)
    assert isinstance(created["id"], int) and created["id"] >= 1
    assert created["name"] == "laptop" and created["status"] == 1 and created["user_id"] == alice.id
    assert created["expired_time"] == -1 and created["remain_quota"] == 0 and created["unlimited_quota"] is False
    assert key_works(client, secret)

    listed = ok(client.get("/api/token/", headers=alice.headers))
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert item["id"] == created["id"] and item["name"] == "laptop"
    assert MASKED.match(item["key"]), item["key"]
    assert item["key"] == f"{secret[:7]}…{secret[-4:]}"
    one = ok(client.get(f"/api/token/{created['id']}", headers=alice.headers))
    assert one["key"] == item["key"]
    for shown in (json.dumps(listed), json.dumps(one, ensure_ascii=False)):
        assert secret not in shown and secret[3:] not in shown


def test_two_keys_differ_and_list_newest_first(client: TestClient, alice: Account) -> None:
    first = create(client, alice, name="one")
    second = create(client, alice, name="two")
    assert first["key"] != second["key"]
    listed = ok(client.get("/api/token", headers=alice.headers))
    assert [item["name"] for item in listed["items"]] == ["two", "one"]
    paged = ok(client.get("/api/token/?p=2&page_size=1", headers=alice.headers))
    assert paged["total"] == 2 and [item["name"] for item in paged["items"]] == ["one"]


def test_create_with_options(client: TestClient, alice: Account) -> None:
    created = create(
        client, alice, name="ci", remain_quota=5000, unlimited_quota=True, expired_time=4_000_000_000, group="vip"
    )
    assert created["remain_quota"] == 5000 and created["unlimited_quota"] is True
    assert created["expired_time"] == 4_000_000_000 and created["group"] == "vip"
    assert created["ingest"] is False


def test_update_name_and_fields(client: TestClient, alice: Account) -> None:
    created = create(client, alice, name="old")
    updated = ok(
        client.put("/api/token/", json={"id": created["id"], "name": "new", "remain_quota": 42}, headers=alice.headers)
    )
    assert updated["name"] == "new" and updated["remain_quota"] == 42
    assert MASKED.match(updated["key"]) and "key" in updated
    assert ok(client.get(f"/api/token/{created['id']}", headers=alice.headers))["name"] == "new"
    assert key_works(client, str(created["key"]))


def test_status_only_disables_and_enables(client: TestClient, alice: Account) -> None:
    created = create(client, alice, name="k")
    secret = str(created["key"])
    body = {"id": created["id"], "status": 2, "name": "ignored"}
    disabled = ok(client.put("/api/token/?status_only=true", json=body, headers=alice.headers))
    assert disabled["status"] == 2 and disabled["name"] == "k"
    assert not key_works(client, secret)
    fails(client.get("/api/log/self", headers={"Authorization": f"Bearer {secret}"}), 401)
    enabled = ok(
        client.put("/api/token?status_only=true", json={"id": created["id"], "status": 1}, headers=alice.headers)
    )
    assert enabled["status"] == 1
    assert key_works(client, secret)


def test_status_only_needs_a_status(client: TestClient, alice: Account) -> None:
    created = create(client, alice, name="k")
    fails(client.put("/api/token/?status_only=true", json={"id": created["id"]}, headers=alice.headers), 200, "status")


def test_delete_revokes(client: TestClient, alice: Account) -> None:
    created = create(client, alice, name="k")
    assert ok(client.delete(f"/api/token/{created['id']}", headers=alice.headers)) is None
    assert not key_works(client, str(created["key"]))
    fails(client.get(f"/api/token/{created['id']}", headers=alice.headers), 200, "does not exist")
    fails(client.delete(f"/api/token/{created['id']}", headers=alice.headers), 200, "does not exist")
    assert ok(client.get("/api/token/", headers=alice.headers))["total"] == 0


def test_another_users_key_is_invisible_and_untouchable(
    client: TestClient, db: Database, alice: Account, bob: Account
) -> None:
    secret = make_key(db, alice, "alices")
    key_id = alice.keys["alices"][0]
    fails(client.get(f"/api/token/{key_id}", headers=bob.headers), 200, "does not exist")
    fails(client.put("/api/token/", json={"id": key_id, "name": "pwned"}, headers=bob.headers), 200, "does not exist")
    fails(
        client.put("/api/token/?status_only=true", json={"id": key_id, "status": 2}, headers=bob.headers),
        200,
        "does not exist",
    )
    fails(client.delete(f"/api/token/{key_id}", headers=bob.headers), 200, "does not exist")
    assert ok(client.get("/api/token/", headers=bob.headers))["total"] == 0
    mine = ok(client.get(f"/api/token/{key_id}", headers=alice.headers))
    assert mine["name"] == "alices" and mine["status"] == 1
    assert key_works(client, secret)


def test_root_does_not_see_other_users_keys_either(
    client: TestClient, db: Database, root: Account, alice: Account
) -> None:
    make_key(db, alice)
    key_id = alice.keys["default"][0]
    assert ok(client.get("/api/token/", headers=root.headers))["total"] == 0
    fails(client.get(f"/api/token/{key_id}", headers=root.headers), 200, "does not exist")


def test_invalid_key_bodies_fail(client: TestClient, alice: Account) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"name": "x" * 129}, "name"),
        ({"remain_quota": -1}, "remain_quota"),
        ({"expired_time": -2}, "expired_time"),
        ({"unlimited_quota": "yes"}, "unlimited_quota"),
        ({"name": 5}, "name"),
    ]
    for body, phrase in cases:
        fails(client.post("/api/token/", json=body, headers=alice.headers), 200, phrase)
    assert ok(client.get("/api/token/", headers=alice.headers))["total"] == 0


def test_invalid_key_updates_fail(client: TestClient, alice: Account) -> None:
    created = create(client, alice, name="k", remain_quota=10)
    key_id = created["id"]
    cases: list[tuple[str, dict[str, object], str]] = [
        ("", {"id": key_id, "status": 3}, "status"),
        ("", {"id": key_id, "status": 0}, "status"),
        ("?status_only=true", {"id": key_id, "status": 5}, "status"),
        ("", {"id": key_id, "remain_quota": -1}, "remain_quota"),
        ("", {"id": key_id, "name": "x" * 129}, "name"),
        ("", {"name": "no id"}, "id"),
        ("", {"id": 999, "name": "missing"}, "does not exist"),
    ]
    for query, body, phrase in cases:
        fails(client.put(f"/api/token/{query}", json=body, headers=alice.headers), 200, phrase)
    unchanged = ok(client.get(f"/api/token/{key_id}", headers=alice.headers))
    assert unchanged["name"] == "k" and unchanged["status"] == 1 and unchanged["remain_quota"] == 10


def test_common_user_may_not_create_an_ingest_key(client: TestClient, root: Account, alice: Account) -> None:
    fails(client.post("/api/token/", json={"name": "i", "ingest": True}, headers=alice.headers), 403)
    assert ok(client.get("/api/token/", headers=alice.headers))["total"] == 0
    assert create(client, root, name="i", ingest=True)["ingest"] is True


def test_non_integer_key_id_is_an_envelope_failure(client: TestClient, alice: Account) -> None:
    fails(client.get("/api/token/abc", headers=alice.headers), 200, "key_id")
    fails(client.delete("/api/token/1.5", headers=alice.headers), 200, "key_id")
    fails(client.get("/api/token/99999999999999999999999", headers=alice.headers), 200)
