"""MySQL: the full-text index reads words as the other engines do

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

InnoDB's FULLTEXT parser keeps `_` and `'` inside words, so `after` did not find `retry_after` there while
FTS5, PostgreSQL and a word-start test of each row do. The index now covers `content_words`, a stored
column holding the content with every run of characters other than letters and digits turned into one
space (the expression PostgreSQL's index is built on), so the index and a row-by-row test of that column
read the same words and search may choose between them by cost (see
tokenledger.store._dialect.content_matches). Other engines are unchanged.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _on_mysql() -> bool:
    return holds(LOGS) and op.get_bind().dialect.name in ("mysql", "mariadb")


def _full_text_index(column: str) -> None:
    # Every word indexed, stopwords too, as on the other engines (see revision 0001).
    op.execute("SET SESSION innodb_ft_enable_stopword = OFF")
    op.execute(f"CREATE FULLTEXT INDEX ix_logs_content_fts ON logs ({column})")
    op.execute("SET SESSION innodb_ft_enable_stopword = ON")


def upgrade() -> None:
    if not _on_mysql():
        return
    op.execute("DROP INDEX ix_logs_content_fts ON logs")
    op.execute(
        "ALTER TABLE logs ADD COLUMN content_words MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci "
        "AS (REGEXP_REPLACE(content, '[^[:alnum:]]+', ' ')) STORED"
    )
    _full_text_index("content_words")


def downgrade() -> None:
    if not _on_mysql():
        return
    op.execute("DROP INDEX ix_logs_content_fts ON logs")
    op.execute("ALTER TABLE logs DROP COLUMN content_words")
    _full_text_index("content")
