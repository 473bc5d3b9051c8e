"""SQLite's WAL is checkpointed by a thread of its own after commits, not inside them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tokenledger.store.database import SQLITE_CHECKPOINT_PAGES, Connection, Database
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
        checkpointer = WalCheckpointer(db._logs.reader, SQLITE_CHECKPOINT_PAGES, interval=0.01)
        checkpointer._pending = _StopWhileClearing(checkpointer)
        checkpointer.committed()
        thread = checkpointer._thread
        assert thread is not None
        thread.join(timeout=5)
        assert not thread.is_alive(), "the thread waits for a commit after it was told to stop"
        assert checkpointer.checkpoints == 1
    finally:
        db.dispose()


def _wal_frames(path: Path) -> int:
    """Frames in the WAL now (a PASSIVE checkpoint reports them; with nothing left to copy it copies none)."""
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def _insert_rows(conn: Connection, count: int) -> None:
    """`count` rows of 2 KB each: about one WAL frame (page) per two rows."""
    conn.exec_driver_sql(
        "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < ?) "
        "INSERT INTO t SELECT v, zeroblob(2000) FROM n",
        (count,),
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    """A SQLite database with an empty table `t`, and its file."""
    path = tmp_path / "ledger.db"
    db = Database(f"sqlite:///{path}")
    with db.write_logs() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER, filler TEXT)")
    yield db, path
    db.dispose()


def test_a_wal_the_writer_keeps_growing_is_copied_whole_and_restarted(ledger: tuple[Database, Path]) -> None:
    # Writes that never pause: a transaction is open while the checkpoint runs, so a PASSIVE checkpoint
    # cannot copy its frames, and the WAL would never start again from its beginning.
    db, path = ledger
    with db.write_logs() as conn:
        _insert_rows(conn, 200)
    checkpointer = WalCheckpointer(db._logs.reader, restart_frames=50)
    started = threading.Event()

    def write_meanwhile() -> None:
        with db.write_logs() as conn:
            _insert_rows(conn, 200)
            started.set()
            time.sleep(0.3)

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    assert started.wait(5)
    checkpointer.checkpoint()
    writer.join()
    assert checkpointer.restarts == 1
    # The checkpoint waited for that transaction and copied its frames too: the next commit starts the
    # WAL over, so it holds that commit's frames only.
    with db.write_logs() as conn:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (0)")
    assert _wal_frames(path) < 10


def test_a_reader_on_an_old_snapshot_keeps_writers_going(ledger: tuple[Database, Path]) -> None:
    # A long read (a backup, say) needs frames the WAL holds: it cannot start over before the read ends,
    # so the checkpoint copies what it can and does not hold writers back waiting for it.
    db, path = ledger
    with closing(sqlite3.connect(path, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 0
        with db.write_logs() as conn:
            _insert_rows(conn, 200)
        checkpointer = WalCheckpointer(db._logs.reader, restart_frames=50)
        checkpointer.checkpoint()
        assert (checkpointer.checkpoints, checkpointer.restarts) == (1, 0)
        reader.execute("COMMIT")


def test_a_wal_below_the_limit_is_only_copied_as_far_as_it_can_be(ledger: tuple[Database, Path]) -> None:
    db, _path = ledger
    with db.write_logs() as conn:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (1)")
    checkpointer = WalCheckpointer(db._logs.reader, restart_frames=SQLITE_CHECKPOINT_PAGES)
    checkpointer.checkpoint()
    assert (checkpointer.checkpoints, checkpointer.restarts) == (1, 0)
