"""Background system tasks (New API's asynchronous log cleanup): start one, watch it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from tokenledger.api.deps import Admin, DatabaseDep
from tokenledger.api.envelope import ok
from tokenledger.domain import timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.numbers import is_decimal
from tokenledger.services import cleanup

router = APIRouter(tags=["system tasks"])


@router.post("/api/system-task/log-cleanup", summary="Start deleting logs older than a timestamp (admin)")
def start_log_cleanup(
    request: Request,
    admin: Admin,
    db: DatabaseDep,
    body: Annotated[dict[str, Any] | None, Body(description='{"target_timestamp": <Unix s or ms>}')] = None,
    target_timestamp: str | None = None,
) -> dict[str, Any]:
    raw = (body or {}).get("target_timestamp", target_timestamp)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if raw is not None and not isinstance(raw, str):
        raise Invalid("target_timestamp must be a Unix timestamp in seconds or milliseconds")
    target = timestamps.parse("target_timestamp", raw)
    task = cleanup.start(db, target, admin.user.username, running=False)
    request.app.state.cleanup_runner.wake()
    return ok(task.to_payload())


@router.get("/api/system-task/current", summary="The cleanup pending or running now, or null (admin)")
def current_task(_admin: Admin, db: DatabaseDep) -> dict[str, Any]:
    task = cleanup.current(db)
    return ok(task.to_payload() if task is not None else None)


@router.get("/api/system-task/{task_id}", summary="A system task's progress and result (admin)")
def get_task(_admin: Admin, db: DatabaseDep, task_id: str) -> dict[str, Any]:
    if not is_decimal(task_id) or len(task_id) > 18:
        raise Invalid(f"task id must be a positive integer, got {task_id!r}")
    return ok(cleanup.get(db, int(task_id)).to_payload())
