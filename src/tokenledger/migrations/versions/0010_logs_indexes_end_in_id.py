"""Every logs index ends in (created_at, id)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Lists are ordered by (created_at, id) descending. SQLite and InnoDB append the row id to every index entry,
so the type, model, username and channel indexes already gave that order; PostgreSQL's do not, and a page
filtered by one of them sorted each created_at's rows before it could skip an offset (page 1000 by model:
21–23 ms at 1M rows). Declaring `id` in all four gives PostgreSQL the order and keeps one schema for every
engine.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DIMENSIONS = ("type", "model_name", "username", "channel_id")


def upgrade() -> None:
    if not holds(LOGS):
        return
    for column in DIMENSIONS:
        op.create_index(f"ix_logs_{column}_created_at_id", "logs", [column, "created_at", "id"])
        op.drop_index(f"ix_logs_{column}_created_at", table_name="logs")


def downgrade() -> None:
    if not holds(LOGS):
        return
    for column in DIMENSIONS:
        op.create_index(f"ix_logs_{column}_created_at", "logs", [column, "created_at"])
        op.drop_index(f"ix_logs_{column}_created_at_id", table_name="logs")
