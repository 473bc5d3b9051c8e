"""Users: lookup by id, name or access-token digest; create, update, soft delete."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tokenledger.domain.errors import Conflict
from tokenledger.domain.filters import Page, PageRequest
from tokenledger.domain.user import User
from tokenledger.store import _dialect
from tokenledger.store.schema import users

_live = users.c.deleted_at.is_(None)


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        status=row.status,
        email=row.email,
        quota=row.quota,
        used_quota=row.used_quota,
        request_count=row.request_count,
        group=row.group,
        created_at=row.created_at,
        password_hash=row.password_hash,
    )


def get(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(users).where(users.c.id == user_id, _live)).first()
    return _user(row) if row else None


def get_by_username(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(users).where(users.c.username == username, _live)).first()
    return _user(row) if row else None


def usernames_by_id(conn: Connection, user_ids: Collection[int]) -> dict[int, str]:
    """The usernames of the live users among `user_ids`, in one query per IN list of ids. (Ingest resolves
    a thousand records' users per batch: two columns, not whole users.)"""
    return dict(_pairs(conn, users.c.id, users.c.username, sorted(user_ids)))


def ids_by_username(conn: Connection, usernames: Collection[str]) -> dict[str, int]:
    """The ids of the live users among `usernames`, in one query per IN list of names."""
    return dict(_pairs(conn, users.c.username, users.c.id, sorted(usernames)))


def _pairs(conn: Connection, key: Any, value: Any, keys: list[Any]) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    for chunk in _dialect.in_chunks(keys):
        found.extend((row[0], row[1]) for row in conn.execute(select(key, value).where(key.in_(chunk), _live)))
    return found


def get_by_access_token(conn: Connection, token_digest: str) -> User | None:
    row = conn.execute(select(users).where(users.c.access_token_hash == token_digest, _live)).first()
    return _user(row) if row else None


def count_all(conn: Connection) -> int:
    """Every user row ever created, deleted ones included (an empty table means a first start)."""
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def insert_user(
    conn: Connection,
    *,
    username: str,
    password_hash: str,
    display_name: str,
    role: int,
    quota: int,
    group: str,
    created_at: int,
    user_id: int | None = None,
) -> User:
    """Create a user. Raises Conflict when the username is taken (deleted users keep theirs reserved)."""
    values: dict[str, Any] = {
        "username": username,
        "password_hash": password_hash,
        "display_name": display_name,
        "role": role,
        "quota": quota,
        "group": group,
        "created_at": created_at,
    }
    if user_id is not None:
        values["id"] = user_id
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(users).values(**values)).inserted_primary_key[0]  # type: ignore[index]
            if user_id is not None:
                _dialect.follow_explicit_ids(conn, users)
    except IntegrityError:
        raise Conflict(f"username {username!r} is already taken") from None
    created = get(conn, int(new_id))
    assert created is not None
    return created


def update_user(conn: Connection, user_id: int, **changes: Any) -> None:
    """Change columns of a live user (names as in the schema)."""
    if changes:
        conn.execute(update(users).where(users.c.id == user_id, _live).values(**changes))


def add_quota(conn: Connection, user_id: int, amount: int) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(quota=users.c.quota + amount))


def set_access_token(conn: Connection, user_id: int, token_digest: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(access_token_hash=token_digest))


def soft_delete(conn: Connection, user_id: int, now: int) -> None:
    """Mark deleted: the row stays so its id and name are never reused and its logs stay attributable."""
    conn.execute(update(users).where(users.c.id == user_id).values(deleted_at=now, access_token_hash=None, status=2))


def hard_delete(conn: Connection, user_id: int) -> None:
    """Remove the row itself: only for a user nothing refers to yet (the first start's root, before an
    import brings the gateway's own users)."""
    conn.execute(delete(users).where(users.c.id == user_id))


def list_page(conn: Connection, page: PageRequest, keyword: str | None = None) -> Page[User]:
    conditions: list[ColumnElement[bool]] = [_live]
    if keyword:
        conditions.append(users.c.username.contains(keyword, autoescape=True))
    total = int(conn.execute(select(func.count()).select_from(users).where(*conditions)).scalar_one())
    rows = conn.execute(
        select(users).where(*conditions).order_by(users.c.id.desc()).limit(page.page_size).offset(page.offset)
    )
    return Page(items=[_user(r) for r in rows], total=total, page=page.page, page_size=page.page_size)
