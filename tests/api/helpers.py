"""Small helpers shared by the log and data endpoint tests: envelope checks, paging loops, expectations."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.factories import PASSWORD, Account

Ingest = Callable[[list[dict[str, Any]]], int]

# §3: the admin view's fields, in order.
ADMIN_ROW_KEYS = [
    "id",
    "user_id",
    "created_at",
    "type",
    "content",
    "username",
    "token_name",
    "model_name",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "use_time",
    "is_stream",
    "channel",
    "channel_name",
    "token_id",
    "group",
    "ip",
    "request_id",
    "upstream_request_id",
    "other",
]

# A fixed base time (2023-11-14 22:13:20 UTC, an hour boundary plus 800 s) far from "now".
T0 = 1_700_000_000


def data_of(response: httpx.Response) -> Any:
    """The `data` of a successful envelope (HTTP 200, success true, empty message)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def failure(response: httpx.Response, status: int = 200) -> str:
    """The message of a failure envelope with the given HTTP status; a failure carries no data."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False, body
    assert body.get("data") is None, body
    assert isinstance(body["message"], str)
    assert body["message"]
    return str(body["message"])


def rid(row: Mapping[str, Any]) -> str:
    """A row's request_id (rows without one omit the key)."""
    return str(row.get("request_id", ""))


def rids(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return [rid(row) for row in rows]


def newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in the contract's order, given that they were ingested in list order (ids ascending):
    created_at descending, then insertion (id) descending."""
    indexed = list(enumerate(records))
    indexed.sort(key=lambda pair: (pair[1]["created_at"], pair[0]), reverse=True)
    return [item for _, item in indexed]


def page(client: TestClient, path: str, headers: Mapping[str, str] | None = None, **params: Any) -> dict[str, Any]:
    payload = data_of(client.get(path, headers=dict(headers or {}), params=params))
    assert isinstance(payload, dict)
    assert set(payload) >= {"page", "page_size", "total", "items"}
    return payload


def all_offset_pages(
    client: TestClient,
    path: str,
    headers: Mapping[str, str] | None,
    page_size: int,
    **params: Any,
) -> tuple[list[dict[str, Any]], int]:
    """Every row by offset paging (p = 1, 2, …) and the total the first page announced."""
    first = page(client, path, headers, p=1, page_size=page_size, **params)
    total = first["total"]
    rows = list(first["items"])
    number = 1
    while len(rows) < total:
        number += 1
        assert number <= total + 1, "paging does not end"
        payload = page(client, path, headers, p=number, page_size=page_size, **params)
        assert payload["total"] == total
        assert payload["page"] == number
        assert payload["items"], f"page {number} is empty before reaching total {total}"
        assert len(payload["items"]) <= page_size
        rows.extend(payload["items"])
    return rows, total


def all_cursor_pages(
    client: TestClient,
    path: str,
    headers: Mapping[str, str] | None,
    page_size: int,
    **params: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every row by keyset paging (following next_cursor), and every page payload seen."""
    payloads = [page(client, path, headers, page_size=page_size, **params)]
    while payloads[-1].get("next_cursor"):
        assert len(payloads) <= payloads[0]["total"] + 1, "cursor paging does not end"
        payloads.append(page(client, path, headers, page_size=page_size, cursor=payloads[-1]["next_cursor"], **params))
    rows = [row for payload in payloads for row in payload["items"]]
    return rows, payloads


def assert_user_view(rows: list[dict[str, Any]], first_position: int = 1) -> None:
    """The §3 user view: positions as ids, no channel name, no admin-only keys in `other`."""
    for offset, row in enumerate(rows):
        assert row["id"] == first_position + offset
        assert row["channel_name"] == ""
        assert isinstance(row["other"], str)
        if row["other"]:
            other = json.loads(row["other"])
            assert "admin_info" not in other
            assert "audit_info" not in other
        assert [key for key in ADMIN_ROW_KEYS if key in row] == list(row)


def login_client(client: TestClient, account: Account) -> TestClient:
    """A separate client holding `account`'s session cookie (so the shared client keeps its credentials)."""
    session = TestClient(client.app)
    body = data_of(session.post("/api/user/login", json={"username": account.username, "password": PASSWORD}))
    assert body["id"] == account.id
    assert session.cookies.get("session")
    return session


def create_key_via_api(client: TestClient, account: Account, name: str, **options: Any) -> tuple[int, str]:
    """Create an API key through POST /api/token/; returns (id, full sk- secret)."""
    created = data_of(client.post("/api/token/", json={"name": name, **options}, headers=account.headers))
    assert created["key"].startswith("sk-")
    account.keys[name] = (int(created["id"]), str(created["key"]))
    return int(created["id"]), str(created["key"])


def total_logs(client: TestClient, admin: Account) -> int:
    return int(page(client, "/api/log/", admin.headers)["total"])
