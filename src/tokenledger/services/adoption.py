"""Adoption from a running New API (or one-api): copy its users, keys, channels, logs and hourly usage into
tokenledger, keeping ids and timestamps, then verify; optionally keep following its new logs.

How it stays exact and resumable:
- Users, keys and channels are overwritten by id on every run (and every minute while following), so a
  re-run refreshes them and never duplicates.
- Logs are copied in id order, each batch in one transaction with the new position (`import_progress`),
  so an interrupted import resumes after the last committed batch, skipping and repeating nothing.
  Copied logs fold into the hourly usage table as tokenledger's own writes do.
- New API's own hourly table (`quota_data`) is copied only for the hours before its first consume log:
  those hours have no detailed rows left to rebuild them from. Later hours are rebuilt from the logs,
  so the data endpoints agree exactly with the copied logs.
- Logs that commit in New API out of id order (a slow transaction) are caught by re-reading the last
  RECHECK_IDS ids below the position on every poll.
- The target must be a new tokenledger database, or one this source was imported into before: ids are
  kept, so rows of another origin would collide. The root user a first start creates is replaced by
  the source's users.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Protocol, TypeVar

from tokenledger.domain import timestamps
from tokenledger.domain.errors import Conflict
from tokenledger.domain.newapi import ImportProgress
from tokenledger.domain.user import ROOT_USER_ID
from tokenledger.store import imports, logs, sessions, usage, users
from tokenledger.store.database import Connection, Database
from tokenledger.store.newapi_source import NewApiSource

DEFAULT_BATCH_SIZE = 5_000
RECHECK_IDS = 2_000
ACCOUNT_REFRESH_SECONDS = 60
_ACCOUNT_BATCH = 1_000

T = TypeVar("T")


class Progress(Protocol):
    """Where an import reports what it is doing: `step(label, total)` opens a step and returns the
    function that advances it by a number of rows."""

    def step(self, label: str, total: int | None) -> Callable[[int], None]: ...


class _Silent:
    def step(self, label: str, total: int | None) -> Callable[[int], None]:
        return lambda _rows: None


@dataclass
class ImportReport:
    users: int = 0
    keys: int = 0
    channels: int = 0
    skipped_keys: int = 0
    history_buckets: int = 0
    logs: int = 0
    last_log_id: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.mismatches


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _start(db: Database, source: NewApiSource) -> ImportProgress:
    """The position of this source's copy, or a new one after checking that the target holds nothing of
    its own (beyond the root a first start creates, which is removed)."""
    with db.read_logs() as log_conn:
        progress = imports.get_progress(log_conn, source.name)
        if progress is not None:
            return progress
        # Another source's import counts as data of its own: its ids would collide with this one's.
        has_logs = logs.any_logs(log_conn) or imports.any_progress(log_conn)
    with db.write() as conn:
        counts = imports.count_rows(conn)
        only_bootstrap_root = counts["users"] == 1 and imports.user_ids(conn) == {ROOT_USER_ID}
        if has_logs or counts["tokens"] or counts["channels"] or (counts["users"] and not only_bootstrap_root):
            raise Conflict(
                "the target already holds users, keys, channels or logs of its own: import into a new "
                "tokenledger database (imported rows keep their ids, which would collide)"
            )
        if only_bootstrap_root:
            sessions.delete_for_user(conn, ROOT_USER_ID)
            users.hard_delete(conn, ROOT_USER_ID)
    now = timestamps.now()
    progress = ImportProgress(source.name, last_log_id=0, history_copied=False, started_at=now, updated_at=now)
    with db.write_logs() as log_conn:
        imports.save_progress(log_conn, progress)
    return progress


def copy_accounts(db: Database, source: NewApiSource, report: ImportReport, progress: Progress) -> None:
    """Users, then their keys (a key whose owner is gone is skipped), then channels, overwritten by id."""
    advance = progress.step("users", source.count("users"))
    report.users = _upsert_all(db, source.users(), imports.upsert_users, advance)
    with db.read() as conn:
        known_users = imports.user_ids(conn)
    live_keys = source.count_live_keys()
    advance = progress.step("API keys", live_keys)
    owned = (key for key in source.api_keys() if key.key.user_id in known_users)
    report.keys = _upsert_all(db, owned, imports.upsert_keys, advance)
    report.skipped_keys = live_keys - report.keys
    advance = progress.step("channels", source.count("channels"))
    report.channels = _upsert_all(db, source.channels(), imports.upsert_channels, advance)


def _upsert_all(
    db: Database, items: Iterable[T], upsert: Callable[[Connection, list[T]], None], advance: Callable[[int], None]
) -> int:
    """Write rows to the core database in batches, one transaction each. Returns how many."""
    written = 0
    for batch in _batches(items, _ACCOUNT_BATCH):
        with db.write() as conn:
            upsert(conn, batch)
        written += len(batch)
        advance(len(batch))
    return written


def copy_history(db: Database, source: NewApiSource, position: ImportProgress, report: ImportReport) -> ImportProgress:
    """Hourly usage from before the source's first consume log, once per source."""
    if position.history_copied:
        return position
    first = source.first_consume_at()
    buckets = source.usage_before(None if first is None else first - first % usage.HOUR)
    position = replace(position, history_copied=True, updated_at=timestamps.now())
    with db.write_logs() as log_conn:
        usage.add_buckets(log_conn, buckets)
        imports.save_progress(log_conn, position)
    report.history_buckets = len(buckets)
    return position


def copy_logs(
    db: Database,
    source: NewApiSource,
    position: ImportProgress,
    report: ImportReport,
    advance: Callable[[int], None],
    batch_size: int,
) -> ImportProgress:
    """Every log above the position, batch by batch, each batch committed with the new position."""
    while batch := source.logs_after(position.last_log_id, batch_size):
        position = replace(position, last_log_id=batch[-1].id, updated_at=timestamps.now())
        with db.write_logs() as log_conn:
            logs.copy_logs(log_conn, batch)
            imports.save_progress(log_conn, position)
        report.logs += len(batch)
        advance(len(batch))
    return position


def copy_late_logs(db: Database, source: NewApiSource, position: ImportProgress) -> int:
    """Logs with ids at or below the position that were not there when it passed them."""
    above = max(position.last_log_id - RECHECK_IDS, 0)
    source_ids = source.log_ids_between(above, position.last_log_id)
    with db.read_logs() as log_conn:
        missing = sorted(set(source_ids) - logs.ids_between(log_conn, above, position.last_log_id))
    if not missing:
        return 0
    entries = source.logs_by_id(missing)
    with db.write_logs() as log_conn:
        logs.copy_logs(log_conn, entries)
    return len(entries)


def verify(db: Database, source: NewApiSource, up_to_id: int, skipped_keys: int) -> list[str]:
    """Compare row counts (users, live keys but those skipped, channels) and per-user log counts and quota
    sums (logs up to `up_to_id`) with the source. Returns one line per difference."""
    mismatches: list[str] = []
    with db.read() as conn:
        counts = imports.count_rows(conn)
    expected = {
        "users": source.count("users"),
        "tokens": source.count_live_keys() - skipped_keys,
        "channels": source.count("channels"),
    }
    for table, count in expected.items():
        if counts[table] != count:
            mismatches.append(f"{table}: {count} in the source, {counts[table]} here")
    with db.read_logs() as log_conn:
        ours = logs.totals_by_user(log_conn, up_to_id)
    theirs = source.totals_by_user(up_to_id)
    for user_id in sorted(set(ours) | set(theirs)):
        mine, origin = ours.get(user_id), theirs.get(user_id)
        if mine != origin:
            mismatches.append(
                f"user {user_id}: source has {origin.logs if origin else 0} logs totalling "
                f"{origin.quota if origin else 0} quota, here {mine.logs if mine else 0} totalling "
                f"{mine.quota if mine else 0}"
            )
    return mismatches


def import_newapi(
    db: Database, source: NewApiSource, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
) -> ImportReport:
    """Copy everything (resuming where an earlier run of the same source stopped), then verify."""
    sink = progress or _Silent()
    report = ImportReport()
    position = _start(db, source)
    copy_accounts(db, source, report, sink)
    position = copy_history(db, source, position, report)
    advance = sink.step("logs", source.logs_remaining(position.last_log_id))
    position = copy_logs(db, source, position, report, advance, batch_size)
    copy_late_logs(db, source, position)
    report.last_log_id = position.last_log_id
    report.mismatches = verify(db, source, position.last_log_id, report.skipped_keys)
    return report


def follow_newapi(
    db: Database,
    source: NewApiSource,
    *,
    interval: float,
    keep_going: Callable[[], bool],
    on_copied: Callable[[int, int], None],
    batch_size: int = DEFAULT_BATCH_SIZE,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """After an import: poll the source every `interval` seconds and copy its new logs (and, every minute,
    its users, keys and channels) until `keep_going()` is false. `on_copied(rows, last_log_id)` hears of
    every poll that copied something."""
    with db.read_logs() as log_conn:
        position = imports.get_progress(log_conn, source.name)
    if position is None:
        raise Conflict("nothing was imported from this source yet: run the import without --follow first")
    accounts_due = time.monotonic() + ACCOUNT_REFRESH_SECONDS
    while keep_going():
        sleep(interval)
        if time.monotonic() >= accounts_due:
            copy_accounts(db, source, ImportReport(), _Silent())
            accounts_due = time.monotonic() + ACCOUNT_REFRESH_SECONDS
        report = ImportReport()
        position = copy_logs(db, source, position, report, lambda _rows: None, batch_size)
        copied = report.logs + copy_late_logs(db, source, position)
        if copied:
            on_copied(copied, position.last_log_id)
