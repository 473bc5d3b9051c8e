"""import progress

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Where `tokenledger import newapi` stands for each source, in the log database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tokenledger.migrations.parts import LOGS, holds

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    if not holds(LOGS):
        return
    op.create_table(
        "import_progress",
        sa.Column("source", sa.String(255).with_variant(postgresql.VARCHAR(255, collation="C"), "postgresql")),
        sa.Column("last_log_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("history_copied", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_import_progress")),
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    if holds(LOGS):
        op.drop_table("import_progress")
