"""Table definitions. Names and columns follow New API (users, tokens, channels, logs, quota_data) so that
operators recognise them and imports map one to one. Every timestamp is a Unix-seconds integer.

Two metadata objects: `core_metadata` (users, API keys, channels, sessions) lives in SQL_DSN and
`log_metadata` (logs and what is derived from them) in LOG_SQL_DSN when that is set. No query joins
across the two.

Text compares and sorts byte by byte on every engine, as SQLite does by default: short names use the "C"
collation on PostgreSQL and every MySQL table is utf8mb4_bin, so `=`, LIKE, uniqueness and ORDER BY agree
on all three. Log content, which only full-text search reads, is case-insensitive on MySQL so that its
FULLTEXT index matches words whatever their case, as FTS5 and PostgreSQL's text search do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeEngine

from tokenledger.domain import log

# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")
# MySQL's TEXT holds 65,535 bytes, a quarter of MAX_CONTENT characters in utf8mb4.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
SearchedText = Text().with_variant(mysql.MEDIUMTEXT(collation="utf8mb4_unicode_ci"), "mysql", "mariadb")
# Table options for MySQL/MariaDB (ignored elsewhere): full Unicode, byte-wise comparison, InnoDB.
MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def Name(length: int) -> TypeEngine[str]:
    """A short string compared and ordered byte by byte (the "C" collation on PostgreSQL)."""
    return String(length).with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

core_metadata = MetaData(naming_convention=NAMING)
log_metadata = MetaData(naming_convention=NAMING)

# `sqlite_autoincrement` stops SQLite from reusing the id of a deleted row: a new key or user must never
# inherit the logs of a deleted one.
users = Table(
    "users",
    core_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", Name(log.MAX_USERNAME), nullable=False, unique=True),
    Column("password_hash", Name(255), nullable=False),
    Column("display_name", Name(64), nullable=False, server_default=""),
    Column("role", Integer, nullable=False, server_default="1"),
    Column("status", Integer, nullable=False, server_default="1"),
    Column("email", Name(255), nullable=False, server_default=""),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    Column("used_quota", BigInteger, nullable=False, server_default="0"),
    Column("request_count", BigInteger, nullable=False, server_default="0"),
    Column("group", Name(log.MAX_GROUP), nullable=False, server_default="default"),
    Column("access_token_hash", Name(64), nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    sqlite_autoincrement=True,
    **MYSQL_TABLE,
)

tokens = Table(
    "tokens",
    core_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", Name(log.MAX_TOKEN_NAME), nullable=False, server_default=""),
    Column("key_hash", Name(64), nullable=False, unique=True),
    Column("key_hint", Name(32), nullable=False),
    Column("status", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("accessed_at", BigInteger, nullable=False, server_default="0"),
    Column("expired_time", BigInteger, nullable=False, server_default="-1"),
    Column("remain_quota", BigInteger, nullable=False, server_default="0"),
    Column("unlimited_quota", Boolean, nullable=False, server_default="0"),
    Column("used_quota", BigInteger, nullable=False, server_default="0"),
    Column("group", Name(log.MAX_GROUP), nullable=False, server_default=""),
    Column("ingest", Boolean, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
    **MYSQL_TABLE,
)

channels = Table(
    "channels",
    core_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", Name(128), nullable=False),
    Column("type", Integer, nullable=False, server_default="1"),
    Column("base_url", Name(255), nullable=False, server_default=""),
    # The upstream provider's key: kept usable because a relay must present it upstream; shown masked.
    Column("key", LongText, nullable=False),
    Column("models", LongText, nullable=False),
    Column("group", Name(255), nullable=False, server_default="default"),
    Column("status", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
    **MYSQL_TABLE,
)

sessions = Table(
    "sessions",
    core_metadata,
    Column("id_hash", Name(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    **MYSQL_TABLE,
)

logs = Table(
    "logs",
    log_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("type", Integer, nullable=False),
    Column("content", SearchedText, nullable=False),
    Column("username", Name(log.MAX_USERNAME), nullable=False, server_default=""),
    Column("token_name", Name(log.MAX_TOKEN_NAME), nullable=False, server_default=""),
    Column("model_name", Name(log.MAX_MODEL_NAME), nullable=False, server_default=""),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    Column("prompt_tokens", BigInteger, nullable=False, server_default="0"),
    Column("completion_tokens", BigInteger, nullable=False, server_default="0"),
    Column("use_time", Integer, nullable=False, server_default="0"),
    Column("is_stream", Boolean, nullable=False, server_default="0"),
    Column("channel_id", BigInteger, nullable=False, server_default="0"),
    Column("token_id", BigInteger, nullable=False, server_default="0"),
    Column("group", Name(log.MAX_GROUP), nullable=False, server_default=""),
    Column("ip", Name(log.MAX_IP), nullable=False, server_default=""),
    Column("request_id", Name(log.MAX_REQUEST_ID), nullable=False, server_default=""),
    Column("upstream_request_id", Name(log.MAX_REQUEST_ID), nullable=False, server_default=""),
    Column("other", LongText, nullable=False),
    # Every list is ordered by (created_at, id) descending; each index ends in that order so a filtered
    # page is read straight off the index.
    Index("ix_logs_created_at_id", "created_at", "id"),
    Index("ix_logs_user_id_created_at_id", "user_id", "created_at", "id"),
    Index("ix_logs_token_id_created_at_id", "token_id", "created_at", "id"),
    Index("ix_logs_type_created_at_id", "type", "created_at", "id"),
    Index("ix_logs_model_name_created_at_id", "model_name", "created_at", "id"),
    Index("ix_logs_username_created_at_id", "username", "created_at", "id"),
    Index("ix_logs_channel_id_created_at_id", "channel_id", "created_at", "id"),
    Index("ix_logs_request_id", "request_id"),
    Index("ix_logs_group_created_at_id", "group", "created_at", "id"),
    Index("ix_logs_token_name_created_at_id", "token_name", "created_at", "id"),
    sqlite_autoincrement=True,
    **MYSQL_TABLE,
)

# Hourly usage of consume logs, kept in the same transaction as the logs it sums (New API's quota_data).
# It outlives log retention: bills and charts need it after the detailed rows are pruned.
quota_data = Table(
    "quota_data",
    log_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("username", Name(log.MAX_USERNAME), nullable=False, server_default=""),
    Column("model_name", Name(log.MAX_MODEL_NAME), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("token_used", BigInteger, nullable=False, server_default="0"),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("user_id", "model_name", "created_at"),
    Index("ix_quota_data_created_at", "created_at"),
    # Covering: a user's or a username's buckets in the order the data endpoints return them, read from
    # the index alone (see migration 0009).
    Index("ix_quota_data_user_hours", "user_id", "created_at", "model_name", "count", "quota", "token_used"),
    Index(
        "ix_quota_data_username_hours",
        "username",
        "created_at",
        "model_name",
        "user_id",
        "count",
        "quota",
        "token_used",
    ),
    **MYSQL_TABLE,
)

# quota_data summed over users: one row per model and hour, kept in the same transaction as quota_data
# (see tokenledger.store.usage), so that an admin's hourly data for all users reads one row per model and
# hour instead of summing every user's rows. Clustered by hour, so a time window is one range, already in
# the order the data endpoint returns.
quota_data_models = Table(
    "quota_data_models",
    log_metadata,
    Column("model_name", Name(log.MAX_MODEL_NAME), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("token_used", BigInteger, nullable=False, server_default="0"),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("created_at", "model_name"),
    sqlite_with_rowid=False,
    **MYSQL_TABLE,
)

# Hourly totals of logs per scope (a combination of filter dimensions), kept in the same transaction as
# the logs: see tokenledger.store.rollups. Clustered by its key, so one key's hours are adjacent.
log_rollups = Table(
    "log_rollups",
    log_metadata,
    Column("scope", SmallInteger, nullable=False),
    Column("key1", BigInteger, nullable=False),
    Column("key2", BigInteger, nullable=False),
    Column("key_text", Name(255), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("type", Integer, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("quota", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope", "key1", "key2", "key_text", "hour", "type"),
    sqlite_with_rowid=False,
    **MYSQL_TABLE,
)

# Every (username, user id) pair that any log has carried, kept in the same transaction as the logs and,
# like the rollups, never pruned with them. It tells when a username selects exactly one user's logs, so
# that totals filtered by a username and a model (or key name, or key) can read that user's rollups.
log_usernames = Table(
    "log_usernames",
    log_metadata,
    Column("username", Name(log.MAX_USERNAME), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("username", "user_id"),
    Index("ix_log_usernames_user_id_username", "user_id", "username"),
    sqlite_with_rowid=False,
    **MYSQL_TABLE,
)

# Hourly totals of logs per full combination of the dimensions a chart groups by, kept in the same
# transaction as the logs (see tokenledger.store.rollups). Like log_rollups it is never pruned with the
# logs: it is the usage history that charts and bills need after the detailed rows are gone.
usage_hourly = Table(
    "usage_hourly",
    log_metadata,
    Column("hour", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("token_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("model_name", Name(log.MAX_MODEL_NAME), nullable=False),
    Column("group", Name(log.MAX_GROUP), nullable=False),
    Column("type", Integer, nullable=False),
    Column("token_name", Name(log.MAX_TOKEN_NAME), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("quota", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    PrimaryKeyConstraint("hour", "user_id", "token_id", "channel_id", "model_name", "group", "type", "token_name"),
    Index("ix_usage_hourly_user_id_hour", "user_id", "hour"),
    Index("ix_usage_hourly_token_id_hour", "token_id", "hour"),
    sqlite_with_rowid=False,
    **MYSQL_TABLE,
)

# How far logs have been pruned: every log created before `pruned_before` was deleted at some point (a
# straggler written later with an older timestamp may exist). Totals read the rollups only from the first
# whole hour at or after it and count the rows before it one by one; see tokenledger.store.rollups.
log_retention = Table(
    "log_retention",
    log_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("pruned_before", BigInteger, nullable=False, server_default="0"),
    **MYSQL_TABLE,
)

# Background work an admin can watch: log cleanups (DELETE /api/log/, POST /api/system-task/log-cleanup,
# LOG_RETENTION_DAYS, `tokenledger prune`). Kept beside the logs so that each batch and the progress it
# made commit together: a restarted server resumes a task from what the table says.
system_tasks = Table(
    "system_tasks",
    log_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", Name(32), nullable=False),
    Column("status", Name(16), nullable=False),
    Column("target_timestamp", BigInteger, nullable=False),
    Column("deleted", BigInteger, nullable=False, server_default="0"),
    Column("estimated_total", BigInteger, nullable=False, server_default="0"),
    Column("requested_by", Name(log.MAX_USERNAME), nullable=False, server_default=""),
    Column("message", Name(255), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False, server_default="0"),
    Index("ix_system_tasks_status", "status"),
    sqlite_autoincrement=True,
    **MYSQL_TABLE,
)

# How far `tokenledger import newapi` has copied from each source (by its URL, password hidden). Kept beside
# the logs so a batch of copied logs and the new position commit together: a resumed import neither skips
# nor repeats a row.
import_progress = Table(
    "import_progress",
    log_metadata,
    Column("source", Name(255), primary_key=True),
    Column("last_log_id", BigInteger, nullable=False, server_default="0"),
    Column("history_copied", Boolean, nullable=False, server_default="0"),
    Column("started_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    **MYSQL_TABLE,
)
