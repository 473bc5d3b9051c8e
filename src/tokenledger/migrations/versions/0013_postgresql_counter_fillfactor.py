"""PostgreSQL leaves room on the counter tables' pages for their updates

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Every ingest batch adds to the current hour's rows of `log_rollups`, `usage_hourly` and
`quota_data_models` (about 3,300, 940 and 40 rows per 1,000 logs). PostgreSQL writes each update as a new
row version; when the old version's page has room and no indexed column changes, the new version stays on
that page and no index is touched (a heap-only update). These tables filled their pages completely, so
most updates moved their row to another page and added an entry to every index of the table: 13–68% of
`log_rollups`' updates were heap-only on the 1M benchmark database. Filling new pages to 70% keeps the
room: 99% were, and the rollups step of a 1,000-row ingest took 129 ms instead of 167–197 (`python -m
bench.write_path`). Pages already written keep their fill until rewritten; the current hour's rows
mostly go to new pages.

`quota_data` stays as it is: its covering indexes hold the summed columns, so none of its updates can
be heap-only. Other engines update rows in place: nothing to do.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("log_rollups", "usage_hourly", "quota_data_models")
FILLFACTOR = 70


def _applies() -> bool:
    return holds(LOGS) and op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _applies():
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if not _applies():
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
