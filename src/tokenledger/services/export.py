"""Exporting logs: every matching row, newest first, as CSV or JSON Lines, in chunks of bytes.

Rows are read in keyset batches (created_at, id), each batch in a short read transaction of its own, so an
export of any size holds neither a snapshot nor more than one batch in memory. The price: rows written or
deleted while an export runs may or may not be in it (a row is never repeated or skipped otherwise, as the
keyset only moves towards older rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from tokenledger.domain.export import ExportFormat, LogValues, make_encoder
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


def _batches(db: Database, filters: LogFilters, batch_rows: int) -> Iterator[list[LogValues]]:
    after: Cursor | None = None
    while True:
        with db.read_logs() as conn:
            rows = logs.list_batch(conn, filters, after, batch_rows)
        if not rows:
            return
        yield rows
        if len(rows) < batch_rows:
            return
        log_id, _user_id, created_at, *_rest = rows[-1]
        after = Cursor(created_at, log_id, 0)


def stream_logs(
    db: Database,
    filters: LogFilters,
    view: View,
    options: ExportOptions,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The export as chunks of UTF-8: the header (CSV), then one chunk per batch. The channel names and
    the first batch are read before this returns, so a database failure is raised here, before anything
    is sent, rather than cutting a download short. `on_rows` hears how many rows each chunk holds."""
    batch_rows = options.batch_rows or DEFAULT_BATCH_ROWS
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    encoder = make_encoder(options.format, view, ledger.channel_names(db, view), options.tz)
    batches = _batches(db, filters, batch_rows)
    first = next(batches, [])

    def chunks() -> Iterator[bytes]:
        head = encoder.header()
        position = 1
        for rows in _prepend(first, batches):
            text = encoder.encode(rows, position)
            position += len(rows)
            yield (head + text).encode("utf-8")
            head = ""
            if on_rows is not None:
                on_rows(len(rows))
        if head:  # no rows at all: the CSV header on its own
            yield head.encode("utf-8")

    return chunks()


def _prepend(first: list[LogValues], rest: Iterator[list[LogValues]]) -> Iterator[list[LogValues]]:
    if first:
        yield first
        yield from rest
