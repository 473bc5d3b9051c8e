"""Where the benchmark's data lives: the default database per backend and rows, creating or dropping it,
the reuse marker, and the server's version."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from bench.errors import BenchError
from tokenledger.store import dsn, rollups
from tokenledger.store.database import Database

SERVER_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/mysql",
}
MAINTENANCE_DATABASES = {"postgresql": "postgres", "mysql": "mysql"}


@dataclass(frozen=True, slots=True)
class Target:
    """The database a run loads and measures, and where its reuse marker lives."""

    backend: str
    url: str  # SQLAlchemy URL with the driver named, password included
    marker: Path

    @property
    def safe_url(self) -> str:
        return dsn.safe_url(self.url)


def resolve(backend: str, rows: int, db_url: str | None, data_dir: Path) -> Target:
    """The default database for the backend and size (bench/data/bench-<rows>.db, or the database
    tokenledger_bench_<rows> on the local server), or the one --db names."""
    if db_url is None:
        if backend == "sqlite":
            path = (data_dir / f"bench-{rows}.db").resolve()
            url = dsn.normalize_url(f"sqlite:///{path}")
        else:
            server = make_url(dsn.normalize_url(SERVER_URLS[backend]))
            url = server.set(database=f"tokenledger_bench_{rows}").render_as_string(hide_password=False)
    else:
        url = dsn.normalize_url(db_url, "--db")
        backend = dsn.backend_of(url)
    parsed = make_url(url)
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise BenchError("--db must name an SQLite file, not an in-memory database")
        marker = Path(parsed.database).with_suffix(".json")
    else:
        marker = data_dir / f"{backend}-{parsed.host}-{parsed.port}-{parsed.database}.json"
    return Target(backend=backend, url=url, marker=marker)


def _maintenance_url(url: str, backend: str) -> URL:
    return make_url(url).set(database=MAINTENANCE_DATABASES[backend])


def _server_error(target: Target, exc: DBAPIError) -> BenchError:
    cause = " ".join(str(exc.orig or exc).split())
    return BenchError(f"cannot use the {target.backend} server ({target.safe_url}): {cause}")


def _on_server(target: Target, work: Callable[[Connection, str], None]) -> None:
    """Run `work(connection, database name)` on the server's maintenance database, outside any transaction."""
    engine = create_engine(_maintenance_url(target.url, target.backend), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            work(conn, str(make_url(target.url).database))
    except DBAPIError as exc:
        raise _server_error(target, exc) from None
    finally:
        engine.dispose()


def _drop_and_create(conn: Connection, name: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))


def _create_if_missing(conn: Connection, name: str) -> None:
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if found is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))


def recreate(target: Target) -> None:
    """An empty database: delete the SQLite file, or drop and create the server database."""
    if target.backend == "sqlite":
        path = Path(str(make_url(target.url).database))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        _on_server(target, _drop_and_create)
    target.marker.unlink(missing_ok=True)


def ensure_exists(target: Target) -> None:
    """Create the server database if it is missing (for --reuse); an SQLite file creates itself."""
    if target.backend == "sqlite":
        Path(str(make_url(target.url).database)).parent.mkdir(parents=True, exist_ok=True)
    else:
        _on_server(target, _create_if_missing)


def count_logs(target: Target, since: int) -> int:
    """Rows of the logs table created at or after `since`, counted directly (0 when there is no table)."""
    engine = create_engine(target.url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM logs WHERE created_at >= :since")
            return int(conn.execute(query, {"since": since}).scalar_one())
    except DBAPIError:
        return 0
    finally:
        engine.dispose()


def prune_horizon(target: Target) -> int:
    """How far the database's logs were ever pruned (0: never), as the server reads it."""
    db = Database(target.url)
    try:
        with db.read_logs() as conn:
            return rollups.pruned_before(conn)
    finally:
        db.dispose()


def server_version(target: Target) -> str:
    """The engine and its version, and for a server the memory it caches pages in: InnoDB reads pages
    through its own buffer pool alone (O_DIRECT, MariaDB's default), so its size decides whether a table
    larger than it is read from disk (PostgreSQL's shared buffers sit in front of the OS page cache)."""
    if target.backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(target.url)
    try:
        with engine.connect() as conn:
            version = str(conn.execute(text("SELECT version()")).scalar_one())
            if target.backend == "postgresql":
                cache = f"shared_buffers {conn.execute(text('SHOW shared_buffers')).scalar_one()}"
            else:
                pool = int(conn.execute(text("SELECT @@innodb_buffer_pool_size")).scalar_one())
                cache = f"innodb_buffer_pool_size {pool / 2**20:,.0f} MiB"
    except DBAPIError as exc:
        raise _server_error(target, exc) from None
    finally:
        engine.dispose()
    if target.backend == "postgresql":
        return f"{' '.join(version.split()[:2])} ({cache})"
    return ("MariaDB " if "mariadb" in version.lower() else "MySQL ") + f"{version} ({cache})"


def read_marker(target: Target) -> dict[str, Any] | None:
    try:
        value = json.loads(target.marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_marker(target: Target, dataset: dict[str, Any]) -> None:
    target.marker.parent.mkdir(parents=True, exist_ok=True)
    target.marker.write_text(json.dumps(dataset, indent=2) + "\n", encoding="utf-8")
