"""every (username, user id) pair the logs carry

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

`log_usernames`: every (username, user_id) pair any log has carried, so that totals filtered by a username
that belongs to one user alone can read that user's rollups (see tokenledger.store.rollups). Filled from
the logs already stored.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tokenledger.migrations.parts import LOGS, holds

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
MAX_USERNAME = 64

logs = sa.table("logs", sa.column("username", sa.String()), sa.column("user_id", sa.BigInteger()))


def upgrade() -> None:
    if not holds(LOGS):
        return
    usernames = op.create_table(
        "log_usernames",
        sa.Column(
            "username",
            sa.String(MAX_USERNAME).with_variant(postgresql.VARCHAR(MAX_USERNAME, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("username", "user_id", name=op.f("pk_log_usernames")),
        sqlite_with_rowid=False,
        **MYSQL_TABLE,
    )
    assert usernames is not None
    op.create_index("ix_log_usernames_user_id_username", "log_usernames", ["user_id", "username"])
    pairs = sa.select(logs.c.username, logs.c.user_id).distinct()
    op.execute(usernames.insert().from_select(["username", "user_id"], pairs))


def downgrade() -> None:
    if not holds(LOGS):
        return
    op.drop_table("log_usernames")
