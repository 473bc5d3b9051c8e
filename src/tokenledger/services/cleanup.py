"""Log cleanup: deleting old logs in small batches, as a task an admin can watch and a restart resumes.

Every way of deleting logs runs through here:

- `DELETE /api/log/?target_timestamp=` runs a cleanup in the request and answers with the rows deleted;
- `POST /api/system-task/log-cleanup` records a pending cleanup and answers at once; the background
  `CleanupRunner` runs it (`GET /api/system-task/{id}` shows progress and result);
- `LOG_RETENTION_DAYS` makes the runner start a cleanup of older logs on schedule;
- `tokenledger prune --before` runs one from the command line with a progress bar.

Each batch deletes a few thousand of the oldest rows and records the task's progress in one short
transaction, then pauses, so writers and readers never wait long. Totals stay exact throughout: the rollups
are not uncounted, they are read only after the pruned range (see tokenledger.store.rollups). A task whose
process stopped is taken up again by the next runner that finds it (its `updated_at` stops moving), and
deleting what is left before the target is all it has to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from tokenledger.domain import timestamps
from tokenledger.domain.errors import Invalid, NotFound
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.tasks import LOG_CLEANUP, SystemTask, TaskStatus
from tokenledger.store import _dialect, logs, tasks
from tokenledger.store.database import Database, DatabaseError, describe_database_error

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000
# Between batches: lets queued writers and readers through.
PAUSE_SECONDS = 0.02
# Below this many deleted rows, the database needs no upkeep afterwards.
MAINTAIN_AFTER_ROWS = 10_000
RETENTION_REQUESTER = "retention"
DAY = 86_400


def _now() -> int:
    return timestamps.now()


def estimate(db: Database, target: int) -> int:
    """How many logs were created before `target`."""
    with db.read_logs() as conn:
        return logs.count(conn, LogFilters(end_timestamp=target - 1))


def start(db: Database, target: int, requested_by: str, *, running: bool) -> SystemTask:
    """Record a cleanup of every log created before `target`: pending for the runner, or already running
    when the caller runs it itself (`run`). Refused while another cleanup is unfinished."""
    if target <= 0:
        raise Invalid("target timestamp is required: pass target_timestamp=<Unix seconds or milliseconds>")
    estimate_now = estimate(db, target)
    with db.write_logs() as conn:
        busy = tasks.unfinished(conn, LOG_CLEANUP)
        if busy is not None:
            raise Invalid(
                f"log cleanup task {busy.id} is still {busy.status.value}: wait until it ends "
                f"(GET /api/system-task/{busy.id}) before starting another"
            )
        return tasks.create(
            conn,
            LOG_CLEANUP,
            target,
            estimated_total=estimate_now,
            requested_by=requested_by,
            now=_now(),
            running=running,
        )


def get(db: Database, task_id: int) -> SystemTask:
    with db.read_logs() as conn:
        task = tasks.get(conn, task_id)
    if task is None:
        raise NotFound(f"no system task with id {task_id}")
    return task


def current(db: Database) -> SystemTask | None:
    """The cleanup pending or running now, if any."""
    with db.read_logs() as conn:
        return tasks.unfinished(conn, LOG_CLEANUP)


def run(
    db: Database,
    task: SystemTask,
    *,
    batch_rows: int = BATCH_ROWS,
    pause: float = PAUSE_SECONDS,
    on_batch: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SystemTask:
    """Delete in batches until no log before the task's target is left, then give the database its upkeep
    and mark the task done. The caller must hold the task (`start(running=True)` or `claim`). If
    `should_stop()` turns true between batches, the task is handed back as pending and resumes later."""
    deleted = 0
    try:
        while True:
            if should_stop():
                with db.write_logs() as conn:
                    tasks.release(conn, task.id, "paused at shutdown: resumes when the server starts again", _now())
                return get(db, task.id)
            with db.write_logs() as conn:
                step = logs.delete_oldest(conn, task.target_timestamp, batch_rows)
                tasks.add_progress(conn, task.id, step, _now())
            if on_batch is not None:
                on_batch(step)
            if not step:
                break
            deleted += step
            time.sleep(pause)
        if deleted >= MAINTAIN_AFTER_ROWS:
            _maintain(db, pause)
        done = get(db, task.id)
        with db.write_logs() as conn:
            tasks.finish(
                conn,
                task.id,
                TaskStatus.SUCCEEDED,
                f"deleted {done.deleted} logs created before {task.target_timestamp}",
                _now(),
            )
    except DatabaseError as exc:
        _fail(db, task, describe_database_error(exc))
        raise
    except Exception as exc:
        _fail(db, task, f"{type(exc).__name__}: {exc}")
        raise
    return get(db, task.id)


def _fail(db: Database, task: SystemTask, message: str) -> None:
    # If the database itself is gone this fails too; the task then stays running, stops reporting, and the
    # next runner resumes it.
    try:
        with db.write_logs() as conn:
            tasks.finish(conn, task.id, TaskStatus.FAILED, f"failed: {message}", _now())
    except Exception:
        log.exception("could not record the failure of system task %s", task.id)


def _maintain(db: Database, pause: float) -> None:
    while True:
        with db.write_logs() as conn:
            more = _dialect.maintain_after_deletion(conn)
        if not more:
            return
        time.sleep(pause)


def refresh_statistics(db: Database) -> None:
    """Upkeep after a bulk load, as a server's own background upkeep would do: the planner's statistics of
    the log tables brought up to date, and on PostgreSQL the visibility map too (VACUUM ANALYZE), without
    which no index-only read is index-only."""
    with db.upkeep_logs() as conn:
        _dialect.upkeep_after_load(conn)


def delete_now(db: Database, target: int, requested_by: str, *, batch_rows: int = BATCH_ROWS) -> int:
    """Delete every log created before `target` in the caller's thread; returns how many were deleted."""
    task = start(db, target, requested_by, running=True)
    return run(db, task, batch_rows=batch_rows).deleted


def retention_target(days: int, now: int) -> int:
    """Logs created before this are past a retention of `days` days."""
    return now - days * DAY


class CleanupRunner:
    """Runs pending and interrupted cleanups in the background, and starts retention cleanups every
    `check_interval` seconds when `retention_days` > 0. Any number of processes may run one: a task is
    claimed by exactly one of them."""

    def __init__(
        self,
        db: Database,
        *,
        retention_days: int,
        check_interval: float,
        batch_rows: int = BATCH_ROWS,
        pause: float = PAUSE_SECONDS,
    ) -> None:
        self.db = db
        self.retention_days = retention_days
        self.check_interval = check_interval
        self.batch_rows = batch_rows
        self.pause = pause
        self._wake = asyncio.Event()
        self._stopping = threading.Event()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        """Look for work now rather than at the next check."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop after the current batch; an unfinished task is handed back and resumes at the next start."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                # The task records its own failure; the runner lives on and tries again at the next check.
                log.exception("log cleanup failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.check_interval)
            self._wake.clear()

    def run_once(self) -> SystemTask | None:
        """Start a retention cleanup if one is due, then run the cleanup waiting to be run, if any."""
        if self.retention_days > 0:
            self._start_retention()
        with self.db.write_logs() as conn:
            task = tasks.unfinished(conn, LOG_CLEANUP)
            if task is None or not tasks.claim(conn, task.id, _now()):
                return None
            if task.status is TaskStatus.RUNNING:
                tasks.note(conn, task.id, "resumed after an interruption", _now())
        return run(self.db, task, batch_rows=self.batch_rows, pause=self.pause, should_stop=self._stopping.is_set)

    def _start_retention(self) -> None:
        target = retention_target(self.retention_days, _now())
        with self.db.read_logs() as conn:
            due = logs.any_logs(conn, before=target)
            busy = tasks.unfinished(conn, LOG_CLEANUP) is not None
        if due and not busy:
            with contextlib.suppress(Invalid):  # another process started one meanwhile
                start(self.db, target, RETENTION_REQUESTER, running=False)
