"""Schema migrations: one Alembic chain, run by `tokenledger db upgrade`, on first start and by tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tokenledger.store.database import Database


def _config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "tokenledger:migrations")
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def head_revision(database: Database) -> str | None:
    return ScriptDirectory.from_config(_config(database)).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_empty(database: Database) -> bool:
    """True when the database has no tokenledger schema at all (a first start)."""
    return current_revision(database) is None


def upgrade(database: Database, revision: str = "head") -> None:
    config = _config(database)
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(database: Database, revision: str) -> None:
    config = _config(database)
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
