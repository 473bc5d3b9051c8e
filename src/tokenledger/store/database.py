"""Engines and connections. SQLite gets WAL, a busy timeout, foreign keys and full fsync on every
connection, and writers take the write lock up front (BEGIN IMMEDIATE) so two writers never deadlock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from tokenledger.domain.errors import Invalid

__all__ = ["Connection", "Database", "normalize_url"]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(dsn: str) -> str:
    """Map the URL forms people write onto the drivers we ship. Raises Invalid for an unusable URL."""
    try:
        url = make_url(dsn)
    except ArgumentError:
        raise Invalid(f"SQL_DSN is not a database URL: {dsn!r} (example: sqlite:///./data/tokenledger.db)") from None
    if url.get_backend_name() != "sqlite":
        raise Invalid(f"SQL_DSN uses {url.get_backend_name()!r}: this version supports sqlite URLs")
    return url.render_as_string(hide_password=False)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Manage transactions ourselves (pysqlite's implicit BEGIN would defeat BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # An acknowledged log must survive a power cut, not only a crash of this process.
        cursor.execute("PRAGMA synchronous=FULL")
        # LIKE patterns match case-sensitively, like `=` does (and like PostgreSQL), and may use indexes.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The connections tokenledger uses: `read()` for queries, `write()` for a transaction that commits
    on success and rolls back on any exception."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        try:
            self._reader = _sqlite_engine(self.url, immediate=False)
            self._writer = _sqlite_engine(self.url, immediate=True)
        except NoSuchModuleError as exc:
            raise Invalid(f"SQL_DSN names a driver that is not installed: {exc}") from None

    @property
    def engine(self) -> Engine:
        """The writer engine, for migrations and maintenance."""
        return self._writer

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._reader.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    def check_connection(self) -> None:
        """Connect once, so a wrong URL or an unreachable server is reported up front. Raises Invalid."""
        try:
            with self._writer.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            cause = str(exc.orig or exc).splitlines()[0]
            raise Invalid(f"cannot open the database of SQL_DSN ({self.safe_url}): {cause}") from None

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self._reader.dispose()
        self._writer.dispose()
