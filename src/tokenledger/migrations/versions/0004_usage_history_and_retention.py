"""usage history and retention

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

`usage_hourly` (hourly totals per full combination of chart dimensions, filled from the logs already
stored), `log_retention` (how far logs were pruned: rollups are no longer uncounted when logs are
deleted), `system_tasks` (log cleanups an admin can watch and a restart resumes). Deletions no longer lock
out writers, so the `log_locks` row goes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tokenledger.migrations.parts import LOGS, holds

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
HOUR = 3600
DIMENSIONS = ("user_id", "token_id", "channel_id", "model_name", "group", "type", "token_name")
SUMMED = ("count", "quota", "prompt_tokens", "completion_tokens")


def _name(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")


logs = sa.table(
    "logs",
    *(sa.column(name, sa.BigInteger()) for name in ("user_id", "token_id", "channel_id", "created_at", "type")),
    *(sa.column(name, sa.BigInteger()) for name in ("quota", "prompt_tokens", "completion_tokens")),
    *(sa.column(name, sa.String()) for name in ("model_name", "group", "token_name")),
)


def upgrade() -> None:
    if not holds(LOGS):
        return
    usage = op.create_table(
        "usage_hourly",
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("model_name", _name(255), nullable=False),
        sa.Column("group", _name(64), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("token_name", _name(128), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMMED),
        sa.PrimaryKeyConstraint("hour", *DIMENSIONS, name=op.f("pk_usage_hourly")),
        sqlite_with_rowid=False,
        **MYSQL_TABLE,
    )
    assert usage is not None
    op.create_index("ix_usage_hourly_user_id_hour", "usage_hourly", ["user_id", "hour"])
    op.create_index("ix_usage_hourly_token_id_hour", "usage_hourly", ["token_id", "hour"])
    hour = (logs.c.created_at - logs.c.created_at % HOUR).label("hour")
    dimensions = [logs.c[name] for name in DIMENSIONS]
    query = sa.select(
        hour,
        *dimensions,
        sa.func.count().label("count"),
        *(sa.func.coalesce(sa.func.sum(logs.c[name]), 0).label(name) for name in SUMMED[1:]),
    ).group_by(hour, *dimensions)
    op.execute(usage.insert().from_select(["hour", *DIMENSIONS, *SUMMED], query))

    op.create_table(
        "log_retention",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pruned_before", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_retention")),
        **MYSQL_TABLE,
    )
    op.create_table(
        "system_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", _name(32), nullable=False),
        sa.Column("status", _name(16), nullable=False),
        sa.Column("target_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("estimated_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("requested_by", _name(64), server_default="", nullable=False),
        sa.Column("message", _name(255), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_tasks")),
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )
    op.create_index("ix_system_tasks_status", "system_tasks", ["status"])
    op.drop_table("log_locks")


def downgrade() -> None:
    if not holds(LOGS):
        return
    locks = op.create_table(
        "log_locks",
        sa.Column("name", _name(32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_log_locks")),
        **MYSQL_TABLE,
    )
    assert locks is not None
    op.bulk_insert(locks, [{"name": "logs"}])
    op.drop_index("ix_system_tasks_status", table_name="system_tasks")
    op.drop_table("system_tasks")
    op.drop_table("log_retention")
    op.drop_index("ix_usage_hourly_token_id_hour", table_name="usage_hourly")
    op.drop_index("ix_usage_hourly_user_id_hour", table_name="usage_hourly")
    op.drop_table("usage_hourly")
