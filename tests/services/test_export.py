"""The export service and the batches it reads: rows as the driver returns them, and the garbage collector
paused only while a batch is read and encoded, whatever becomes of the export."""

from __future__ import annotations

import gc
import random
import sqlite3
import threading
from collections.abc import Generator, Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest

from tests.store.samples import sample_entries
from tokenledger.domain.export import ExportFormat
from tokenledger.domain.filters import Cursor, LogFilters
from tokenledger.domain.log import LogValues, View
from tokenledger.services import export
from tokenledger.store import logs, migrate
from tokenledger.store.database import Database, DatabaseError

ROWS = 25
BATCH = 10


@pytest.fixture
def stored(db: Database) -> Database:
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(random.Random(5), ROWS))
    return db


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Every test starts with the collector on and leaves it on, whatever it asserts."""
    gc.enable()
    yield
    gc.enable()


def stream(db: Database, export_format: ExportFormat = ExportFormat.CSV) -> Iterator[bytes]:
    options = export.ExportOptions(format=export_format, batch_rows=BATCH)
    return export.stream_logs(db, LogFilters(), View.ADMIN, options)


def test_batches_are_the_drivers_plain_tuples_of_the_listed_rows(stored: Database) -> None:
    with stored.read_logs() as conn:
        listed = logs.list_recent(conn, LogFilters(), ROWS)
        first = logs.list_batch(conn, LogFilters(), None, BATCH)
        last = first[-1]
        second = logs.list_batch(conn, LogFilters(), Cursor(last[2], last[0], 0), ROWS)
    batch = first + second
    assert all(type(values) is tuple for values in batch)
    # `is_stream` may be 0/1 (SQLite, MySQL); every other value is a plain int or str.
    assert {type(values[12]) for values in batch} <= {bool, int}
    assert all(type(value) in (int, str) for values in batch for value in values[:12] + values[13:])
    normalised = [(*values[:12], bool(values[12]), *values[13:]) for values in batch]
    assert normalised == [astuple(entry) for entry in listed]


def test_the_collector_is_paused_while_a_batch_is_read_and_on_between_chunks(
    stored: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    paused_while_reading: list[bool] = []
    original = logs.list_batch

    def watched(conn: Any, filters: LogFilters, after: Cursor | None, limit: int) -> list[LogValues]:
        paused_while_reading.append(not gc.isenabled())
        return original(conn, filters, after, limit)

    monkeypatch.setattr(logs, "list_batch", watched)
    on_between_chunks = [gc.isenabled() for _chunk in stream(stored)]
    assert paused_while_reading == [True, True, True]  # 10 + 10 + 5 rows
    assert on_between_chunks == [True, True, True]
    assert gc.isenabled()


def test_an_abandoned_or_failed_export_leaves_the_collector_on(
    stored: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = stream(stored)
    next(chunks)
    assert isinstance(chunks, Generator)
    chunks.close()
    assert gc.isenabled()

    original = logs.list_batch

    def failing_later(conn: Any, filters: LogFilters, after: Cursor | None, limit: int) -> list[LogValues]:
        if after is not None:
            raise RuntimeError("the log database went away")
        return original(conn, filters, after, limit)

    monkeypatch.setattr(logs, "list_batch", failing_later)
    chunks = stream(stored, ExportFormat.JSONL)
    next(chunks)
    with pytest.raises(RuntimeError, match="went away"):
        next(chunks)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(stored: Database) -> None:
    gc.disable()
    assert b"".join(stream(stored)).count(b"\r\n") == ROWS + 1
    assert not gc.isenabled()


def test_concurrent_exports_resume_the_collector_when_the_last_batch_is_done(
    stored: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two exports read a batch at the same time; the first to finish must not resume the collector
    under the other, and the last must resume it."""
    both_reading = threading.Barrier(2, timeout=10)
    first_done = threading.Event()
    paused_for_second: list[bool] = []
    original = logs.list_batch

    def overlapping(conn: Any, filters: LogFilters, after: Cursor | None, limit: int) -> list[LogValues]:
        rows = original(conn, filters, after, limit)
        if after is None:
            both_reading.wait()
            if threading.current_thread().name == "second":
                first_done.wait(timeout=10)
                paused_for_second.append(not gc.isenabled())
        return rows

    monkeypatch.setattr(logs, "list_batch", overlapping)
    results: dict[str, bytes] = {}

    def run(name: str) -> None:
        chunks = stream(stored)  # reads the first batch now
        if name == "first":
            first_done.set()
        results[name] = b"".join(chunks)

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert paused_for_second == [True]
    assert results["first"] == results["second"]
    assert gc.isenabled()


def test_a_driver_error_while_fetching_is_a_database_error(tmp_path: Path) -> None:
    """Only SQLite reads a query's rows while they are fetched (the servers' drivers hold them all once
    the query has run), so only SQLite can fail there."""
    stored = Database(f"sqlite:///{tmp_path / 'logs.db'}")
    migrate.upgrade(stored)
    with stored.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(random.Random(5), ROWS))
    calls = 0

    def stop_later() -> int:
        # Let the statement start (its first row is read when it is executed), then interrupt it.
        nonlocal calls
        calls += 1
        return calls > 3

    with stored.read_logs() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.set_progress_handler(stop_later, 10)
        try:
            with pytest.raises(DatabaseError, match="interrupted"):
                logs.list_batch(conn, LogFilters(), None, ROWS)
        finally:
            driver.set_progress_handler(None, 0)
    stored.dispose()
