"""Which part of the schema the database being migrated holds: the core tables (SQL_DSN), the log tables
(LOG_SQL_DSN), or both (one database). Every migration creates or alters only the tables of the parts the
database holds; `tokenledger.store.migrate` says which those are."""

from __future__ import annotations

from alembic import context

CORE = "core"
LOGS = "logs"
ALL = frozenset({CORE, LOGS})


def held() -> frozenset[str]:
    parts: frozenset[str] = context.config.attributes.get("parts", ALL)
    return parts


def holds(part: str) -> bool:
    """Whether the database being migrated holds this part of the schema."""
    return part in held()
