"""Upstream channels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from tokenledger.domain import credentials
from tokenledger.domain.channel import Channel
from tokenledger.domain.filters import Page, PageRequest
from tokenledger.store.schema import channels


def _channel(row: Row[Any]) -> Channel:
    return Channel(
        id=row.id,
        name=row.name,
        type=row.type,
        base_url=row.base_url,
        key_hint=credentials.mask(row.key),
        models=row.models,
        group=row.group,
        status=row.status,
        created_at=row.created_at,
    )


def get(conn: Connection, channel_id: int) -> Channel | None:
    row = conn.execute(select(channels).where(channels.c.id == channel_id)).first()
    return _channel(row) if row else None


def names(conn: Connection) -> dict[int, str]:
    """Every channel's current name by id: few rows, read once per request instead of a join, so logs
    can live in another database than channels."""
    return {row.id: row.name for row in conn.execute(select(channels.c.id, channels.c.name))}


def insert_channel(conn: Connection, **values: Any) -> Channel:
    new_id = conn.execute(insert(channels).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    created = get(conn, int(new_id))
    assert created is not None
    return created


def update_channel(conn: Connection, channel_id: int, **changes: Any) -> None:
    if changes:
        conn.execute(update(channels).where(channels.c.id == channel_id).values(**changes))


def delete_channel(conn: Connection, channel_id: int) -> bool:
    return bool(conn.execute(delete(channels).where(channels.c.id == channel_id)).rowcount)


def list_page(conn: Connection, page: PageRequest) -> Page[Channel]:
    total = int(conn.execute(select(func.count()).select_from(channels)).scalar_one())
    rows = conn.execute(select(channels).order_by(channels.c.id.desc()).limit(page.page_size).offset(page.offset))
    return Page(items=[_channel(r) for r in rows], total=total, page=page.page, page_size=page.page_size)
