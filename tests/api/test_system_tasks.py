"""Asynchronous log cleanup (POST /api/system-task/log-cleanup) and watching it (GET /api/system-task/...),
and retention (LOG_RETENTION_DAYS) deleting old logs in the background while usage history stays."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import T0, Ingest, data_of, failure, total_logs
from tests.factories import Account, record
from tokenledger.app import create_app
from tokenledger.domain import timestamps
from tokenledger.settings import Settings
from tokenledger.store.database import Database

CLEANUP = "/api/system-task/log-cleanup"


def _wait_until_finished(client: TestClient, admin: Account, task_id: int) -> dict[str, Any]:
    """Poll the task until it ends (the runner works on its own thread)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = data_of(client.get(f"/api/system-task/{task_id}", headers=admin.headers))
        if task["status"] in ("succeeded", "failed"):
            return dict(task)
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


def _stat_quota(client: TestClient, admin: Account, **params: Any) -> int:
    return int(data_of(client.get("/api/log/stat", headers=admin.headers, params=params))["quota"])


def test_a_cleanup_task_deletes_in_the_background_and_reports_its_result(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    records = [record(alice, created_at=T0 + i * 600, quota=i + 1, request_id=f"c{i}") for i in range(40)]
    ingest(records)
    target = T0 + 15 * 600 + 1
    started = data_of(client.post(CLEANUP, headers=root.headers, json={"target_timestamp": target}))
    assert started["type"] == "log_cleanup"
    assert started["target_timestamp"] == target
    assert started["total"] == 16
    assert started["requested_by"] == "root"
    done = _wait_until_finished(client, root, started["id"])
    assert done["status"] == "succeeded", done
    assert done["deleted"] == 16 and done["progress"] == 100.0
    assert done["finished_at"] >= done["started_at"] > 0
    assert data_of(client.get("/api/system-task/current", headers=root.headers)) is None
    assert total_logs(client, root) == 24
    kept = [r for r in records if r["created_at"] >= target]
    assert _stat_quota(client, root) == sum(r["quota"] for r in kept)
    # The usage history still holds the deleted hours.
    hourly = data_of(client.get("/api/data/", headers=root.headers, params={"username": "alice"}))
    assert sum(bucket["quota"] for bucket in hourly) == sum(r["quota"] for r in records)


def test_cleanup_requests_are_validated(client: TestClient, root: Account, alice: Account) -> None:
    for body in ({}, {"target_timestamp": 0}, {"target_timestamp": ""}):
        assert "target timestamp is required" in failure(client.post(CLEANUP, headers=root.headers, json=body))
    for body in ({"target_timestamp": "soon"}, {"target_timestamp": -5}, {"target_timestamp": [1]}):
        assert "target_timestamp" in failure(client.post(CLEANUP, headers=root.headers, json=body))
    # The query string works too (as New API's DELETE does).
    started = data_of(client.post(CLEANUP, headers=root.headers, params={"target_timestamp": T0}))
    assert started["target_timestamp"] == T0
    assert "no system task with id 999999" in failure(client.get("/api/system-task/999999", headers=root.headers))
    assert "task id" in failure(client.get("/api/system-task/abc", headers=root.headers))
    assert "insufficient privileges" in failure(client.post(CLEANUP, headers=alice.headers, json={}), 403)
    assert "insufficient privileges" in failure(client.get("/api/system-task/current", headers=alice.headers), 403)


def test_only_one_cleanup_runs_at_a_time(db: Database, settings: Settings, root: Account) -> None:
    # No lifespan here: nothing runs the pending task, so it stays pending while the second is refused.
    client = TestClient(create_app(settings, db))
    first = data_of(client.post(CLEANUP, headers=root.headers, json={"target_timestamp": T0}))
    current = data_of(client.get("/api/system-task/current", headers=root.headers))
    assert current["id"] == first["id"] and current["status"] == "pending"
    message = failure(client.post(CLEANUP, headers=root.headers, json={"target_timestamp": T0 + 5}))
    assert f"task {first['id']} is still pending" in message
    message = failure(client.delete("/api/log/", headers=root.headers, params={"target_timestamp": T0 + 5}))
    assert f"task {first['id']}" in message


@pytest.fixture
def retention_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    kept = settings.model_copy(update={"log_retention_days": 2, "log_retention_check_seconds": 0.05})
    with TestClient(create_app(kept, db)) as test_client:
        yield test_client


def test_retention_deletes_logs_past_their_days_and_keeps_usage(
    retention_client: TestClient, root: Account, alice: Account
) -> None:
    now = timestamps.now()
    old = [record(alice, created_at=now - 5 * 86_400 + i, quota=10, request_id=f"o{i}") for i in range(30)]
    recent = [record(alice, created_at=now - 3_600 + i, quota=7, request_id=f"r{i}") for i in range(12)]
    response = retention_client.post("/api/log/ingest", json=old + recent, headers=root.headers)
    assert data_of(response)["inserted"] == 42
    deadline = time.monotonic() + 60
    while total_logs(retention_client, root) != 12:
        assert time.monotonic() < deadline, "retention did not delete the old logs"
        time.sleep(0.05)
    assert _stat_quota(retention_client, root) == 12 * 7
    assert _stat_quota(retention_client, root, username="alice") == 12 * 7
    window = {"username": "alice", "start_timestamp": now - 6 * 86_400, "end_timestamp": now}
    hourly = data_of(retention_client.get("/api/data/", headers=root.headers, params=window))
    assert sum(bucket["quota"] for bucket in hourly) == 30 * 10 + 12 * 7
