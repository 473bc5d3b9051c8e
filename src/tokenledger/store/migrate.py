"""Schema migrations: one Alembic chain, run by `tokenledger db upgrade`, on first start and by tests.

With LOG_SQL_DSN the chain runs twice, once per database, each run creating only the tables of the part
that database holds (see tokenledger.migrations.parts); each database keeps its own revision."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from tokenledger.domain.errors import LedgerError
from tokenledger.migrations.parts import ALL, CORE, LOGS
from tokenledger.store.database import Database
from tokenledger.store.schema import core_metadata, log_metadata

UPGRADE_HINT = "run `tokenledger db upgrade` first"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "tokenledger:migrations")
    return config


def _targets(database: Database) -> list[tuple[str, Engine, frozenset[str]]]:
    """(setting, engine, parts held) for each database."""
    if database.separate_logs:
        return [
            ("SQL_DSN", database.engine, frozenset({CORE})),
            ("LOG_SQL_DSN", database.log_engine, frozenset({LOGS})),
        ]
    return [("SQL_DSN", database.engine, ALL)]


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def current_revision(database: Database) -> str | None:
    """The core database's revision (the log database's, with LOG_SQL_DSN, is checked by `check_current`)."""
    return _revision(database.engine)


def revisions(database: Database) -> dict[str, str | None]:
    """The revision of each database, by the setting that names it."""
    return {setting: _revision(engine) for setting, engine, _parts in _targets(database)}


def is_empty(database: Database) -> bool:
    """True when no database has any tokenledger schema yet (a first start)."""
    return all(revision is None for revision in revisions(database).values())


def _run(database: Database, action: str, revision: str) -> None:
    for _setting, engine, parts in _targets(database):
        config = _config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            config.attributes["parts"] = parts
            getattr(command, action)(config, revision)


def upgrade(database: Database, revision: str = "head") -> None:
    _run(database, "upgrade", revision)


def downgrade(database: Database, revision: str) -> None:
    _run(database, "downgrade", revision)


def check_current(database: Database) -> None:
    """Refuse a database whose schema is behind (or ahead of) this version, or that lacks the tables of
    its part (a database set up with LOG_SQL_DSN holds no logs of its own). Raises LedgerError naming the
    fix."""
    head = head_revision()
    for setting, engine, parts in _targets(database):
        current = _revision(engine)
        if current != head:
            raise LedgerError(
                f"the database of {setting} is at schema revision {current or 'none'}, this version needs "
                f"{head}: {UPGRADE_HINT}"
            )
        present = set(inspect(engine).get_table_names())
        for part, metadata in ((CORE, core_metadata), (LOGS, log_metadata)):
            missing = sorted(set(metadata.tables) - present) if part in parts else []
            if missing:
                raise LedgerError(
                    f"the database of {setting} lacks the tables {', '.join(missing)}: SQL_DSN and LOG_SQL_DSN "
                    "must name the same databases as when the schema was created"
                )
