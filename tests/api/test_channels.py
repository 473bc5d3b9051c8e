"""Channels (API.md §5): admin CRUD, flat or wrapped bodies, masked keys, names shown on admin log rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.api.mgmt_helpers import fails, ok
from tests.factories import Account, record

UPSTREAM_KEY = "sk-upstream-provider-secret-0123456789"

Ingest = Callable[[list[dict[str, Any]]], int]


def create(client: TestClient, admin: Account, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = ok(client.post("/api/channel/", json=body, headers=admin.headers))
    return data


def test_create_flat_and_read_back(client: TestClient, root: Account) -> None:
    body = {
        "name": "openai-main",
        "type": 1,
        "base_url": "https://api.openai.com",
        "key": UPSTREAM_KEY,
        "models": "gpt-4o,gpt-4o-mini",
        "group": "default,vip",
        "status": 1,
    }
    created = create(client, root, body)
    assert isinstance(created["id"], int) and created["id"] >= 1
    for field in ("name", "type", "base_url", "models", "group", "status"):
        assert created[field] == body[field], field
    assert created["key"] == "sk-upst…6789"
    fetched = ok(client.get(f"/api/channel/{created['id']}", headers=root.headers))
    assert fetched == created
    listed = ok(client.get("/api/channel/", headers=root.headers))
    assert listed["total"] == 1 and listed["items"] == [created]
    for shown in (created, fetched, listed):
        assert UPSTREAM_KEY not in json.dumps(shown, ensure_ascii=False)
        assert "provider-secret" not in json.dumps(shown, ensure_ascii=False)


def test_create_defaults(client: TestClient, root: Account) -> None:
    created = create(client, root, {"name": "bare"})
    assert created["type"] == 1 and created["status"] == 1 and created["group"] == "default"
    assert created["base_url"] == "" and created["models"] == ""
    assert "secret" not in created["key"]


def test_create_with_new_api_wrapper(client: TestClient, root: Account) -> None:
    body = {"mode": "single", "channel": {"name": "wrapped", "key": UPSTREAM_KEY, "models": "claude-3"}}
    created = create(client, root, body)
    assert created["name"] == "wrapped" and created["models"] == "claude-3"
    assert created["key"] == "sk-upst…6789"


def test_update_flat_and_wrapped(client: TestClient, root: Account) -> None:
    created = create(client, root, {"name": "before", "models": "a", "key": UPSTREAM_KEY})
    renamed = ok(client.put("/api/channel/", json={"id": created["id"], "name": "after"}, headers=root.headers))
    assert renamed["name"] == "after" and renamed["models"] == "a" and renamed["key"] == created["key"]
    wrapped = {"mode": "single", "channel": {"id": created["id"], "status": 2, "key": "new-upstream-key-abcdefgh"}}
    updated = ok(client.put("/api/channel", json=wrapped, headers=root.headers))
    assert updated["status"] == 2 and updated["name"] == "after"
    assert updated["key"] == "new-…efgh"
    assert ok(client.get(f"/api/channel/{created['id']}", headers=root.headers)) == updated


def test_delete(client: TestClient, root: Account) -> None:
    keep = create(client, root, {"name": "keep"})
    gone = create(client, root, {"name": "gone"})
    assert ok(client.delete(f"/api/channel/{gone['id']}", headers=root.headers)) is None
    fails(client.get(f"/api/channel/{gone['id']}", headers=root.headers), 200, "does not exist")
    fails(client.delete(f"/api/channel/{gone['id']}", headers=root.headers), 200, "does not exist")
    fails(
        client.put("/api/channel/", json={"id": gone["id"], "name": "x"}, headers=root.headers), 200, "does not exist"
    )
    assert [item["id"] for item in ok(client.get("/api/channel", headers=root.headers))["items"]] == [keep["id"]]


def test_list_pages_newest_first(client: TestClient, root: Account) -> None:
    for name in ("c1", "c2", "c3"):
        create(client, root, {"name": name})
    page = ok(client.get("/api/channel/?p=1&page_size=2", headers=root.headers))
    assert page["total"] == 3 and [item["name"] for item in page["items"]] == ["c3", "c2"]
    page = ok(client.get("/api/channel/?p=2&page_size=2", headers=root.headers))
    assert [item["name"] for item in page["items"]] == ["c1"]


def test_log_rows_show_the_channels_current_name(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    channel = create(client, root, {"name": "first-name"})
    other = create(client, root, {"name": "other"})
    ingest(
        [
            record(alice, channel=channel["id"], created_at=1_700_000_000),
            record(alice, channel=other["id"], created_at=1_700_000_001),
            record(alice, channel=9999, created_at=1_700_000_002),
        ]
    )

    def names() -> dict[int, str]:
        rows = ok(client.get("/api/log/", headers=root.headers))["items"]
        return {row["channel"]: row["channel_name"] for row in rows}

    assert names() == {channel["id"]: "first-name", other["id"]: "other", 9999: ""}
    ok(client.put("/api/channel/", json={"id": channel["id"], "name": "second-name"}, headers=root.headers))
    assert names() == {channel["id"]: "second-name", other["id"]: "other", 9999: ""}
    filtered = ok(client.get(f"/api/log/?channel={channel['id']}", headers=root.headers))["items"]
    assert [row["channel_name"] for row in filtered] == ["second-name"]
    ok(client.delete(f"/api/channel/{other['id']}", headers=root.headers))
    assert names()[other["id"]] == ""

    own = ok(client.get("/api/log/self", headers=alice.headers))["items"]
    assert len(own) == 3
    assert all(row["channel_name"] == "" for row in own)


def test_non_admin_is_403(client: TestClient, root: Account, alice: Account) -> None:
    channel = create(client, root, {"name": "c"})
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/api/channel/", None),
        ("POST", "/api/channel/", {"name": "x"}),
        ("PUT", "/api/channel/", {"id": channel["id"], "name": "x"}),
        ("GET", f"/api/channel/{channel['id']}", None),
        ("DELETE", f"/api/channel/{channel['id']}", None),
    ]
    for method, path, body in calls:
        fails(client.request(method, path, json=body, headers=alice.headers), 403, "insufficient privileges")
    assert ok(client.get(f"/api/channel/{channel['id']}", headers=root.headers))["name"] == "c"
    assert ok(client.get("/api/channel/", headers=root.headers))["total"] == 1


def test_invalid_channel_bodies_fail(client: TestClient, root: Account) -> None:
    cases: list[tuple[Any, str]] = [
        ({}, "name"),
        ({"type": 1}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "c", "status": 9}, "status"),
        ({"name": "c", "status": "1"}, "status"),
        ({"name": "c", "type": -1}, "type"),
        ({"mode": "single", "channel": {"status": 1}}, "name"),
        ({"mode": "single", "channel": {"name": "c", "status": 0}}, "status"),
        ([{"name": "c"}], ""),
        ("just a string", ""),
    ]
    for body, phrase in cases:
        fails(client.post("/api/channel/", json=body, headers=root.headers), 200, phrase)
    assert ok(client.get("/api/channel/", headers=root.headers))["total"] == 0


def test_invalid_channel_updates_fail(client: TestClient, root: Account) -> None:
    channel = create(client, root, {"name": "c"})
    cases: list[tuple[Any, str]] = [
        ({"name": "no id"}, "id"),
        ({"id": channel["id"], "status": 7}, "status"),
        ({"id": channel["id"], "name": ""}, "name"),
        ({"id": str(channel["id"]), "name": "x"}, "id"),
    ]
    for body, phrase in cases:
        fails(client.put("/api/channel/", json=body, headers=root.headers), 200, phrase)
    assert ok(client.get(f"/api/channel/{channel['id']}", headers=root.headers))["name"] == "c"


def test_non_integer_channel_id_is_an_envelope_failure(client: TestClient, root: Account) -> None:
    fails(client.get("/api/channel/abc", headers=root.headers), 200, "channel_id")
    fails(client.delete("/api/channel/abc", headers=root.headers), 200, "channel_id")
