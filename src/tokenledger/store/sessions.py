"""Login sessions, kept server side so that logout (or disabling a user) really ends them."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from tokenledger.store.schema import sessions


def insert_session(conn: Connection, id_digest: str, user_id: int, now: int, expires_at: int) -> None:
    conn.execute(insert(sessions).values(id_hash=id_digest, user_id=user_id, created_at=now, expires_at=expires_at))


def get_user_id(conn: Connection, id_digest: str, now: int) -> int | None:
    row = conn.execute(
        select(sessions.c.user_id).where(sessions.c.id_hash == id_digest, sessions.c.expires_at > now)
    ).first()
    return int(row.user_id) if row else None


def delete_session(conn: Connection, id_digest: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.id_hash == id_digest))


def delete_for_user(conn: Connection, user_id: int) -> None:
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def delete_expired(conn: Connection, now: int) -> int:
    return int(conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount)
