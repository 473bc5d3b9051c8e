"""Writing what an import brings: accounts overwritten by id, and the copy's position per source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import Connection, func, select, update

from tokenledger.domain.newapi import ImportedChannel, ImportedKey, ImportedUser, ImportProgress
from tokenledger.store import _dialect
from tokenledger.store.schema import channels, import_progress, tokens, users


def upsert_users(conn: Connection, rows: Sequence[ImportedUser]) -> None:
    values = [
        asdict(row.user) | {"access_token_hash": row.access_token_hash, "deleted_at": row.deleted_at} for row in rows
    ]
    _dialect.upsert_replace(conn, users, values)
    _dialect.follow_explicit_ids(conn, users)


def upsert_keys(conn: Connection, rows: Sequence[ImportedKey]) -> None:
    _dialect.upsert_replace(conn, tokens, [asdict(row.key) | {"key_hash": row.key_hash} for row in rows])
    _dialect.follow_explicit_ids(conn, tokens)


def upsert_channels(conn: Connection, rows: Sequence[ImportedChannel]) -> None:
    _dialect.upsert_replace(conn, channels, [asdict(row) for row in rows])
    _dialect.follow_explicit_ids(conn, channels)


def user_ids(conn: Connection) -> set[int]:
    return set(conn.execute(select(users.c.id)).scalars())


def count_rows(conn: Connection) -> dict[str, int]:
    """Rows per core table, for the verification and for refusing a target that holds data of its own."""
    return {
        table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        for table in (users, tokens, channels)
    }


def get_progress(conn: Connection, source: str) -> ImportProgress | None:
    row = conn.execute(select(import_progress).where(import_progress.c.source == source)).mappings().first()
    if row is None:
        return None
    return ImportProgress(
        source=row["source"],
        last_log_id=int(row["last_log_id"]),
        history_copied=bool(row["history_copied"]),
        started_at=int(row["started_at"]),
        updated_at=int(row["updated_at"]),
    )


def any_progress(conn: Connection) -> bool:
    return conn.execute(select(import_progress.c.source).limit(1)).first() is not None


def save_progress(conn: Connection, progress: ImportProgress) -> None:
    values = asdict(progress)
    updated = conn.execute(update(import_progress).where(import_progress.c.source == progress.source).values(**values))
    if updated.rowcount == 0:
        conn.execute(import_progress.insert().values(**values))
