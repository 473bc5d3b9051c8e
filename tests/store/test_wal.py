"""SQLite's WAL is checkpointed by a thread of its own after commits, not inside them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tokenledger.store.database import SQLITE_CHECKPOINT_PAGES, Database
from tokenledger.store.wal import WalCheckpointer


def _rows_in_file(path: Path) -> int:
    """Rows of `t` as the database file itself holds them, ignoring the WAL (immutable=1 reads the file
    only): what a checkpoint has copied so far; -1 while a checkpoint is midway through writing the file
    (immutable=1 takes no lock, so such a read can see a malformed file)."""
    try:
        # closing(): sqlite3's own context manager ends a transaction but leaves the connection open.
        with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as conn:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0]
            return int(conn.execute("SELECT count(*) FROM t").fetchone()[0]) if tables else 0
    except sqlite3.DatabaseError:
        return -1


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_commits_reach_the_database_file_through_the_checkpoint_thread(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    db = Database(f"sqlite:///{path}")
    try:
        checkpointer = db._logs.checkpointer
        assert isinstance(checkpointer, WalCheckpointer)
        with db.write_logs() as conn:
            conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        for n in range(50):
            with db.write_logs() as conn:
                conn.exec_driver_sql("INSERT INTO t (n) VALUES (?)", (n,))
        # Far below SQLite's own checkpoint limit: only the thread copies these pages into the file.
        with db.write_logs() as conn:
            assert int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()) == SQLITE_CHECKPOINT_PAGES
        assert _wait_for(lambda: _rows_in_file(path) == 50), "the commits never reached the database file"
        # The thread counts a checkpoint once it has returned, a moment after the pages reach the file.
        assert _wait_for(lambda: checkpointer.checkpoints >= 1)
    finally:
        db.dispose()


def test_disposing_the_database_stops_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    db = Database(f"sqlite:///{path}")
    checkpointer = db._logs.checkpointer
    assert checkpointer is not None
    with db.write_logs() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    thread = checkpointer._thread
    assert thread is not None and thread.is_alive()
    db.dispose()
    assert not thread.is_alive()
    # A commit after stop() starts no new thread.
    checkpointer.committed()
    assert checkpointer._thread is thread


def test_an_in_memory_database_has_no_checkpoint_thread() -> None:
    db = Database("sqlite://")
    try:
        assert db._logs.checkpointer is None
    finally:
        db.dispose()


class _StopWhileClearing(threading.Event):
    """`_pending` as stop() finds it at the worst moment: right after the interval's wait, before the thread
    clears the wake-up stop() just gave."""

    def __init__(self, checkpointer: WalCheckpointer) -> None:
        super().__init__()
        self.checkpointer = checkpointer

    def clear(self) -> None:
        self.checkpointer._stopping.set()
        self.set()
        super().clear()


def test_a_stop_that_lands_while_the_thread_clears_its_wake_up_still_stops_it(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        checkpointer = WalCheckpointer(db._logs.reader, interval=0.01)
        checkpointer._pending = _StopWhileClearing(checkpointer)
        checkpointer.committed()
        thread = checkpointer._thread
        assert thread is not None
        thread.join(timeout=5)
        assert not thread.is_alive(), "the thread waits for a commit after it was told to stop"
        assert checkpointer.checkpoints == 1
    finally:
        db.dispose()
