from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Account, record


def test_ingested_log_is_listed_for_admin_and_owner(
    client: TestClient, root: Account, alice: Account, ingest: Callable[[list[dict[str, Any]]], int]
) -> None:
    assert ingest([record(alice, created_at=1_700_000_000)]) == 1
    admin_page = client.get("/api/log/", headers=root.headers).json()["data"]
    own_page = client.get("/api/log/self", headers=alice.headers).json()["data"]
    assert admin_page["total"] == own_page["total"] == 1
    assert own_page["items"][0]["username"] == "alice"
    assert own_page["items"][0]["id"] == 1
