"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The tables, their indexes, and the full-text index on logs.content that log search reads. Core tables go
to a database holding the core part, log tables to one holding the logs (see tokenledger.migrations.parts).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

from tokenledger.migrations.parts import CORE, LOGS, holds

# The column types and table options of tokenledger.store.schema as they were at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
SEARCHED_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(collation="utf8mb4_unicode_ci"), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def name(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if holds(CORE):
        _create_core_tables()
    if holds(LOGS):
        _create_log_tables()
        _create_content_search()


def downgrade() -> None:
    if holds(LOGS):
        _drop_content_search()
        _drop_log_tables()
    if holds(CORE):
        _drop_core_tables()


def _create_core_tables() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", name(64), nullable=False),
        sa.Column("password_hash", name(255), nullable=False),
        sa.Column("display_name", name(64), server_default="", nullable=False),
        sa.Column("role", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.Integer(), server_default="1", nullable=False),
        sa.Column("email", name(255), server_default="", nullable=False),
        sa.Column("quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("used_quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("request_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("group", name(64), server_default="default", nullable=False),
        sa.Column("access_token_hash", name(64), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("access_token_hash", name=op.f("uq_users_access_token_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )

    op.create_table(
        "channels",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", name(128), nullable=False),
        sa.Column("type", sa.Integer(), server_default="1", nullable=False),
        sa.Column("base_url", name(255), server_default="", nullable=False),
        sa.Column("key", LONG_TEXT, nullable=False),
        sa.Column("models", LONG_TEXT, nullable=False),
        sa.Column("group", name(255), server_default="default", nullable=False),
        sa.Column("status", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )

    op.create_table(
        "sessions",
        sa.Column("id_hash", name(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
        **MYSQL_TABLE,
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "tokens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", name(128), server_default="", nullable=False),
        sa.Column("key_hash", name(64), nullable=False),
        sa.Column("key_hint", name(32), nullable=False),
        sa.Column("status", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("accessed_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expired_time", sa.BigInteger(), server_default="-1", nullable=False),
        sa.Column("remain_quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unlimited_quota", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("used_quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("group", name(64), server_default="", nullable=False),
        sa.Column("ingest", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_tokens_key_hash")),
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_user_id"), ["user_id"], unique=False)


def _create_log_tables() -> None:
    op.create_table(
        "logs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("content", SEARCHED_TEXT, nullable=False),
        sa.Column("username", name(64), server_default="", nullable=False),
        sa.Column("token_name", name(128), server_default="", nullable=False),
        sa.Column("model_name", name(255), server_default="", nullable=False),
        sa.Column("quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("use_time", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_stream", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("channel_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("token_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("group", name(64), server_default="", nullable=False),
        sa.Column("ip", name(64), server_default="", nullable=False),
        sa.Column("request_id", name(128), server_default="", nullable=False),
        sa.Column("upstream_request_id", name(128), server_default="", nullable=False),
        sa.Column("other", LONG_TEXT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs")),
        sqlite_autoincrement=True,
        **MYSQL_TABLE,
    )
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.create_index("ix_logs_channel_id_created_at", ["channel_id", "created_at"], unique=False)
        batch_op.create_index("ix_logs_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_logs_model_name_created_at", ["model_name", "created_at"], unique=False)
        batch_op.create_index("ix_logs_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_logs_token_id_created_at_id", ["token_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_logs_type_created_at", ["type", "created_at"], unique=False)
        batch_op.create_index("ix_logs_user_id_created_at_id", ["user_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_logs_username_created_at", ["username", "created_at"], unique=False)

    op.create_table(
        "quota_data",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("username", name(64), server_default="", nullable=False),
        sa.Column("model_name", name(255), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("token_used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_data")),
        sa.UniqueConstraint(
            "user_id", "model_name", "created_at", name=op.f("uq_quota_data_user_id_model_name_created_at")
        ),
        **MYSQL_TABLE,
    )
    with op.batch_alter_table("quota_data", schema=None) as batch_op:
        batch_op.create_index("ix_quota_data_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_quota_data_username_created_at", ["username", "created_at"], unique=False)


# Dropping a table drops its indexes.
def _drop_core_tables() -> None:
    for table in ("tokens", "sessions", "users", "channels"):
        op.drop_table(table)


def _drop_log_tables() -> None:
    for table in ("quota_data", "logs"):
        op.drop_table(table)


def _create_content_search() -> None:
    """Search must never scan the table: FTS5 on SQLite, a GIN text-search index on PostgreSQL, a FULLTEXT
    index on MySQL/MariaDB. SQLite's FTS rows are added by the store right after each batch of logs (one
    INSERT…SELECT is several times faster than a per-row trigger); triggers keep deletes and edits in step."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE logs_fts USING fts5(content, content='logs', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN "
            "INSERT INTO logs_fts(logs_fts, rowid, content) VALUES ('delete', old.id, old.content); END"
        )
        op.execute(
            "CREATE TRIGGER logs_fts_update AFTER UPDATE OF content ON logs BEGIN "
            "INSERT INTO logs_fts(logs_fts, rowid, content) VALUES ('delete', old.id, old.content); "
            "INSERT INTO logs_fts(rowid, content) VALUES (new.id, new.content); END"
        )
    elif dialect == "postgresql":
        # Words as tokenledger.store._dialect.search_words cuts them: runs of letters and digits.
        op.execute(
            "CREATE INDEX ix_logs_content_fts ON logs USING gin "
            "(to_tsvector('simple', regexp_replace(content, '[^[:alnum:]]+', ' ', 'g')))"
        )
    elif dialect in ("mysql", "mariadb"):
        # Index every word, as the other engines do: InnoDB's default stopword list would make a search
        # for "about" or "will" find nothing.
        op.execute("SET SESSION innodb_ft_enable_stopword = OFF")
        op.execute("CREATE FULLTEXT INDEX ix_logs_content_fts ON logs (content)")
        op.execute("SET SESSION innodb_ft_enable_stopword = ON")


def _drop_content_search() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("logs_fts_delete", "logs_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS logs_fts")
    else:
        op.drop_index("ix_logs_content_fts", table_name="logs")
