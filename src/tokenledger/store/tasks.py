"""System task rows: create, claim, report progress, finish."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from tokenledger.domain.tasks import ABANDONED_AFTER_SECONDS, SystemTask, TaskStatus
from tokenledger.store.schema import system_tasks

_UNFINISHED = (TaskStatus.PENDING.value, TaskStatus.RUNNING.value)


def _task(row: Row[Any]) -> SystemTask:
    return SystemTask(
        id=int(row.id),
        kind=row.kind,
        status=TaskStatus(row.status),
        target_timestamp=int(row.target_timestamp),
        deleted=int(row.deleted),
        estimated_total=int(row.estimated_total),
        requested_by=row.requested_by,
        message=row.message,
        created_at=int(row.created_at),
        started_at=int(row.started_at),
        updated_at=int(row.updated_at),
        finished_at=int(row.finished_at),
    )


def create(
    conn: Connection,
    kind: str,
    target_timestamp: int,
    *,
    estimated_total: int,
    requested_by: str,
    now: int,
    running: bool,
) -> SystemTask:
    """A new task, pending for the background runner, or already running for a caller that runs it itself."""
    status = TaskStatus.RUNNING if running else TaskStatus.PENDING
    result = conn.execute(
        insert(system_tasks).values(
            kind=kind,
            status=status.value,
            target_timestamp=target_timestamp,
            estimated_total=estimated_total,
            requested_by=requested_by,
            created_at=now,
            started_at=now if running else 0,
            updated_at=now,
        )
    )
    task_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    found = get(conn, int(task_id)) if task_id is not None else None
    assert found is not None
    return found


def get(conn: Connection, task_id: int) -> SystemTask | None:
    row = conn.execute(select(system_tasks).where(system_tasks.c.id == task_id)).first()
    return _task(row) if row is not None else None


def unfinished(conn: Connection, kind: str) -> SystemTask | None:
    """The oldest pending or running task of this kind."""
    query = (
        select(system_tasks)
        .where(system_tasks.c.kind == kind, system_tasks.c.status.in_(_UNFINISHED))
        .order_by(system_tasks.c.id)
        .limit(1)
    )
    row = conn.execute(query).first()
    return _task(row) if row is not None else None


def claim(conn: Connection, task_id: int, now: int) -> bool:
    """Take a pending task, or a running one whose runner stopped reporting, for this runner. Only one
    runner succeeds, whatever the number of processes."""
    claimable = or_(
        system_tasks.c.status == TaskStatus.PENDING.value,
        and_(
            system_tasks.c.status == TaskStatus.RUNNING.value,
            system_tasks.c.updated_at < now - ABANDONED_AFTER_SECONDS,
        ),
    )
    result = conn.execute(
        update(system_tasks)
        .where(system_tasks.c.id == task_id, claimable)
        .values(status=TaskStatus.RUNNING.value, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        update(system_tasks).where(system_tasks.c.id == task_id, system_tasks.c.started_at == 0).values(started_at=now)
    )
    return True


def add_progress(conn: Connection, task_id: int, deleted: int, now: int) -> None:
    conn.execute(
        update(system_tasks)
        .where(system_tasks.c.id == task_id)
        .values(deleted=system_tasks.c.deleted + deleted, updated_at=now)
    )


def note(conn: Connection, task_id: int, message: str, now: int) -> None:
    conn.execute(update(system_tasks).where(system_tasks.c.id == task_id).values(message=message[:255], updated_at=now))


def release(conn: Connection, task_id: int, message: str, now: int) -> None:
    """Hand a running task back as pending (its runner is stopping)."""
    conn.execute(
        update(system_tasks)
        .where(system_tasks.c.id == task_id)
        .values(status=TaskStatus.PENDING.value, message=message[:255], updated_at=now)
    )


def finish(conn: Connection, task_id: int, status: TaskStatus, message: str, now: int) -> None:
    conn.execute(
        update(system_tasks)
        .where(system_tasks.c.id == task_id)
        .values(status=status.value, message=message[:255], updated_at=now, finished_at=now)
    )
