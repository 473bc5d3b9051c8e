"""SQLite: the list of terms in the full-text index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

`logs_fts_terms` (SQLite only): every term FTS5 has indexed in log content, so that search can expand a
word prefix into the exact terms it covers (see tokenledger.store._dialect.content_matches). Filled from
the index itself; PostgreSQL and MySQL need no such list.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not holds(LOGS) or op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE logs_fts_terms (term TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID")
    op.execute("CREATE VIRTUAL TABLE temp.logs_fts_vocabulary USING fts5vocab(main, logs_fts, row)")
    op.execute("INSERT INTO logs_fts_terms (term) SELECT term FROM temp.logs_fts_vocabulary")
    op.execute("DROP TABLE temp.logs_fts_vocabulary")


def downgrade() -> None:
    if not holds(LOGS) or op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE logs_fts_terms")
