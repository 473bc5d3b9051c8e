"""The databases the suite runs on: SQLite files, real PostgreSQL and MySQL/MariaDB servers, and a split
setup (core tables on MySQL, logs on PostgreSQL through LOG_SQL_DSN).

Each pytest worker creates its own databases on each server, runs the migrations once, empties the
tables between tests (restarting ids, so every test sees the same ids on every backend) and drops the
databases at the end. Tests that need a database nobody has touched (migrations, the CLI, the server
process) get a brand-new one.

Environment:
- TOKENLEDGER_TEST_POSTGRES_URL: a PostgreSQL URL whose user may create databases
  (default postgresql://postgres@127.0.0.1:5432/postgres).
- TOKENLEDGER_TEST_MYSQL_URL: the same for MySQL/MariaDB (default mysql://root@127.0.0.1:3306/mysql).
- TOKENLEDGER_TEST_BACKENDS: a comma-separated subset of sqlite,postgresql,mysql,split (default: all).
- CI=true: a server that cannot be reached fails the tests that need it instead of skipping them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tokenledger.store import dsn, migrate
from tokenledger.store.database import Database
from tokenledger.store.schema import core_metadata, log_metadata

BACKENDS = ("sqlite", "postgresql", "mysql", "split")
SERVER_URLS = {
    "postgresql": os.environ.get("TOKENLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("TOKENLEDGER_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
}
# Tables emptied between tests, children first.
CORE_TABLES = [table.name for table in reversed(core_metadata.sorted_tables)]
LOG_TABLES = [table.name for table in reversed(log_metadata.sorted_tables)]


def selected_backends() -> list[str]:
    chosen = os.environ.get("TOKENLEDGER_TEST_BACKENDS", "")
    names = [name.strip() for name in chosen.split(",") if name.strip()] or list(BACKENDS)
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"TOKENLEDGER_TEST_BACKENDS: unknown backends {sorted(unknown)}; use {BACKENDS}")
    return names


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class DatabaseUrls:
    """What a test's Settings get: SQL_DSN and, for the split backend, LOG_SQL_DSN."""

    core: str
    logs: str | None = None


class Server:
    """One database server: creates, empties and drops the test databases on it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.url = make_url(dsn.normalize_url(SERVER_URLS[kind]))
        self._admin: Engine | None = None
        self._unavailable: str | None = None
        self._engines: dict[str, Engine] = {}

    def _require(self) -> Engine:
        """The admin connection, or skip (fail under CI) with the reason the server cannot be used."""
        if self._admin is None and self._unavailable is None:
            engine = create_engine(self.url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                self._admin = engine
            except Exception as exc:
                cause = " ".join(str(getattr(exc, "orig", exc)).split())[:200]
                env = f"TOKENLEDGER_TEST_{'POSTGRES' if self.kind == 'postgresql' else 'MYSQL'}_URL"
                self._unavailable = f"{self.kind} server not reachable at {self.url!r} ({cause}); set {env}"
                engine.dispose()
        if self._admin is None:
            assert self._unavailable is not None
            if in_ci():
                pytest.fail(f"CI=true: {self._unavailable}", pytrace=False)
            pytest.skip(self._unavailable)
        return self._admin

    def create(self, name: str) -> str:
        admin = self._require()
        with admin.connect() as conn:
            if self.kind == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        engine = self._engines.pop(name, None)
        if engine is not None:
            engine.dispose()
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            if self.kind == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))

    def empty(self, url: str, tables: list[str]) -> None:
        """Delete every row and restart every id sequence."""
        name = make_url(url).database
        assert name is not None
        engine = self._engines.get(name)
        if engine is None:
            engine = self._engines[name] = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if self.kind == "postgresql":
                listed = ", ".join(f'"{table}"' for table in tables)
                conn.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
            else:
                conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
                for table in tables:
                    conn.execute(text(f"TRUNCATE TABLE `{table}`"))
                conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        if self._admin is not None:
            self._admin.dispose()


def database_name(purpose: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"tokenledger_test_{worker}_{purpose}_{secrets.token_hex(3)}"


class Databases:
    """The test databases of one pytest worker, created on first use."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.servers = {kind: Server(kind) for kind in SERVER_URLS}
        self._shared: dict[str, DatabaseUrls] = {}
        self._created: list[tuple[Server, str]] = []

    def new(self, kind: str, purpose: str) -> str:
        """A brand-new empty database on a server; dropped at the end of the session."""
        server = self.servers[kind]
        name = database_name(purpose)
        url = server.create(name)
        self._created.append((server, name))
        return url

    def clean(self, backend: str, sqlite_path: Path) -> DatabaseUrls:
        """Migrated, empty databases for one test: a new SQLite file, or this worker's server databases
        (migrated on first use) emptied."""
        if backend == "sqlite":
            return DatabaseUrls(f"sqlite:///{sqlite_path}")
        urls = self._shared.get(backend)
        if urls is None:
            urls = self._shared[backend] = self.fresh(backend, sqlite_path)
            database = Database(urls.core, urls.logs)
            migrate.upgrade(database)
            database.dispose()
        try:
            self._empty(urls)
        except DBAPIError:
            # A test broke the schema on purpose (a database fault): start over with new databases.
            del self._shared[backend]
            return self.clean(backend, sqlite_path)
        return urls

    def _empty(self, urls: DatabaseUrls) -> None:
        if urls.logs is None:
            self._server_of(urls.core).empty(urls.core, CORE_TABLES + LOG_TABLES)
        else:
            self._server_of(urls.core).empty(urls.core, CORE_TABLES)
            self._server_of(urls.logs).empty(urls.logs, LOG_TABLES)

    def _server_of(self, url: str) -> Server:
        return self.servers[dsn.backend_of(dsn.normalize_url(url))]

    def fresh(self, backend: str, sqlite_path: Path) -> DatabaseUrls:
        """Brand-new databases with no schema at all."""
        if backend == "sqlite":
            return DatabaseUrls(f"sqlite:///{sqlite_path}")
        if backend == "split":
            return DatabaseUrls(self.new("mysql", "core"), self.new("postgresql", "logs"))
        return DatabaseUrls(self.new(backend, "fresh"))

    def drop_all(self) -> None:
        for server, name in self._created:
            # A leftover test database must not fail the run.
            with contextlib.suppress(Exception):
                server.drop(name)
        for server in self.servers.values():
            server.dispose()
