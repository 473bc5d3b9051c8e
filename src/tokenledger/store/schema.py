"""Table definitions. Names and columns follow New API (users, tokens, channels, logs, quota_data) so that
operators recognise them and imports map one to one. Every timestamp is a Unix-seconds integer."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tokenledger.domain import log

# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# `sqlite_autoincrement` stops SQLite from reusing the id of a deleted row: a new key or user must never
# inherit the logs of a deleted one.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(log.MAX_USERNAME), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("display_name", String(64), nullable=False, server_default=""),
    Column("role", Integer, nullable=False, server_default="1"),
    Column("status", Integer, nullable=False, server_default="1"),
    Column("email", String(255), nullable=False, server_default=""),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    Column("used_quota", BigInteger, nullable=False, server_default="0"),
    Column("request_count", BigInteger, nullable=False, server_default="0"),
    Column("group", String(log.MAX_GROUP), nullable=False, server_default="default"),
    Column("access_token_hash", String(64), nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    sqlite_autoincrement=True,
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(log.MAX_TOKEN_NAME), nullable=False, server_default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_hint", String(32), nullable=False),
    Column("status", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("accessed_at", BigInteger, nullable=False, server_default="0"),
    Column("expired_time", BigInteger, nullable=False, server_default="-1"),
    Column("remain_quota", BigInteger, nullable=False, server_default="0"),
    Column("unlimited_quota", Boolean, nullable=False, server_default="0"),
    Column("used_quota", BigInteger, nullable=False, server_default="0"),
    Column("group", String(log.MAX_GROUP), nullable=False, server_default=""),
    Column("ingest", Boolean, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)

channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("type", Integer, nullable=False, server_default="1"),
    Column("base_url", String(255), nullable=False, server_default=""),
    # The upstream provider's key: kept usable because a relay must present it upstream; shown masked.
    Column("key", Text, nullable=False),
    Column("models", Text, nullable=False),
    Column("group", String(255), nullable=False, server_default="default"),
    Column("status", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

logs = Table(
    "logs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("type", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("username", String(log.MAX_USERNAME), nullable=False, server_default=""),
    Column("token_name", String(log.MAX_TOKEN_NAME), nullable=False, server_default=""),
    Column("model_name", String(log.MAX_MODEL_NAME), nullable=False, server_default=""),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    Column("prompt_tokens", BigInteger, nullable=False, server_default="0"),
    Column("completion_tokens", BigInteger, nullable=False, server_default="0"),
    Column("use_time", Integer, nullable=False, server_default="0"),
    Column("is_stream", Boolean, nullable=False, server_default="0"),
    Column("channel_id", BigInteger, nullable=False, server_default="0"),
    Column("token_id", BigInteger, nullable=False, server_default="0"),
    Column("group", String(log.MAX_GROUP), nullable=False, server_default=""),
    Column("ip", String(log.MAX_IP), nullable=False, server_default=""),
    Column("request_id", String(log.MAX_REQUEST_ID), nullable=False, server_default=""),
    Column("upstream_request_id", String(log.MAX_REQUEST_ID), nullable=False, server_default=""),
    Column("other", Text, nullable=False),
    # Every list is ordered by (created_at, id) descending; each index ends in that order so a filtered
    # page is read straight off the index.
    Index("ix_logs_created_at_id", "created_at", "id"),
    Index("ix_logs_user_id_created_at_id", "user_id", "created_at", "id"),
    Index("ix_logs_token_id_created_at_id", "token_id", "created_at", "id"),
    Index("ix_logs_type_created_at", "type", "created_at"),
    Index("ix_logs_model_name_created_at", "model_name", "created_at"),
    Index("ix_logs_username_created_at", "username", "created_at"),
    Index("ix_logs_channel_id_created_at", "channel_id", "created_at"),
    Index("ix_logs_request_id", "request_id"),
    sqlite_autoincrement=True,
)

# Hourly usage of consume logs, kept in the same transaction as the logs it sums (New API's quota_data).
# It outlives log retention: bills and charts need it after the detailed rows are pruned.
quota_data = Table(
    "quota_data",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("username", String(log.MAX_USERNAME), nullable=False, server_default=""),
    Column("model_name", String(log.MAX_MODEL_NAME), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("token_used", BigInteger, nullable=False, server_default="0"),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("user_id", "model_name", "created_at"),
    Index("ix_quota_data_created_at", "created_at"),
    Index("ix_quota_data_username_created_at", "username", "created_at"),
)
