"""Reading a New API (or one-api) database: users, tokens, channels, logs and quota_data, as their GORM
models define them on SQLite, PostgreSQL or MySQL.

Columns are discovered at run time (versions differ: `ip`, `request_id`, `deleted_at`, `users.created_at`
come and go), so a column a version lacks reads as its default. Nothing is ever written to the source;
SQLite files are opened read-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, Float, Integer, MetaData, Numeric, Table, create_engine, func, select
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import DBAPIError, NoSuchTableError

from tokenledger.domain import credentials, newapi, timestamps
from tokenledger.domain.apikey import ApiKey
from tokenledger.domain.errors import Invalid
from tokenledger.domain.log import (
    MAX_CONTENT,
    MAX_GROUP,
    MAX_IP,
    MAX_MODEL_NAME,
    MAX_OTHER,
    MAX_REQUEST_ID,
    MAX_TOKEN_NAME,
    MAX_USERNAME,
    LogEntry,
    LogType,
)
from tokenledger.domain.newapi import ImportedChannel, ImportedKey, ImportedUser, UserTotals, fit
from tokenledger.domain.usage import UsageBucket
from tokenledger.domain.user import User
from tokenledger.store import dsn
from tokenledger.store.database import describe_database_error, server_engine
from tokenledger.store.logs import totals_by_user

REQUIRED_TABLES = ("users", "tokens", "logs")
OPTIONAL_TABLES = ("channels", "quota_data")


def _read_only_engine(url: str) -> Engine:
    if dsn.backend_of(url) != "sqlite":
        return server_engine(url)
    path = make_url(url).database or ""

    def connect() -> sqlite3.Connection:
        # mode=ro: a live New API keeps writing this file; we must not change it (not even its journal mode).
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    return create_engine("sqlite://", creator=connect)


def _plain_numbers(inspector: Inspector, _table: Table, column: dict[str, Any]) -> None:
    """GORM makes Go booleans `numeric` columns on SQLite, which would read as Decimal: read them as ints."""
    if (
        inspector.dialect.name == "sqlite"
        and isinstance(column["type"], Numeric)
        and not isinstance(column["type"], Float)
    ):
        column["type"] = Integer()


class NewApiSource:
    """A New API database (`SQL_DSN`) and, when its logs live elsewhere, its `LOG_SQL_DSN`."""

    def __init__(self, url: str, log_url: str | None = None) -> None:
        self.url = dsn.normalize_url(url, "--from")
        self.log_url = dsn.normalize_url(log_url, "--from-logs") if log_url else self.url
        self.name = dsn.safe_url(self.url)
        self._core = _read_only_engine(self.url)
        self._logs = _read_only_engine(self.log_url) if log_url else self._core
        self._tables: dict[str, Table] = {}

    def open(self) -> None:
        """Connect and find the tables. Raises Invalid when the database is unreachable or not New API's."""
        for engine, url, names, setting in (
            (self._core, self.url, ("users", "tokens", "channels", "quota_data"), "--from"),
            (self._logs, self.log_url, ("logs",), "--from-logs" if self._logs is not self._core else "--from"),
        ):
            metadata = MetaData()
            for name in names:
                try:
                    self._tables[name] = Table(
                        name, metadata, autoload_with=engine, listeners=[("column_reflect", _plain_numbers)]
                    )
                except NoSuchTableError:
                    if name in REQUIRED_TABLES:
                        raise Invalid(
                            f"{setting} ({dsn.safe_url(url)}) has no {name!r} table: "
                            "is it a New API or one-api database?"
                        ) from None
                except DBAPIError as exc:
                    cause = describe_database_error(exc)
                    raise Invalid(f"cannot read the New API database of {setting}: {cause}") from None

    def dispose(self) -> None:
        self._core.dispose()
        self._logs.dispose()

    def _table(self, name: str) -> Table:
        return self._tables[name]

    def has(self, name: str) -> bool:
        return name in self._tables

    def _rows(self, engine: Engine, table: Table, batch_size: int) -> Iterator[RowMapping]:
        """Every row of a table in id order, read in keyset batches."""
        after = 0
        while True:
            with engine.connect() as conn:
                batch = list(
                    conn.execute(
                        select(table).where(table.c.id > after).order_by(table.c.id).limit(batch_size)
                    ).mappings()
                )
            yield from batch
            if len(batch) < batch_size:
                return
            after = batch[-1]["id"]

    def count(self, name: str) -> int:
        if not self.has(name):
            return 0
        engine = self._logs if name == "logs" else self._core
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self._table(name))).scalar_one())

    def count_live_keys(self) -> int:
        """API keys not soft-deleted."""
        tokens = self._table("tokens")
        query = select(func.count()).select_from(tokens)
        if "deleted_at" in tokens.c:
            query = query.where(tokens.c.deleted_at.is_(None))
        with self._core.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- accounts ------------------------------------------------------------------------------------

    def users(self, batch_size: int = 1000) -> Iterator[ImportedUser]:
        now = timestamps.now()
        for row in self._rows(self._core, self._table("users"), batch_size):
            status = int(row.get("status") or 1)
            user = User(
                id=int(row["id"]),
                username=fit(row["username"], MAX_USERNAME),
                password_hash=row.get("password") or "",
                display_name=fit(row.get("display_name"), 64),
                role=int(row.get("role") or 1),
                status=newapi.user_status(status),
                email=fit(row.get("email"), 255),
                quota=int(row.get("quota") or 0),
                used_quota=int(row.get("used_quota") or 0),
                request_count=int(row.get("request_count") or 0),
                group=fit(row.get("group") or "default", MAX_GROUP),
                created_at=int(row.get("created_at") or row.get("created_time") or 0),
            )
            yield ImportedUser(
                user,
                access_token_hash=newapi.access_token_hash(row.get("access_token")),
                deleted_at=newapi.deletion_time(row.get("deleted_at"), status, now),
            )

    def api_keys(self, batch_size: int = 1000) -> Iterator[ImportedKey]:
        """Live API keys; soft-deleted ones are left behind."""
        for row in self._rows(self._core, self._table("tokens"), batch_size):
            if newapi.unix_seconds(row.get("deleted_at")) is not None:
                continue
            secret = newapi.key_secret(row["key"] or "")
            key = ApiKey(
                id=int(row["id"]),
                user_id=int(row["user_id"]),
                name=fit(row.get("name"), MAX_TOKEN_NAME),
                key_hint=credentials.mask(secret),
                status=int(row.get("status") or 1),
                created_at=int(row.get("created_time") or 0),
                accessed_at=int(row.get("accessed_time") or 0),
                expired_time=int(row["expired_time"] if row.get("expired_time") is not None else -1),
                remain_quota=int(row.get("remain_quota") or 0),
                unlimited_quota=bool(row.get("unlimited_quota")),
                used_quota=int(row.get("used_quota") or 0),
                group=fit(row.get("group"), MAX_GROUP),
                ingest=False,
            )
            yield ImportedKey(key, key_hash=credentials.digest(secret))

    def channels(self, batch_size: int = 1000) -> Iterator[ImportedChannel]:
        if not self.has("channels"):
            return
        for row in self._rows(self._core, self._table("channels"), batch_size):
            yield ImportedChannel(
                id=int(row["id"]),
                name=fit(row.get("name"), 128),
                type=int(row.get("type") or 0),
                base_url=fit(row.get("base_url"), 255),
                key=row.get("key") or "",
                models=row.get("models") or "",
                group=fit(row.get("group") or "default", 255),
                status=int(row.get("status") or 1),
                created_at=int(row.get("created_time") or 0),
            )

    # --- logs and usage ------------------------------------------------------------------------------

    def _entry(self, mapping: RowMapping) -> LogEntry:
        row = dict(mapping)  # a plain dict: RowMapping's lookups cost more than the rest of the mapping
        return LogEntry(
            id=int(row["id"]),
            user_id=int(row["user_id"] or 0),
            created_at=int(row["created_at"] or 0),
            type=int(row["type"] or 0),
            content=fit(row.get("content"), MAX_CONTENT),
            username=fit(row.get("username"), MAX_USERNAME),
            token_name=fit(row.get("token_name"), MAX_TOKEN_NAME),
            model_name=fit(row.get("model_name"), MAX_MODEL_NAME),
            quota=int(row.get("quota") or 0),
            prompt_tokens=int(row.get("prompt_tokens") or 0),
            completion_tokens=int(row.get("completion_tokens") or 0),
            use_time=int(row.get("use_time") or 0),
            is_stream=bool(row.get("is_stream")),
            channel=int(row.get("channel_id") or 0),
            token_id=int(row.get("token_id") or 0),
            group=fit(row.get("group"), MAX_GROUP),
            ip=fit(row.get("ip"), MAX_IP),
            request_id=fit(row.get("request_id"), MAX_REQUEST_ID),
            upstream_request_id=fit(row.get("upstream_request_id"), MAX_REQUEST_ID),
            other=fit(row.get("other"), MAX_OTHER),
        )

    def logs_after(self, after_id: int, limit: int) -> list[LogEntry]:
        """Up to `limit` logs with ids above `after_id`, in id order."""
        logs = self._table("logs")
        with self._logs.connect() as conn:
            rows = conn.execute(select(logs).where(logs.c.id > after_id).order_by(logs.c.id).limit(limit))
            return [self._entry(row) for row in rows.mappings()]

    def logs_by_id(self, ids: Sequence[int]) -> list[LogEntry]:
        logs = self._table("logs")
        with self._logs.connect() as conn:
            rows = conn.execute(select(logs).where(logs.c.id.in_(list(ids))).order_by(logs.c.id))
            return [self._entry(row) for row in rows.mappings()]

    def log_ids_between(self, above: int, up_to: int) -> list[int]:
        """Ids in (above, up_to]: to find rows that committed after higher ids had been copied."""
        logs = self._table("logs")
        with self._logs.connect() as conn:
            query = select(logs.c.id).where(logs.c.id > above, logs.c.id <= up_to)
            return [int(log_id) for log_id in conn.execute(query).scalars()]

    def logs_remaining(self, after_id: int) -> int:
        logs = self._table("logs")
        with self._logs.connect() as conn:
            return int(conn.execute(select(func.count()).where(logs.c.id > after_id)).scalar_one())

    def first_consume_at(self) -> int | None:
        """When the oldest consume log was written (None without any): usage before that hour exists only in
        quota_data."""
        logs = self._table("logs")
        with self._logs.connect() as conn:
            first = conn.execute(select(func.min(logs.c.created_at)).where(logs.c.type == int(LogType.CONSUME)))
            value = first.scalar_one()
        return None if value is None else int(value)

    def usage_before(self, before: int | None) -> list[UsageBucket]:
        """quota_data summed per user, model and hour, for hours starting before `before` (None: all).
        New API has no unique key on these rows, so one hour may be split over several."""
        if not self.has("quota_data"):
            return []
        data = self._table("quota_data")
        query = select(
            data.c.user_id,
            func.max(data.c.username).label("username"),
            data.c.model_name,
            data.c.created_at,
            func.sum(data.c.count).label("count"),
            func.sum(data.c.quota).label("quota"),
            func.sum(data.c.token_used).label("token_used"),
        ).group_by(data.c.user_id, data.c.model_name, data.c.created_at)
        if before is not None:
            query = query.where(data.c.created_at < before)
        with self._core.connect() as conn:
            return [
                UsageBucket(
                    user_id=int(row["user_id"]),
                    username=fit(row["username"], MAX_USERNAME),
                    model_name=fit(row["model_name"], MAX_MODEL_NAME),
                    created_at=int(row["created_at"]),
                    count=int(row["count"] or 0),
                    quota=int(row["quota"] or 0),
                    token_used=int(row["token_used"] or 0),
                )
                for row in conn.execute(query.order_by(data.c.created_at)).mappings()
            ]

    def totals_by_user(self, up_to_id: int) -> dict[int, UserTotals]:
        with self._logs.connect() as conn:
            return totals_by_user(conn, up_to_id, self._table("logs"))
