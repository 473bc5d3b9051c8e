"""Alembic environment: runs on the connection tokenledger hands it (see tokenledger.store.migrate),
comparing against the metadata of the schema parts that database holds."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine

from tokenledger.migrations.parts import CORE, LOGS, held
from tokenledger.store.schema import core_metadata, log_metadata

config = context.config


def _target_metadata() -> list[MetaData]:
    parts = held()
    return [metadata for part, metadata in ((CORE, core_metadata), (LOGS, log_metadata)) if part in parts]


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=_target_metadata(), render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=_target_metadata(), render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
