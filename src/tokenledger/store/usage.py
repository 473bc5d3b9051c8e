"""Hourly usage buckets of consume logs (New API's quota_data), maintained as logs are written."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import starmap
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, select

from tokenledger.domain.log import LogEntry, LogType
from tokenledger.domain.usage import UsageBucket
from tokenledger.store import _dialect
from tokenledger.store.schema import quota_data, quota_data_models

HOUR = 3600


def add_consumption(conn: Connection, entries: Sequence[LogEntry]) -> None:
    """Fold consume rows into their (user, model, hour) buckets. Call inside the logs' transaction."""
    buckets: dict[tuple[int, str, int], dict[str, Any]] = {}
    for entry in entries:
        if entry.type != LogType.CONSUME:
            continue
        hour = entry.created_at - entry.created_at % HOUR
        key = (entry.user_id, entry.model_name, hour)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = {
                "user_id": entry.user_id,
                "username": entry.username,
                "model_name": entry.model_name,
                "created_at": hour,
                "count": 0,
                "quota": 0,
                "token_used": 0,
            }
        bucket["count"] += 1
        bucket["quota"] += entry.quota
        bucket["token_used"] += entry.total_tokens
    _add_rows(conn, buckets)


def add_buckets(conn: Connection, buckets: Sequence[UsageBucket]) -> None:
    """Add whole hourly buckets of one user each (usage history copied from another ledger)."""
    rows: dict[tuple[int, str, int], dict[str, Any]] = {}
    for bucket in buckets:
        assert bucket.user_id is not None, "a bucket to add belongs to one user"
        rows[(bucket.user_id, bucket.model_name, bucket.created_at)] = {
            "user_id": bucket.user_id,
            "username": bucket.username or "",
            "model_name": bucket.model_name,
            "created_at": bucket.created_at,
            "count": bucket.count,
            "quota": bucket.quota,
            "token_used": bucket.token_used,
        }
    _add_rows(conn, rows)


_COLUMNS = ("user_id", "model_name", "created_at", "username", "count", "quota", "token_used")
_MODEL_KEY = ("created_at", "model_name")
_SUMMED = ("count", "quota", "token_used")


def _add_rows(conn: Connection, buckets: dict[tuple[int, str, int], dict[str, Any]]) -> None:
    """Add the buckets to quota_data and, summed over their users, to quota_data_models: every change to
    the one is made to the other in the same transaction, so the two always agree."""
    rows = [tuple(bucket[name] for name in _COLUMNS) for bucket in buckets.values()]
    _dialect.upsert_add(
        conn,
        quota_data,
        _COLUMNS,
        rows,
        key=("user_id", "model_name", "created_at"),
        added=_SUMMED,
    )
    models: dict[tuple[int, str], list[int]] = {}
    for bucket in buckets.values():
        key = (bucket["created_at"], bucket["model_name"])
        sums = models.get(key)
        if sums is None:
            sums = models[key] = [0] * len(_SUMMED)
        for i, name in enumerate(_SUMMED):
            sums[i] += bucket[name]
    _dialect.upsert_add(
        conn,
        quota_data_models,
        (*_MODEL_KEY, *_SUMMED),
        [(*key, *sums) for key, sums in models.items()],
        key=_MODEL_KEY,
        added=_SUMMED,
    )


def list_buckets(
    conn: Connection,
    start: int,
    end: int,
    *,
    user_id: int | None = None,
    username: str | None = None,
) -> list[UsageBucket]:
    """Buckets whose hour start lies in [start, end] (0 = unbounded). With a user or username, that user's
    buckets per model and hour (with user fields for a username query); otherwise summed over users."""
    # Read as the driver's tuples, columns in UsageBucket's field order: a heavy user's month is tens of
    # thousands of buckets, and SQLAlchemy's row mappings added a third to the query (14,000 buckets at 1M
    # rows: 63–66 ms against 47).
    query = buckets_query(start, end, user_id=user_id, username=username)
    return list(starmap(UsageBucket, _dialect.driver_rows(conn, query)))


def buckets_json(
    conn: Connection,
    start: int,
    end: int,
    *,
    user_id: int | None = None,
    username: str | None = None,
) -> str:
    """`list_buckets`' buckets as the text of a JSON array of objects named as UsageBucket's fields (user
    fields only where `list_buckets` fills them), without a Python object per value (see
    `_dialect.json_array`): the data endpoints answer with it as it is. A heavy user's month is about
    14,000 buckets; building UsageBucket objects and then dicts for them cost three times as much as
    reading them."""
    return _dialect.json_array(conn, buckets_query(start, end, user_id=user_id, username=username))


def buckets_query(start: int, end: int, *, user_id: int | None = None, username: str | None = None) -> Select[Any]:
    """The query `list_buckets` runs: one range of one index, already in the order returned."""
    if user_id is None and username is None:
        # Summed over users: quota_data_models holds those sums, one row per model and hour, clustered by
        # hour.
        models = quota_data_models.c
        return (
            select(models.model_name, models.created_at, models.count, models.quota, models.token_used)
            .where(*_window(models.created_at, start, end))
            .order_by(models.created_at, models.model_name)
        )
    # A user's or a username's buckets: ix_quota_data_user_hours or ix_quota_data_username_hours hold every
    # column read, so the rows themselves are never fetched. (user, model, hour) is unique, so a user's
    # buckets need no tie-break.
    buckets = quota_data.c
    conditions = _window(buckets.created_at, start, end)
    order = [buckets.created_at, buckets.model_name]
    fields = [buckets.model_name, buckets.created_at, buckets.count, buckets.quota, buckets.token_used]
    if user_id is not None:
        conditions.append(buckets.user_id == user_id)
    if username is not None:
        conditions.append(buckets.username == username)
        order.append(buckets.user_id)  # a name several users have logged under
        fields += [buckets.user_id, buckets.username]
    return select(*fields).where(*conditions).order_by(*order)


def _window(created_at: ColumnElement[int], start: int, end: int) -> list[ColumnElement[bool]]:
    """Conditions for an hour start in [start, end] (0 = unbounded)."""
    conditions: list[ColumnElement[bool]] = []
    if start:
        conditions.append(created_at >= start)
    if end:
        conditions.append(created_at <= end)
    return conditions
