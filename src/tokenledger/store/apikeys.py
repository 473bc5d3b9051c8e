"""API keys (the `tokens` table): stored as a SHA-256 digest plus a masked hint, never in clear."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from tokenledger.domain.apikey import ApiKey
from tokenledger.domain.filters import Page, PageRequest
from tokenledger.store.schema import tokens


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        key_hint=row.key_hint,
        status=row.status,
        created_at=row.created_at,
        accessed_at=row.accessed_at,
        expired_time=row.expired_time,
        remain_quota=row.remain_quota,
        unlimited_quota=bool(row.unlimited_quota),
        used_quota=row.used_quota,
        group=row.group,
        ingest=bool(row.ingest),
    )


def get(conn: Connection, key_id: int, user_id: int) -> ApiKey | None:
    """The key with this id if `user_id` owns it."""
    row = conn.execute(select(tokens).where(tokens.c.id == key_id, tokens.c.user_id == user_id)).first()
    return _key(row) if row else None


def get_by_digest(conn: Connection, key_digest: str) -> ApiKey | None:
    row = conn.execute(select(tokens).where(tokens.c.key_hash == key_digest)).first()
    return _key(row) if row else None


def insert_key(conn: Connection, **values: Any) -> ApiKey:
    """Insert a key row; `values` name schema columns (`key_hash` and `key_hint` included)."""
    new_id = conn.execute(insert(tokens).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    row = conn.execute(select(tokens).where(tokens.c.id == new_id)).one()
    return _key(row)


def update_key(conn: Connection, key_id: int, user_id: int, **changes: Any) -> None:
    if changes:
        conn.execute(update(tokens).where(tokens.c.id == key_id, tokens.c.user_id == user_id).values(**changes))


def delete_key(conn: Connection, key_id: int, user_id: int) -> bool:
    result = conn.execute(delete(tokens).where(tokens.c.id == key_id, tokens.c.user_id == user_id))
    return bool(result.rowcount)


def list_page(conn: Connection, user_id: int, page: PageRequest) -> Page[ApiKey]:
    owned = tokens.c.user_id == user_id
    total = int(conn.execute(select(func.count()).select_from(tokens).where(owned)).scalar_one())
    rows = conn.execute(
        select(tokens).where(owned).order_by(tokens.c.id.desc()).limit(page.page_size).offset(page.offset)
    )
    return Page(items=[_key(r) for r in rows], total=total, page=page.page, page_size=page.page_size)


def list_for_users(conn: Connection, user_ids: list[int]) -> list[ApiKey]:
    rows = conn.execute(select(tokens).where(tokens.c.user_id.in_(user_ids)).order_by(tokens.c.id))
    return [_key(r) for r in rows]
