"""Every example request of the two source documents, sent as written (only the credentials replaced)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account, make_key, record
from tokenledger.store.database import Database

# Requests of the New API log module document (its example timestamps span 2021-12-31..2022-01-01).
NEWAPI_DOC_SELF = [
    "/api/log/self/stat?type=2&start_timestamp=1640908800&end_timestamp=1640995200&token_name=api_token"
    "&model_name=gpt-4&group=default",
    "/api/log/self/search?keyword=gpt-4",
]
NEWAPI_DOC_ADMIN = [
    "/api/log/?p=1&page_size=20&type=2&start_timestamp=1640908800&end_timestamp=1640995200&username=testuser"
    "&token_name=api_token&model_name=gpt-4&channel=1&group=default",
    "/api/log/stat?type=2&start_timestamp=1640908800&end_timestamp=1640995200&username=testuser"
    "&token_name=api_token&model_name=gpt-4&channel=1&group=default",
    "/api/log/search?keyword=error",
]


@pytest.fixture
def testuser_rows(db: Database, alice: Account, ingest: Callable[[list[dict[str, Any]]], int]) -> list[dict[str, Any]]:
    rows = [
        record(
            alice,
            created_at=1_640_995_000,
            token_name="api_token",
            model_name="gpt-4",
            group="default",
            channel=1,
            quota=1000,
            content="GPT-4 chat completion",
        ),
        record(alice, created_at=1_640_990_000, type=5, quota=0, content="upstream error: status 500"),
    ]
    ingest(rows)
    return rows


def test_newapi_document_self_examples(client: TestClient, alice: Account, testuser_rows: list[dict[str, Any]]) -> None:
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {alice.token}",
        "New-Api-User": f"Bearer {alice.id}",
    }
    stat = client.get(NEWAPI_DOC_SELF[0], headers=headers).json()
    assert stat == {"success": True, "message": "", "data": {"quota": 1000, "rpm": 0, "tpm": 0}}
    found = client.get(NEWAPI_DOC_SELF[1], headers=headers).json()
    assert found["success"] is True
    assert [row["content"] for row in found["data"]] == ["GPT-4 chat completion"]


def test_newapi_document_admin_examples(
    client: TestClient, root: Account, alice: Account, testuser_rows: list[dict[str, Any]]
) -> None:
    headers = {"Authorization": f"Bearer {root.token}", "New-API-User": f"Bearer {root.id}"}
    # The document filters by username=testuser; our user is alice, so that page is empty but well formed.
    page = client.get(NEWAPI_DOC_ADMIN[0], headers=headers).json()
    assert page["success"] is True
    assert page["data"]["total"] == 0 and page["data"]["page_size"] == 20
    as_alice = client.get(NEWAPI_DOC_ADMIN[0].replace("testuser", "alice"), headers=headers).json()["data"]
    assert as_alice["total"] == 1
    assert as_alice["items"][0]["channel"] == 1
    stat = client.get(NEWAPI_DOC_ADMIN[1].replace("testuser", "alice"), headers=headers).json()
    assert stat["data"]["quota"] == 1000
    errors = client.get(NEWAPI_DOC_ADMIN[2], headers=headers).json()["data"]
    assert [row["type"] for row in errors] == [5]
    deleted = client.delete("/api/log/?target_timestamp=1640995000", headers=headers).json()
    assert deleted == {"success": True, "message": "", "data": 1}


def test_reseller_document_examples_with_an_api_key(
    client: TestClient, db: Database, alice: Account, ingest: Callable[[list[dict[str, Any]]], int]
) -> None:
    api_key = make_key(db, alice)
    ingest(
        [
            record(alice, created_at=1_714_400_000, model_name="claude-sonnet-4-6", quota=500),
            record(alice, created_at=1_714_500_000, type=1, quota=100_000, model_name=""),
        ]
    )
    headers = {"Authorization": f"Bearer {api_key}"}
    # requests.get(..., params={"p": 1, "page_size": 20, "start_timestamp": ms, "end_timestamp": ms, "type": 2})
    params = {"p": 1, "page_size": 20, "start_timestamp": 1_714_320_000_000, "end_timestamp": 1_715_000_000_000}
    page = client.get("/api/log/self", params=params | {"type": 2}, headers=headers).json()
    items = page["data"]["items"]
    assert page["data"]["total"] == 1
    assert {"model_name", "prompt_tokens", "completion_tokens", "quota"} <= set(items[0])
    # curl ".../api/log/self?p=1&page_size=20&type=2"
    assert client.get("/api/log/self?p=1&page_size=20&type=2", headers=headers).json()["data"]["total"] == 1
    # curl ".../api/log/stat?start_timestamp=1714320000000&end_timestamp=1715000000000" with the API key
    stat = client.get("/api/log/stat?start_timestamp=1714320000000&end_timestamp=1715000000000", headers=headers)
    assert stat.json()["data"]["quota"] == 500
