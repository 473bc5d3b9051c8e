"""SQLite's write-ahead log, checkpointed on a thread of its own.

A commit appends the pages it changed to the WAL; a checkpoint copies them into the database file. Left
to SQLite, the checkpoint runs inside whichever commit pushes the WAL past its limit, so that commit (and
every ingest request waiting on it) also pays for writing and syncing thousands of pages into the file:
at 1,000 logs per transaction that was 58 of 145 ms. Here a daemon thread runs a PASSIVE checkpoint
shortly after commits instead (PASSIVE never waits for readers or blocks the writer), while SQLite's own
automatic checkpoint stays on at a higher limit, as a safety net for when the thread falls behind.

Commits within one `interval` share one checkpoint, so a page changed by many of them is copied once.

A PASSIVE checkpoint never waits, so under writes that never pause it can lose the race for good: the
WAL restarts from its beginning only when a checkpoint has copied every frame, but the writer appends
new frames while the checkpoint copies, and SQLite's own checkpoint gives up whenever this thread's is
running. The larger the WAL, the longer each checkpoint, the more frames arrive meanwhile: loading 10M
logs grew the WAL to 71 GB, more than 3.6M rows in, until the disk was full. So once the WAL has grown
to `restart_frames` frames without starting over, the thread takes a RESTART checkpoint: it waits for the
writer's transaction to end, holds back the next one while it copies the rest (backpressure on ingest,
for the moment it takes), and the next commit starts the WAL from its beginning. Only when the PASSIVE
checkpoint copied every frame it found, though: otherwise a reader still needs old frames (a long read,
or a backup), the WAL cannot start over before it ends, and a RESTART would only hold writers back
while it waited. Its wait is capped at RESTART_WAIT_MS all the same.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_SECONDS = 0.5
# How long a RESTART checkpoint may hold writers back while it waits for readers and the writer.
RESTART_WAIT_MS = 1_000


class WalCheckpointer:
    """Checkpoints the database of `engine` after commits. `engine` is a SQLite file engine whose
    connections keep a small page cache (the readers': a checkpoint needs none, and a second writer
    connection would hold a second copy of the writer's large cache). `committed()` is cheap and safe to
    call from any thread; the thread starts with the first commit."""

    def __init__(self, engine: Engine, restart_frames: int, interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._restart_frames = restart_frames
        self._interval = interval
        self._pending = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        self.restarts = 0  # RESTART checkpoints taken, whether or not their wait ran out

    def committed(self) -> None:
        """Note a commit: a checkpoint follows within `interval` seconds."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping.is_set():
                    self._thread = threading.Thread(target=self._run, name="tokenledger-wal-checkpoint", daemon=True)
                    self._thread.start()
        self._pending.set()

    def stop(self) -> None:
        """Stop the thread (after the checkpoint it may be running). Later commits start none."""
        with self._lock:
            self._stopping.set()
            self._pending.set()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        # Checked on every turn: a stop() that lands between the interval's wait and clearing `_pending`
        # has its wake-up cleared, and the thread would otherwise wait for a commit that never comes.
        while not self._stopping.is_set():
            self._pending.wait()
            # Let the commits of the next moment join this checkpoint; stop() cuts the wait short.
            if self._stopping.wait(self._interval):
                return
            self._pending.clear()
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database file, as far as no reader still needs it; when the
        WAL has grown to `restart_frames` frames, copy it all, waiting for the writer, so that the WAL
        starts again from its beginning."""
        try:
            connection = self._engine.raw_connection()
            try:
                cursor = connection.cursor()
                _busy, frames, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames >= self._restart_frames and copied == frames:
                    self._restart(cursor)
            finally:
                connection.close()
        except (sqlite3.Error, DBAPIError) as exc:
            # The next checkpoint, or SQLite's own, tries again; a broken database fails the next commit.
            log.warning("WAL checkpoint failed: %s", exc)
            return
        self.checkpoints += 1

    def _restart(self, cursor: Any) -> None:
        """A RESTART checkpoint on this pooled reader connection, its busy timeout capped meanwhile."""
        busy_timeout = int(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout={min(busy_timeout, RESTART_WAIT_MS)}")
        self.restarts += 1
        try:
            # Busy when the wait ran out: the next checkpoint tries again.
            cursor.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
