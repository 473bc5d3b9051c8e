"""PostgreSQL knows that a key's logs all belong to its owner

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

A key's logs are read with the owner's condition written `user_id + 0` (see store.logs._conditions), so
that no engine walks the owner's index through their other keys' rows. PostgreSQL estimated that
expression at its default selectivity (0.5%) on top of the key's, expected a few dozen rows where there
were thousands, and for a heavy key's 1,000 rows read every row of the key and sorted them (25–30 ms at
1M rows) instead of reading the key's index newest first (2 ms). Extended statistics on the expression
and the key (a functional dependency: the key decides the owner) give it the real count. Expressions in
extended statistics need PostgreSQL 14; older servers keep the sorted read. Other engines: nothing to do.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATISTICS = "logs_key_owner"


def _applies() -> bool:
    bind = op.get_bind()
    return holds(LOGS) and bind.dialect.name == "postgresql" and (bind.dialect.server_version_info or (0,)) >= (14,)


def upgrade() -> None:
    if not _applies():
        return
    op.execute(f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (dependencies) ON (user_id + 0), token_id FROM logs")
    op.execute("ANALYZE logs")


def downgrade() -> None:
    if not _applies():
        return
    op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
