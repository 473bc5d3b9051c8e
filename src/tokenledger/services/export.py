"""Exporting logs: every matching row, newest first, as CSV or JSON Lines, in chunks of bytes.

Rows are read in keyset batches (created_at, id), each batch in a short read transaction of its own, so an
export of any size holds neither a snapshot nor more than one batch in memory. The price: rows written or
deleted while an export runs may or may not be in it (a row is never repeated or skipped otherwise, as the
keyset only moves towards older rows).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from tokenledger.domain.export import ExportFormat, make_encoder
from tokenledger.domain.filters import Cursor, LogFilters
from tokenledger.domain.log import View
from tokenledger.services import ledger
from tokenledger.store import logs
from tokenledger.store.database import Database

DEFAULT_BATCH_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How to write the rows: the format, the time zone of the CSV `time` column, and how many rows each
    read transaction (and each chunk) holds (None: DEFAULT_BATCH_ROWS)."""

    format: ExportFormat = ExportFormat.CSV
    tz: tzinfo = field(default=UTC)
    batch_rows: int | None = None


def count_rows(db: Database, filters: LogFilters) -> int:
    """How many rows an export with these filters would write now (the exact count, from the rollups
    where they cover the filters)."""
    with db.read_logs() as conn:
        return logs.count(conn, filters)


class _CollectorPause:
    """Pauses Python's cyclic garbage collector while export batches are read and encoded, and resumes it
    when the last of them (across concurrent exports) is done, unless it was off already.

    A batch is thousands of row tuples alive at once: the collector would run several times per batch
    to find no garbage (the tuples hold only numbers and strings, and die by reference counting when the
    batch is encoded), costing about a tenth of an export. Every pause is a `with` block around one
    batch, never around a `yield`, so an export abandoned mid-way cannot leave the collector off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


_collector_paused = _CollectorPause()


def stream_logs(
    db: Database,
    filters: LogFilters,
    view: View,
    options: ExportOptions,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The export as chunks of UTF-8: the header (CSV) with the first batch, then one chunk per batch.
    The channel names and the first batch are read before this returns, so a database failure is raised
    here, before anything is sent, rather than cutting a download short. `on_rows` hears how many rows
    each chunk holds."""
    batch_rows = options.batch_rows or DEFAULT_BATCH_ROWS
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    encoder = make_encoder(options.format, view, ledger.channel_names(db, view), options.tz)

    def batch(after: Cursor | None, position: int) -> tuple[bytes, int, Cursor | None]:
        """The chunk of the batch after `after`, its row count, and the cursor of the next batch (None
        after a short batch: there is none)."""
        with _collector_paused():
            with db.read_logs() as conn:
                rows = logs.list_batch(conn, filters, after, batch_rows)
            text = encoder.encode(rows, position)
            count = len(rows)
            following = None
            if count == batch_rows:
                log_id, _user_id, created_at, *_rest = rows[-1]
                following = Cursor(created_at, log_id, 0)
            # Freed before the collector resumes, the rows never count towards its next collection.
            del rows
        return text.encode("utf-8"), count, following

    first = batch(None, 1)

    def chunks() -> Iterator[bytes]:
        chunk, rows, following = first
        chunk = encoder.header().encode("utf-8") + chunk
        position = 1
        while True:
            if chunk:  # empty for a batch without rows, unless the CSV header goes with it
                yield chunk
                if rows and on_rows is not None:
                    on_rows(rows)
            if following is None:
                return
            position += rows
            chunk, rows, following = batch(following, position)

    return chunks()
