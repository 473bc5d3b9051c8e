"""System tasks: long-running work an admin starts and watches (log cleanups)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TaskStatus(StrEnum):
    PENDING = "pending"  # waiting for the background runner
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)


LOG_CLEANUP = "log_cleanup"
# A running task whose runner has not reported for this long is taken to be interrupted (its process
# stopped) and may be resumed by another runner.
ABANDONED_AFTER_SECONDS = 120


@dataclass(frozen=True, slots=True)
class SystemTask:
    id: int
    kind: str
    status: TaskStatus
    target_timestamp: int
    deleted: int
    estimated_total: int
    requested_by: str
    message: str
    created_at: int
    started_at: int
    updated_at: int
    finished_at: int

    @property
    def progress(self) -> float:
        """Percent done; an estimate while running (rows written meanwhile into the range count too)."""
        if self.status is TaskStatus.SUCCEEDED:
            return 100.0
        if self.estimated_total <= 0:
            return 0.0
        return round(min(99.9, 100.0 * self.deleted / self.estimated_total), 1)

    def abandoned(self, now: int) -> bool:
        return self.status is TaskStatus.RUNNING and now - self.updated_at > ABANDONED_AFTER_SECONDS

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.kind,
            "status": self.status.value,
            "target_timestamp": self.target_timestamp,
            "deleted": self.deleted,
            "total": self.estimated_total,
            "progress": self.progress,
            "requested_by": self.requested_by,
            "message": self.message,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }
