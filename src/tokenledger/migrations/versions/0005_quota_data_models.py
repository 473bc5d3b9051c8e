"""quota_data summed over users

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

`quota_data_models`: quota_data summed over users, one row per model and hour (what an admin's hourly
data for all users reads), filled from the quota_data already stored.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tokenledger.migrations.parts import LOGS, holds

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
SUMMED = ("token_used", "count", "quota")


def _name(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")


quota_data = sa.table(
    "quota_data",
    sa.column("model_name", sa.String()),
    *(sa.column(name, sa.BigInteger()) for name in ("created_at", *SUMMED)),
)


def upgrade() -> None:
    if not holds(LOGS):
        return
    models = op.create_table(
        "quota_data_models",
        sa.Column("model_name", _name(255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in SUMMED),
        sa.PrimaryKeyConstraint("created_at", "model_name", name=op.f("pk_quota_data_models")),
        sqlite_with_rowid=False,
        **MYSQL_TABLE,
    )
    assert models is not None
    query = sa.select(
        quota_data.c.model_name,
        quota_data.c.created_at,
        *(sa.func.sum(quota_data.c[name]).label(name) for name in SUMMED),
    ).group_by(quota_data.c.model_name, quota_data.c.created_at)
    op.execute(models.insert().from_select(["model_name", "created_at", *SUMMED], query))


def downgrade() -> None:
    if not holds(LOGS):
        return
    op.drop_table("quota_data_models")
