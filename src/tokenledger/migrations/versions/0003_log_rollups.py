"""log rollups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Hourly totals per scope (tokenledger.store.rollups), filled from the logs already stored; the
(group, created_at, id) and (token_name, created_at, id) indexes their edge counts and list pages read;
and the lock row that keeps deletions and inserts of logs from interleaving.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tokenledger.migrations.parts import LOGS, holds

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
HOUR = 3600

# The scopes of tokenledger.store.rollups at this revision: (code, id columns, text column) of logs.
SCOPES: list[tuple[int, tuple[str, ...], str | None]] = [
    (0, (), None),
    (1, ("user_id",), None),
    (2, ("user_id", "token_id"), None),
    (3, (), "username"),
    (4, (), "token_name"),
    (5, (), "model_name"),
    (6, ("channel_id",), None),
    (7, (), "group"),
    (8, ("user_id",), "token_name"),
    (9, ("user_id",), "model_name"),
]

logs = sa.table(
    "logs",
    *(
        sa.column(name, sa.BigInteger())
        for name in ("user_id", "token_id", "channel_id", "created_at", "type", "quota")
    ),
    sa.column("prompt_tokens", sa.BigInteger()),
    sa.column("completion_tokens", sa.BigInteger()),
    *(sa.column(name, sa.String()) for name in ("username", "token_name", "model_name", "group")),
)


def upgrade() -> None:
    if not holds(LOGS):
        return
    rollups = op.create_table(
        "log_rollups",
        sa.Column("scope", sa.SmallInteger(), nullable=False),
        sa.Column("key1", sa.BigInteger(), nullable=False),
        sa.Column("key2", sa.BigInteger(), nullable=False),
        sa.Column("key_text", sa.String(255).with_variant(postgresql.VARCHAR(255, collation="C"), "postgresql")),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key1", "key2", "key_text", "hour", "type", name=op.f("pk_log_rollups")),
        sqlite_with_rowid=False,
        **MYSQL_TABLE,
    )
    assert rollups is not None
    locks = op.create_table(
        "log_locks",
        sa.Column("name", sa.String(32).with_variant(postgresql.VARCHAR(32, collation="C"), "postgresql")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_log_locks")),
        **MYSQL_TABLE,
    )
    assert locks is not None
    op.bulk_insert(locks, [{"name": "logs"}])
    hour = (logs.c.created_at - logs.c.created_at % HOUR).label("hour")
    for code, ids, text in SCOPES:
        id_columns = [logs.c[name] for name in ids]
        keys = [*(column.label(f"key{n + 1}") for n, column in enumerate(id_columns))]
        keys += [sa.literal(0, sa.BigInteger()).label(f"key{n + 1}") for n in range(len(ids), 2)]
        text_column = logs.c[text] if text else sa.literal("", sa.String()).label("key_text")
        grouped = [*id_columns, *([logs.c[text]] if text else []), hour, logs.c.type]
        query = sa.select(
            sa.literal(code, sa.SmallInteger()).label("scope"),
            *keys,
            text_column.label("key_text") if text else text_column,
            hour,
            logs.c.type,
            sa.func.count().label("count"),
            sa.func.coalesce(sa.func.sum(logs.c.quota), 0).label("quota"),
            sa.func.coalesce(sa.func.sum(logs.c.prompt_tokens), 0).label("prompt_tokens"),
            sa.func.coalesce(sa.func.sum(logs.c.completion_tokens), 0).label("completion_tokens"),
        ).group_by(*grouped)
        columns = ["scope", "key1", "key2", "key_text", "hour", "type", "count", "quota", "prompt_tokens"]
        op.execute(rollups.insert().from_select([*columns, "completion_tokens"], query))
    with op.batch_alter_table("logs") as batch_op:
        batch_op.create_index("ix_logs_group_created_at_id", ["group", "created_at", "id"], unique=False)
        batch_op.create_index("ix_logs_token_name_created_at_id", ["token_name", "created_at", "id"], unique=False)


def downgrade() -> None:
    if not holds(LOGS):
        return
    with op.batch_alter_table("logs") as batch_op:
        batch_op.drop_index("ix_logs_token_name_created_at_id")
        batch_op.drop_index("ix_logs_group_created_at_id")
    op.drop_table("log_locks")
    op.drop_table("log_rollups")
