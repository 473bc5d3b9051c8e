"""MySQL indexes each log's words under its day too

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

InnoDB answers a FULLTEXT query by gathering every match in the table before any condition or LIMIT, so
a rare word's newest matches cost every match it has (110–133 ms at 10M rows for a word in 0.4% of the
logs). As PostgreSQL does since 0012, a second index holds each word again under its day:
`content_day_words` is `content_words` (0008) with every word written `d<day>x<word>` (the day counted
in whole UTC days since 1970, the word cut to its first DAY_WORD_LENGTH characters so that the term
stays within innodb_ft_max_token_size, 84 by default). A search window of a few days asks for those
days' terms only (see tokenledger.store._dialect.MysqlListing).

The column is stored, as FULLTEXT requires, so adding it rebuilds `logs`; each new log then costs the
replacement and its words' FULLTEXT entries a second time. Other engines: nothing to do.
"""

from __future__ import annotations

from alembic import op

from tokenledger.migrations.parts import LOGS, holds

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# What search asks of the index relies on this cut: tokenledger.store._dialect.MYSQL_DAY_WORD_LENGTH.
DAY_WORD_LENGTH = 76


def _applies() -> bool:
    return holds(LOGS) and op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if not _applies():
        return
    # `content_words` is letters and digits in runs separated by single spaces: each run becomes a term.
    op.execute(
        "ALTER TABLE logs ADD COLUMN content_day_words MEDIUMTEXT CHARACTER SET utf8mb4 "
        "COLLATE utf8mb4_unicode_ci AS (REGEXP_REPLACE(content_words, "
        f"'([[:alnum:]]{{1,{DAY_WORD_LENGTH}}})[[:alnum:]]*', CONCAT('d', created_at DIV 86400, 'x\\\\1'))) STORED"
    )
    # Every word indexed, stopwords too, as in 0008 (a prefixed word is no stopword anyway).
    op.execute("SET SESSION innodb_ft_enable_stopword = OFF")
    op.execute("CREATE FULLTEXT INDEX ix_logs_content_day_words ON logs (content_day_words)")
    op.execute("SET SESSION innodb_ft_enable_stopword = ON")


def downgrade() -> None:
    if not _applies():
        return
    op.execute("DROP INDEX ix_logs_content_day_words ON logs")
    op.execute("ALTER TABLE logs DROP COLUMN content_day_words")
