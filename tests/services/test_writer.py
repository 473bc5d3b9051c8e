"""Group commit: concurrent ingest requests share transactions, are acknowledged only once committed, meet
backpressure instead of unbounded queues, and each failure reaches its own caller."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from tests.store.samples import sample_entries
from tokenledger.domain.errors import Busy
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry
from tokenledger.services.writer import SERVER_TRANSACTIONS, LogWriter
from tokenledger.store import logs
from tokenledger.store.database import Database, is_deadlock

DAYS_400 = 400 * 86_400


def _rows(db: Database) -> int:
    with db.read_logs() as conn:
        assert logs.count(conn, LogFilters()) == logs.count_raw(conn, LogFilters())
        return logs.count_raw(conn, LogFilters())


def _batches(count: int, size: int, seed: int = 1) -> list[list[LogEntry]]:
    rng = random.Random(seed)
    return [sample_entries(rng, size) for _ in range(count)]


def test_concurrent_requests_share_transactions_and_are_all_committed(db: Database) -> None:
    batches = _batches(30, 40)

    async def scenario() -> tuple[list[int], LogWriter]:
        writer = LogWriter(db)
        await writer.start()
        try:
            written = await asyncio.gather(*(writer.write(batch) for batch in batches))
        finally:
            await writer.stop()
        return written, writer

    written, writer = asyncio.run(scenario())
    assert written == [40] * 30
    assert _rows(db) == 1200
    assert writer.stats.requests == 30 and writer.stats.rows == 1200
    # Requests that arrived while a transaction ran were committed together.
    assert writer.stats.transactions < 30
    assert writer.stats.largest_batch_rows > 40


class _RolledBack(Exception):
    pass


@contextmanager
def _writes_held(db: Database, like: list[LogEntry]) -> Iterator[threading.Event]:
    """On another thread, hold uncommitted inserts of rows like `like` (same hours and types, so the same
    rollup rows) until the yielded event is set, then roll them back: a writer of such rows waits."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with db.write_logs() as conn:
                logs.insert_logs(conn, like)
                held.set()
                release.wait(30)
                raise _RolledBack
        except _RolledBack:
            pass

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join()


def test_a_full_queue_answers_busy_and_never_grows(db: Database) -> None:
    first, second, third = _batches(3, 60, seed=2)

    async def scenario() -> tuple[int, BaseException | None, int]:
        writer = LogWriter(db, max_queued_rows=100, queue_timeout=0.3)
        await writer.start()
        try:
            with _writes_held(db, first) as release:
                pending = asyncio.create_task(writer.write(first))
                await asyncio.sleep(0.1)  # the writer has taken it and waits for the lock
                refused: BaseException | None = None
                try:
                    await writer.write(second)
                except Busy as exc:
                    refused = exc
                release.set()
                done_first = await pending
            done_third = await writer.write(third)
        finally:
            await writer.stop()
        return done_first, refused, done_third

    done_first, refused, done_third = asyncio.run(scenario())
    assert isinstance(refused, Busy)
    assert "retry" in refused.message
    assert (done_first, done_third) == (60, 60)
    assert _rows(db) == 120


def test_a_failing_request_fails_alone(db: Database) -> None:
    good_a, bad, good_b = _batches(3, 20, seed=3)
    # NULL in a NOT NULL column: every engine refuses the row.
    bad = [replace(bad[0], content=None), *bad[1:]]  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        writer = LogWriter(db)
        await writer.start()
        try:
            return await asyncio.gather(
                writer.write(good_a), writer.write(bad), writer.write(good_b), return_exceptions=True
            )
        finally:
            await writer.stop()

    results = asyncio.run(scenario())
    assert results[0] == 20 and results[2] == 20
    assert isinstance(results[1], Exception)
    assert _rows(db) == 40


def test_stop_writes_everything_accepted(db: Database) -> None:
    batches = _batches(10, 25, seed=4)

    async def scenario() -> list[int]:
        writer = LogWriter(db)
        await writer.start()
        tasks = [asyncio.create_task(writer.write(batch)) for batch in batches]
        await asyncio.sleep(0)
        await writer.stop()
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == [25] * 10
    assert _rows(db) == 250


def test_on_a_server_a_batch_commits_while_another_waits_for_a_lock(db: Database) -> None:
    """On PostgreSQL and MySQL two write transactions run at once: a batch whose rollup rows another
    transaction holds waits for them, and a batch of other users and hours commits meanwhile. SQLite
    writes one transaction at a time."""
    writer = LogWriter(db)
    if db.log_backend == "sqlite":
        assert writer.transactions == 1
        return
    assert writer.transactions == SERVER_TRANSACTIONS == 2
    blocked = sample_entries(random.Random(5), 30)
    # Other users, 400 days later: no row of any table in common with `blocked`.
    other = [
        replace(
            entry,
            user_id=entry.user_id + 100,
            username=f"other-{entry.user_id}",
            created_at=entry.created_at + DAYS_400,
        )
        for entry in sample_entries(random.Random(6), 20)
    ]

    async def scenario() -> tuple[int, bool, int]:
        await writer.start()
        try:
            with _writes_held(db, blocked) as release:
                waiting = asyncio.create_task(writer.write(blocked))
                await asyncio.sleep(0.2)  # the writer has taken it and waits for the held rows
                done_other = await asyncio.wait_for(writer.write(other), 20)
                still_waiting = not waiting.done()
                release.set()
                done_blocked = await waiting
        finally:
            await writer.stop()
        return done_other, still_waiting, done_blocked

    done_other, still_waiting, done_blocked = asyncio.run(scenario())
    assert (done_other, still_waiting, done_blocked) == (20, True, 30)
    assert _rows(db) == 50


def _deadlock(db: Database) -> DBAPIError:
    """A real deadlock: two transactions each update a row of a scratch table, then the other's row. The
    server rolls one back; its error is returned."""
    table = "writer_deadlock_probe"
    with db.write_logs() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")  # left by an interrupted run
        conn.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        conn.exec_driver_sql(f"INSERT INTO {table} (id, v) VALUES (1, 0), (2, 0)")
    both_hold_one = threading.Barrier(2, timeout=10)
    failures: list[DBAPIError] = []

    def cross(first: int, second: int) -> None:
        try:
            with db.write_logs() as conn:
                conn.exec_driver_sql(f"UPDATE {table} SET v = v + 1 WHERE id = {first}")
                both_hold_one.wait()
                conn.exec_driver_sql(f"UPDATE {table} SET v = v + 1 WHERE id = {second}")
        except DBAPIError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=cross, args=pair) for pair in ((1, 2), (2, 1))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        with db.write_logs() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
    assert len(failures) == 1, failures
    return failures[0]


def test_a_transaction_rolled_back_to_break_a_deadlock_is_written_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's deadlock error is recognised (and no other error is), and the writer runs such a
    transaction again instead of failing its requests."""
    if db.log_backend == "sqlite":
        assert not is_deadlock(DBAPIError("INSERT", None, sqlite3.OperationalError("database is locked")))
        return
    deadlock = _deadlock(db)
    assert is_deadlock(deadlock)
    with pytest.raises(DBAPIError) as not_null, db.write_logs() as conn:
        logs.insert_logs(conn, [replace(sample_entries(random.Random(7), 1)[0], content=None)])  # type: ignore[arg-type]
    assert not is_deadlock(not_null.value)

    real_insert, calls = logs.insert_logs, []

    def deadlocked_once(conn: Any, entries: Any) -> int:
        calls.append(len(entries))
        if len(calls) == 1:
            raise deadlock
        return real_insert(conn, entries)

    monkeypatch.setattr(logs, "insert_logs", deadlocked_once)
    batch = sample_entries(random.Random(8), 25)

    async def scenario() -> int:
        writer = LogWriter(db)
        await writer.start()
        try:
            return await writer.write(batch)
        finally:
            await writer.stop()

    assert asyncio.run(scenario()) == 25
    assert calls == [25, 25]
    assert _rows(db) == 25
