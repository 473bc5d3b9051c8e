"""Engines and connections for SQLite, PostgreSQL and MySQL/MariaDB.

tokenledger keeps two kinds of tables: the core (users, API keys, channels, sessions) and the logs with
everything derived from them (hourly usage, the SQLite full-text index). Both live in `SQL_DSN` unless
`LOG_SQL_DSN` names another database, possibly of another engine. Services ask for the part they need
(`read()`/`write()` for the core, `read_logs()`/`write_logs()` for the logs) and never join across them.

SQLite gets WAL, a busy timeout, foreign keys and full fsync on every connection, and its writers take the
write lock up front (BEGIN IMMEDIATE) so two writers never deadlock. The servers get a connection pool
sized for a busy web process, pre-ping (so a restarted server is survived) and connect timeouts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError

from tokenledger.domain.errors import Invalid
from tokenledger.store import dsn
from tokenledger.store.wal import WalCheckpointer

__all__ = ["Connection", "Database", "DatabaseError", "describe_database_error", "is_deadlock"]

# What a failing statement or connection raises, for callers outside the store (the CLI's one-line errors).
DatabaseError = DBAPIError


def describe_database_error(exc: DBAPIError) -> str:
    """The driver's own message on one line, without SQLAlchemy's statement dump."""
    return " ".join(str(exc.orig or exc).split())


# PostgreSQL's SQLSTATEs for a deadlock and a serialization failure; MySQL's error number for a deadlock.
_POSTGRESQL_RETRY_STATES = ("40P01", "40001")
_MYSQL_DEADLOCK = 1213


def is_deadlock(exc: BaseException) -> bool:
    """Whether the server rolled a transaction back to break a deadlock (or, on PostgreSQL, a
    serialization conflict), so that running it again is the remedy."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _POSTGRESQL_RETRY_STATES:
        return True
    args: tuple[Any, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] == _MYSQL_DEADLOCK


SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
SQLITE_WRITER_CACHE_KIB = 64 * 1024
# SQLite's own checkpoint, a safety net behind the checkpoint thread (store.wal): it runs inside a commit
# only when the thread has fallen this far behind (~160 MB of WAL). The thread itself waits for the writer
# and copies the whole WAL once it has grown this far without starting over.
SQLITE_CHECKPOINT_PAGES = 40_000
SQLITE_READERS = 32
CONNECT_TIMEOUT_SECONDS = 10
POOL_SIZE = 10
POOL_OVERFLOW = 20
# Below MySQL's default wait_timeout (8 h) and any proxy's idle cut-off we are likely to meet.
POOL_RECYCLE_SECONDS = 1800


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    return None if database in (None, "", ":memory:") else Path(str(database)).expanduser()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    file = _sqlite_file(url)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    # Every request reads on its own thread: enough readers stay open that a burst of them does not open
    # (and set up) a connection per request. An in-memory database has a pool of its own kind.
    pool = {"pool_size": SQLITE_READERS, "max_overflow": SQLITE_READERS} if file and not immediate else {}
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **pool
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Manage transactions ourselves (pysqlite's implicit BEGIN would defeat BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Readers that never pause can keep the WAL from being reset; cap what it keeps after a checkpoint.
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # An acknowledged log must survive a power cut, not only a crash of this process.
        cursor.execute("PRAGMA synchronous=FULL")
        # LIKE patterns match case-sensitively, like `=` does (and like PostgreSQL), and may use indexes.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        if immediate:
            # Settings of the file itself, made by the writer, which creates the schema: readers need not
            # take a lock for them on every new connection. auto_vacuum only takes effect on a new, empty
            # file: it lets a large deletion give its space back in small steps.
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            # The writer touches a page of every index per row: keeping their hot pages in its own cache
            # halves the cost of an insert on a large table.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_WRITER_CACHE_KIB}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _with_jit_off(options: str | tuple[str, ...] | None) -> str:
    """The DSN's own `options` (libpq's server settings), if any, with jit turned off."""
    given = [options] if isinstance(options, str) else list(options or ())
    return " ".join([*given, "-c jit=off"])


def server_engine(url: str, isolation_level: str = "READ COMMITTED", *, reset_on_return: bool = True) -> Engine:
    """A pooled engine for PostgreSQL or MySQL whose connections are set to `isolation_level` once, when
    they connect (READ COMMITTED: PostgreSQL's default; on MySQL it spares the gap locks REPEATABLE READ
    takes on every upsert). Without `reset_on_return` the pool does not roll back a connection it gets
    back: for an engine whose every use ends its own transaction, where the pool's ROLLBACK would be one
    more round trip on MySQL (`Connection.close()` still rolls back a transaction left open)."""
    dialect_args: dict[str, Any] = {}
    if dsn.backend_of(url) == "postgresql":
        connect_args: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "tokenledger",
            # psycopg prepares a statement on the server after 5 runs, and PostgreSQL then settles on one
            # generic plan for every parameter value: for a heavy API key's page it scanned the owner's
            # rows instead of the key's index (1.1 s instead of 14 ms at 10M rows). Every query is planned
            # for its own values instead.
            "prepare_threshold": None,
            # Queries here read bounded index ranges, but the planner's estimate can be far off (a search's
            # GIN listing was costed at 2.5M for 37,000 rows), and past jit_above_cost it compiled the
            # query first: 20–80 ms for a statement that runs in 1–30 ms.
            "options": _with_jit_off(make_url(url).query.get("options")),
        }
    else:
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        # Positional parameters: PyMySQL escapes a tuple's values straight through, where named ones cost a
        # dict per row and a lookup per value (ingest passes tens of thousands of values per batch).
        dialect_args["paramstyle"] = "format"
    return create_engine(
        url,
        connect_args=connect_args,
        **dialect_args,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_reset_on_return="rollback" if reset_on_return else None,
        isolation_level=isolation_level,
    )


class _Engines:
    """The connections to one database, a reader and a writer engine: on SQLite the writer begins
    IMMEDIATE; on a server each is a pool of its own, the reader's connections in REPEATABLE READ."""

    checkpointer: WalCheckpointer | None = None

    def __init__(self, url: str, setting: str) -> None:
        self.url = dsn.normalize_url(url, setting)
        self.setting = setting
        self.backend = dsn.backend_of(self.url)
        try:
            if self.backend == "sqlite":
                self.reader = _sqlite_engine(self.url, immediate=False)
                self.writer = _sqlite_engine(self.url, immediate=True)
                if _sqlite_file(self.url) is not None:
                    checkpointer = self.checkpointer = WalCheckpointer(self.reader, SQLITE_CHECKPOINT_PAGES)
                    event.listen(self.writer, "commit", lambda _conn: checkpointer.committed())
            else:
                self.writer = server_engine(self.url)
                # A read sees one snapshot throughout: a page's total, its rows and the stats computed from
                # rollups and raw edge rows agree even while writers commit. A pool of its own keeps its
                # connections in that level: switching a shared connection per read cost MySQL four more
                # round trips (SET and COMMIT there and back again). Every read ends its transaction in
                # `read()`, so the pool need not roll back after it.
                self.reader = server_engine(self.url, "REPEATABLE READ", reset_on_return=False)
        except NoSuchModuleError as exc:
            raise Invalid(f"{setting} names a driver that is not installed: {exc}") from None

    @property
    def safe_url(self) -> str:
        return dsn.safe_url(self.url)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.writer.begin() as conn:
            yield conn

    @contextmanager
    def upkeep(self) -> Iterator[Connection]:
        """A connection for upkeep statements that may not run in a transaction (PostgreSQL's VACUUM):
        autocommit on a server; on SQLite, which has none such, a write transaction."""
        if self.backend == "sqlite":
            with self.write() as conn:
                yield conn
            return
        with self.writer.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    def check_connection(self) -> None:
        try:
            with self.writer.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except DBAPIError as exc:
            cause = describe_database_error(exc)
            raise Invalid(f"cannot open the database of {self.setting} ({self.safe_url}): {cause}") from None

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.reader.dispose()
        self.writer.dispose()


class Database:
    """The core database (`SQL_DSN`) and the log database (`LOG_SQL_DSN`, the same one when unset).
    Each `read*()` yields a connection in a transaction; each `write*()` a transaction that commits on
    success and rolls back on any exception."""

    def __init__(self, url: str, log_url: str | None = None) -> None:
        self._core = _Engines(url, "SQL_DSN")
        # LOG_SQL_DSN naming the very same database is no separation at all.
        separate = log_url and dsn.normalize_url(log_url, "LOG_SQL_DSN") != self._core.url
        self._logs = _Engines(log_url, "LOG_SQL_DSN") if log_url and separate else self._core

    @property
    def url(self) -> str:
        return self._core.url

    @property
    def log_url(self) -> str:
        return self._logs.url

    @property
    def separate_logs(self) -> bool:
        """Whether the logs live in a database of their own (LOG_SQL_DSN)."""
        return self._logs is not self._core

    @property
    def engine(self) -> Engine:
        """The core writer engine, for migrations and maintenance."""
        return self._core.writer

    @property
    def log_engine(self) -> Engine:
        """The log database's writer engine, for migrations and maintenance."""
        return self._logs.writer

    @property
    def backend(self) -> str:
        """`sqlite`, `postgresql` or `mysql`: the engine of the core database."""
        return self._core.backend

    @property
    def log_backend(self) -> str:
        return self._logs.backend

    def read(self) -> AbstractContextManager[Connection]:
        return self._core.read()

    def write(self) -> AbstractContextManager[Connection]:
        return self._core.write()

    def read_logs(self) -> AbstractContextManager[Connection]:
        return self._logs.read()

    def write_logs(self) -> AbstractContextManager[Connection]:
        return self._logs.write()

    def upkeep_logs(self) -> AbstractContextManager[Connection]:
        """A log-database connection outside any transaction, for upkeep such as VACUUM."""
        return self._logs.upkeep()

    @contextmanager
    def write_with_logs(self) -> Iterator[tuple[Connection, Connection]]:
        """A core transaction and a log transaction, for a change that also writes a log (a top-up and its
        audit row). In one database they are the same transaction. With LOG_SQL_DSN they are two (there is
        no atomic commit across databases): the log commits first, so a failure between the commits leaves
        an audit row for a change that did not happen, never a change without its row."""
        with self._core.write() as conn:
            if not self.separate_logs:
                yield conn, conn
                return
            with self._logs.write() as log_conn:
                yield conn, log_conn

    def check_connection(self) -> None:
        """Connect once to each database, so a wrong URL or an unreachable server is reported up front,
        naming the setting at fault. Raises Invalid."""
        self._core.check_connection()
        if self.separate_logs:
            self._logs.check_connection()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self._core.safe_url

    @property
    def safe_log_url(self) -> str:
        return self._logs.safe_url

    def dispose(self) -> None:
        self._core.dispose()
        if self.separate_logs:
            self._logs.dispose()
