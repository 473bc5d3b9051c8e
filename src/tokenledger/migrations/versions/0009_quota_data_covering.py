"""quota_data read from its indexes alone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

A user's hourly data for a month is some 15,000 quota_data rows scattered over the table in the order their
hours were written, and fetching each from the table after finding it in an index was most of the read.
Both indexes that select a user's or a username's buckets now hold every column the data endpoints
return, in the order they return them (hour, then model), so that such a read is one range of one index.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SUMS = ("count", "quota", "token_used")


def upgrade() -> None:
    if not holds(LOGS):
        return
    op.create_index("ix_quota_data_user_hours", "quota_data", ["user_id", "created_at", "model_name", *SUMS])
    op.create_index(
        "ix_quota_data_username_hours", "quota_data", ["username", "created_at", "model_name", "user_id", *SUMS]
    )
    op.drop_index("ix_quota_data_username_created_at", table_name="quota_data")


def downgrade() -> None:
    if not holds(LOGS):
        return
    op.create_index("ix_quota_data_username_created_at", "quota_data", ["username", "created_at"])
    op.drop_index("ix_quota_data_username_hours", table_name="quota_data")
    op.drop_index("ix_quota_data_user_hours", table_name="quota_data")
