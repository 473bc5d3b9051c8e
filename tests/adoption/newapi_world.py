"""A New API database to import from: the tables of New API (QuantumNous/new-api) as its GORM models define
them, on SQLite, PostgreSQL or MySQL/MariaDB, filled with realistic, deterministic rows.

The tables mirror what GORM's AutoMigrate creates for New API's models (`model/user.go`, `model/token.go`,
`model/channel.go`, `model/log.go`, `model/usedata.go`, `model/option.go`), engine by engine. GORM's rules:

- Go `int`/`int64` without a type tag: `integer` on SQLite, `bigint` on PostgreSQL/MySQL; `type:int` is a
  32-bit `int` (users.quota, used_quota, request_count, aff_*); the primary key is `integer` (SQLite rowid),
  `bigserial` (PostgreSQL) or `bigint AUTO_INCREMENT` (MySQL).
- `bool`: `numeric` holding 0/1 on SQLite, `boolean` on PostgreSQL and MySQL (tinyint(1)).
- `float64`: `real` / `decimal` (numeric without precision) / `double`.
- `string` without a size: `text`, except on MySQL: `longtext`, or `varchar(191)` when the column has an
  index, a unique constraint or a default. `size:N`: `text` on SQLite, `varchar(N)` elsewhere. Explicit
  types (`char(32)`, `char(48)`, `varchar(64)`, `text`) are used as written: PostgreSQL `character(N)` pads
  values with blanks.
- `gorm.DeletedAt` (soft delete): `datetime(3)` on MySQL (UTC), `timestamptz` on PostgreSQL, and on SQLite a
  `datetime` column holding Go's text form (`2025-11-10 18:22:05.123+08:00`). Every other time is Unix seconds
  in a bigint (`created_time`, `accessed_time`, `expired_time`, `logs.created_at`, `quota_data.created_at`).
- Index names are GORM's: `idx_<table>_<column>`, and the explicit names from the models' tags.

The data covers what an importer has to cope with: root/admin/common users, a disabled and a soft-deleted
user, users without an access token or with one-api style hex tokens, New API access tokens with `+ / =`,
bcrypt hashes with Go's `$2a$` prefix, an OAuth-only user with an empty password, soft-deleted API keys, a
non-ASCII key name, multi-key channels, logs of every type with New API's JSON `other`, and `quota_data`
with hours whose logs were pruned and a key split over two rows (the table has no unique constraint).
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import bcrypt
from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

MYSQL = ("mysql", "mariadb")
QUOTA_PER_UNIT = 500_000  # New API's default: 500 000 quota = 1 USD
DAY = 86_400
HOUR = 3_600
BEIJING = timezone(timedelta(hours=8))


# --- GORM's column types, engine by engine -------------------------------------------------------------------


def _primary_key() -> TypeEngine[int]:
    """`Id int` with `primaryKey`: integer (rowid) / bigserial / bigint AUTO_INCREMENT."""
    return BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


def _go_int() -> TypeEngine[int]:
    """Go `int`/`int64` without a type tag: integer / bigint / bigint."""
    return BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


def _go_uint() -> TypeEngine[int]:
    """Go `*uint` (channels.weight): integer / bigint / bigint unsigned."""
    return BigInteger().with_variant(sqlite.INTEGER(), "sqlite").with_variant(mysql.BIGINT(unsigned=True), *MYSQL)


def _int32() -> TypeEngine[int]:
    """`type:int`: a 32-bit int on every engine."""
    return Integer()


def _go_bool() -> TypeEngine[bool]:
    """Go `bool`: numeric (0/1) / boolean / boolean (tinyint(1))."""
    return Boolean().with_variant(sqlite.NUMERIC(), "sqlite")


def _go_float() -> TypeEngine[float]:
    """Go `float64`: real / decimal / double."""
    return (
        Float()
        .with_variant(sqlite.REAL(), "sqlite")
        .with_variant(postgresql.NUMERIC(), "postgresql")
        .with_variant(mysql.DOUBLE(), *MYSQL)
    )


def _long_text() -> TypeEngine[str]:
    """Go `string` without size, index or default: text / text / longtext."""
    return Text().with_variant(mysql.LONGTEXT(), *MYSQL)


def _keyed_text() -> TypeEngine[str]:
    """Go `string` without size but with an index, unique constraint or default: text / text / varchar(191)."""
    return Text().with_variant(mysql.VARCHAR(191), *MYSQL)


def _sized_text(size: int) -> TypeEngine[str]:
    """Go `string` with `size:N`: text on SQLite (the size is ignored), varchar(N) elsewhere."""
    return String(size).with_variant(sqlite.TEXT(), "sqlite")


class _SqliteDatetime(UserDefinedType[str]):
    """SQLite's `datetime` column as GORM declares it; values are Go's time text."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "datetime"


def _go_time_text(value: datetime) -> str:
    """A time as Go's SQLite driver writes it: `2006-01-02 15:04:05.999999999-07:00` (no trailing zeros)."""
    fraction = f"{value.microsecond:06d}".rstrip("0")
    return (
        value.strftime("%Y-%m-%d %H:%M:%S")
        + (f".{fraction}" if fraction else "")
        + value.strftime("%z")[:3]
        + ":"
        + value.strftime("%z")[3:]
    )


class GoDeletedAt(TypeDecorator[Any]):
    """`gorm.DeletedAt`: datetime (Go text) on SQLite, timestamptz on PostgreSQL, datetime(3) in UTC on MySQL.
    Bind an aware datetime."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDatetime())
        if dialect.name in MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=3))
        return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return _go_time_text(value)
        if dialect.name in MYSQL:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value


# --- The tables ----------------------------------------------------------------------------------------------

metadata = MetaData()

users_table = Table(
    "users",
    metadata,
    Column("id", _primary_key(), primary_key=True, autoincrement=True),
    Column("username", _keyed_text(), unique=True),
    Column("password", _long_text(), nullable=False),
    Column("display_name", _keyed_text()),
    Column("role", _int32(), server_default=text("1")),
    Column("status", _int32(), server_default=text("1")),
    Column("email", _keyed_text()),
    Column("github_id", _keyed_text()),
    Column("discord_id", _keyed_text()),
    Column("oidc_id", _keyed_text()),
    Column("wechat_id", _keyed_text()),
    Column("telegram_id", _keyed_text()),
    Column("linux_do_id", _keyed_text()),
    Column("access_token", CHAR(32)),
    Column("quota", _int32(), server_default=text("0")),
    Column("used_quota", _int32(), server_default=text("0")),
    Column("request_count", _int32(), server_default=text("0")),
    Column("group", String(64), server_default="default"),
    Column("aff_code", String(32)),
    Column("aff_count", _int32(), server_default=text("0")),
    Column("aff_quota", _int32(), server_default=text("0")),
    Column("aff_history", _int32(), server_default=text("0")),
    Column("inviter_id", _int32()),
    Column("deleted_at", GoDeletedAt()),
    Column("setting", Text()),
    Column("remark", String(255)),
    Column("stripe_customer", String(64)),
    Index("idx_users_username", "username"),
    Index("idx_users_display_name", "display_name"),
    Index("idx_users_email", "email"),
    Index("idx_users_github_id", "github_id"),
    Index("idx_users_discord_id", "discord_id"),
    Index("idx_users_oidc_id", "oidc_id"),
    Index("idx_users_wechat_id", "wechat_id"),
    Index("idx_users_telegram_id", "telegram_id"),
    Index("idx_users_linux_do_id", "linux_do_id"),
    Index("idx_users_access_token", "access_token", unique=True),
    Index("idx_users_aff_code", "aff_code", unique=True),
    Index("idx_users_inviter_id", "inviter_id"),
    Index("idx_users_deleted_at", "deleted_at"),
    Index("idx_users_stripe_customer", "stripe_customer"),
)

tokens_table = Table(
    "tokens",
    metadata,
    Column("id", _primary_key(), primary_key=True, autoincrement=True),
    Column("user_id", _go_int()),
    Column("key", CHAR(48)),
    Column("status", _go_int(), server_default=text("1")),
    Column("name", _keyed_text()),
    Column("created_time", _go_int()),
    Column("accessed_time", _go_int()),
    Column("expired_time", _go_int(), server_default=text("-1")),
    Column("remain_quota", _go_int(), server_default=text("0")),
    Column("unlimited_quota", _go_bool()),
    Column("model_limits_enabled", _go_bool()),
    Column("model_limits", String(1024), server_default=""),
    Column("allow_ips", _keyed_text(), server_default=""),
    Column("used_quota", _go_int(), server_default=text("0")),
    Column("group", _keyed_text(), server_default=""),
    Column("deleted_at", GoDeletedAt()),
    Index("idx_tokens_user_id", "user_id"),
    Index("idx_tokens_key", "key", unique=True),
    Index("idx_tokens_name", "name"),
    Index("idx_tokens_deleted_at", "deleted_at"),
)

channels_table = Table(
    "channels",
    metadata,
    Column("id", _primary_key(), primary_key=True, autoincrement=True),
    Column("type", _go_int(), server_default=text("0")),
    Column("key", _long_text(), nullable=False),
    Column("openai_organization", _long_text()),
    Column("test_model", _long_text()),
    Column("status", _go_int(), server_default=text("1")),
    Column("name", _keyed_text()),
    Column("weight", _go_uint(), server_default=text("0")),
    Column("created_time", _go_int()),
    Column("test_time", _go_int()),
    Column("response_time", _go_int()),
    Column("base_url", _keyed_text(), server_default=""),
    Column("other", _long_text()),
    Column("balance", _go_float()),
    Column("balance_updated_time", _go_int()),
    Column("models", _long_text()),
    Column("group", String(64), server_default="default"),
    Column("used_quota", _go_int(), server_default=text("0")),
    Column("model_mapping", Text()),
    Column("status_code_mapping", String(1024), server_default=""),
    Column("priority", _go_int(), server_default=text("0")),
    Column("auto_ban", _go_int(), server_default=text("1")),
    Column("other_info", _long_text()),
    Column("tag", _keyed_text()),
    Column("setting", Text()),
    Column("param_override", Text()),
    Column("header_override", Text()),
    Column("remark", String(255)),
    Column("channel_info", JSON()),
    Column("settings", _long_text()),
    Index("idx_channels_name", "name"),
    Index("idx_channels_tag", "tag"),
)

logs_table = Table(
    "logs",
    metadata,
    Column("id", _primary_key(), primary_key=True, autoincrement=True),
    Column("user_id", _go_int()),
    Column("created_at", _go_int()),
    Column("type", _go_int()),
    Column("content", _long_text()),
    Column("username", _keyed_text(), server_default=""),
    Column("token_name", _keyed_text(), server_default=""),
    Column("model_name", _keyed_text(), server_default=""),
    Column("quota", _go_int(), server_default=text("0")),
    Column("prompt_tokens", _go_int(), server_default=text("0")),
    Column("completion_tokens", _go_int(), server_default=text("0")),
    Column("use_time", _go_int(), server_default=text("0")),
    Column("is_stream", _go_bool()),
    Column("channel_id", _go_int()),
    Column("token_id", _go_int(), server_default=text("0")),
    Column("group", _keyed_text()),
    Column("ip", _keyed_text(), server_default=""),
    Column("request_id", String(64), server_default=""),
    Column("other", _long_text()),
    Index("idx_created_at_id", "id", "created_at"),
    Index("idx_logs_user_id", "user_id"),
    Index("idx_created_at_type", "created_at", "type"),
    Index("idx_logs_username", "username"),
    Index("index_username_model_name", "model_name", "username"),
    Index("idx_logs_token_name", "token_name"),
    Index("idx_logs_model_name", "model_name"),
    Index("idx_logs_channel_id", "channel_id"),
    Index("idx_logs_token_id", "token_id"),
    Index("idx_logs_group", "group"),
    Index("idx_logs_ip", "ip"),
    Index("idx_logs_request_id", "request_id"),
)

quota_data_table = Table(
    "quota_data",
    metadata,
    Column("id", _primary_key(), primary_key=True, autoincrement=True),
    Column("user_id", _go_int()),
    Column("username", _sized_text(64), server_default=""),
    Column("model_name", _sized_text(64), server_default=""),
    Column("created_at", _go_int()),
    Column("token_used", _go_int(), server_default=text("0")),
    Column("count", _go_int(), server_default=text("0")),
    Column("quota", _go_int(), server_default=text("0")),
    Index("idx_quota_data_user_id", "user_id"),
    Index("idx_qdt_model_user_name", "model_name", "username"),
    Index("idx_qdt_created_at", "created_at"),
)

options_table = Table(
    "options",
    metadata,
    Column("key", _keyed_text(), primary_key=True),
    Column("value", _long_text()),
)

MAIN_TABLES = [channels_table, tokens_table, users_table, options_table, quota_data_table]
LOG_TABLES = [logs_table]


# --- What was inserted ---------------------------------------------------------------------------------------


@dataclass
class NewApiWorld:
    users: list[dict[str, Any]]  # one dict per users row as inserted, plus "plain_password" and "plain_access_token"
    tokens: list[dict[str, Any]]  # per tokens row as inserted; "key" is the 48-char key without "sk-"
    channels: list[dict[str, Any]]
    logs: list[dict[str, Any]]  # per logs row as inserted, ascending id
    quota_data: list[dict[str, Any]]


# model -> (model_ratio, completion_ratio, weight of the model in the traffic)
MODELS: dict[str, tuple[float, float, int]] = {
    "gpt-4o-mini": (0.075, 4, 35),
    "gpt-4o": (1.25, 4, 25),
    "claude-3-5-sonnet-20241022": (1.5, 5, 20),
    "deepseek-chat": (0.135, 4, 12),
    "gemini-1.5-pro": (1.25, 4, 8),
}
GROUP_RATIOS: dict[str, float] = {"default": 1, "vip": 0.8, "svip": 0.6}
UPSTREAM_ERRORS = [
    "upstream error: status 429, Rate limit reached for requests",
    "upstream error: status 500, internal server error",
    "upstream error: status 529, overloaded_error",
    'do request failed: Post "https://api.openai.com/v1/chat/completions": context deadline exceeded',
    "当前分组 {group} 下对于模型 {model} 无可用渠道",
]


@dataclass(frozen=True)
class _UserPlan:
    username: str
    role: int
    group: str
    access_token: str  # "base64", "base64-padded", "hex" (one-api style) or "none"
    status: int = 1
    deleted: bool = False
    oauth_only: bool = False
    invited_by: str | None = None


USER_PLANS = [
    _UserPlan("root", 100, "default", "base64"),
    _UserPlan("admin", 10, "default", "base64"),
    _UserPlan("Alice", 1, "vip", "base64-padded"),
    _UserPlan("alice2", 1, "default", "base64", invited_by="Alice"),
    _UserPlan("bob", 1, "default", "hex"),
    _UserPlan("Carol", 1, "svip", "base64"),
    _UserPlan("dave_dev", 1, "default", "none"),
    _UserPlan("Erin", 1, "vip", "base64", invited_by="Alice"),
    _UserPlan("frank", 1, "default", "base64"),
    _UserPlan("GraceH", 1, "default", "base64"),
    _UserPlan("mallory", 1, "default", "base64", status=2),
    _UserPlan("trudy", 1, "vip", "base64", deleted=True),
    _UserPlan("octocat", 1, "default", "base64", oauth_only=True),
]


@dataclass(frozen=True)
class _TokenPlan:
    owner: str
    name: str
    status: int = 1  # 1 enabled, 2 disabled, 3 expired, 4 exhausted
    group: str = ""
    deleted: bool = False


TOKEN_PLANS = [
    _TokenPlan("root", "default"),
    _TokenPlan("root", "ops-monitoring"),
    _TokenPlan("admin", "default"),
    _TokenPlan("Alice", "default"),
    _TokenPlan("Alice", "prod-eu", group="vip"),
    _TokenPlan("Alice", "old-key", deleted=True),
    _TokenPlan("alice2", "default"),
    _TokenPlan("bob", "default"),
    _TokenPlan("bob", "测试"),
    _TokenPlan("Carol", "default"),
    _TokenPlan("Carol", "prod-eu", group="vip"),
    _TokenPlan("dave_dev", "default"),
    _TokenPlan("dave_dev", "batch-jobs", status=3),
    _TokenPlan("Erin", "default"),
    _TokenPlan("Erin", "cursor", status=4),
    _TokenPlan("frank", "default"),
    _TokenPlan("GraceH", "default"),
    _TokenPlan("GraceH", "staging", status=2),
    _TokenPlan("mallory", "default"),
    _TokenPlan("trudy", "default", group="vip"),
    _TokenPlan("octocat", "n8n"),
]

# (name, type, base_url, models, group, status, number of upstream keys)
CHANNEL_PLANS: list[tuple[str, int, str | None, str, str, int, int]] = [
    ("OpenAI 主渠道", 1, "https://api.openai.com", "gpt-4o,gpt-4o-mini", "default,vip", 1, 1),
    ("Azure East US", 3, "https://contoso-eastus.openai.azure.com", "gpt-4o,gpt-4o-mini", "default,vip,svip", 1, 1),
    (
        "Anthropic",
        14,
        "https://api.anthropic.com",
        "claude-3-5-sonnet-20241022,claude-3-5-haiku-20241022",
        "default,vip",
        1,
        2,
    ),
    ("Gemini", 24, None, "gemini-1.5-pro,gemini-1.5-flash", "default,vip", 1, 1),
    ("DeepSeek", 43, "https://api.deepseek.com", "deepseek-chat,deepseek-reasoner", "default,vip", 1, 1),
    ("OpenAI backup", 1, "https://api.openai.com", "gpt-4o,gpt-4o-mini", "default,vip", 3, 1),
    ("old relay", 8, "https://relay.example.net", "gpt-4o-mini,deepseek-chat", "default,vip", 2, 1),
]


# --- Values as New API makes them ----------------------------------------------------------------------------

_ALPHANUMERIC = string.digits + string.ascii_letters
_STD_B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
_BCRYPT_B64 = "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits


def _go_json(value: dict[str, Any]) -> str:
    """JSON as Go's encoding/json writes a map: sorted keys, no spaces, whole floats without `.0`."""

    def whole(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {key: whole(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [whole(inner) for inner in item]
        return item

    return json.dumps(whole(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _bcrypt_hash(password: str, rng: random.Random) -> str:
    """A bcrypt hash (cost 4 to keep tests fast, salt from `rng`) with Go's `$2a$` prefix."""
    salt = base64.b64encode(rng.randbytes(16)).decode()[:22].translate(str.maketrans(_STD_B64, _BCRYPT_B64))
    hashed = bcrypt.hashpw(password.encode(), f"$2b$04${salt}".encode()).decode()
    return "$2a$" + hashed.removeprefix("$2b$")


def _access_token(kind: str, rng: random.Random) -> str | None:
    if kind == "none":
        return None
    if kind == "hex":  # one-api: GetUUID()
        return f"{rng.getrandbits(128):032x}"
    if kind == "base64-padded":  # base64 of 22 bytes: 30 characters and "=="
        return base64.b64encode(rng.randbytes(22)).decode()
    # New API: GenerateRandomKey(29 + rand(0..3)), base64 of random bytes
    return base64.b64encode(rng.randbytes(24)).decode()[: 28 + rng.randrange(5)]


def _api_key(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHANUMERIC) for _ in range(48))


def _deleted_at(unix: int, rng: random.Random) -> datetime:
    """A soft-delete time (Beijing time, millisecond precision, as every engine keeps it)."""
    return datetime.fromtimestamp(unix, BEIJING).replace(microsecond=rng.randrange(1000) * 1000)


def _request_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}" if rng.random() < 0.8 else ""


# --- Writing -------------------------------------------------------------------------------------------------


def _insert_one(conn: Connection, table: Table, row: dict[str, Any]) -> dict[str, Any]:
    pk = conn.execute(insert(table).values(row)).inserted_primary_key
    assert pk is not None
    return {"id": int(pk[0]), **row}


def _insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert rows in order and read back the ids the database gave them."""
    if not rows:
        return []
    before = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    conn.execute(insert(table), list(rows))
    ids = conn.execute(select(table.c.id).where(table.c.id > before).order_by(table.c.id)).scalars().all()
    if len(ids) != len(rows):
        raise RuntimeError(f"{table.name}: inserted {len(rows)} rows but found {len(ids)} new ids")
    return [{"id": int(row_id), **row} for row_id, row in zip(ids, rows, strict=True)]


def _engine(url: str) -> Engine:
    return create_engine(url)


def _recreate(engine: Engine, tables: list[Table]) -> None:
    metadata.drop_all(engine, tables=tables, checkfirst=True)
    metadata.create_all(engine, tables=tables)


# --- The world -----------------------------------------------------------------------------------------------


def _make_users(rng: random.Random, now: int) -> list[tuple[dict[str, Any], str | None, str | None]]:
    """(users row, plain password, plain access token) per planned user, in insertion order."""
    codes: set[str] = set()
    made: list[tuple[dict[str, Any], str | None, str | None]] = []
    for plan in USER_PLANS:
        plain_password: str | None
        if plan.oauth_only:
            plain_password = None
        elif plan.username == "root":
            plain_password = "123456"  # New API's default root password
        else:
            plain_password = f"{plan.username.lower()}-" + "".join(rng.choice(_ALPHANUMERIC) for _ in range(10))
        token = _access_token(plan.access_token, rng)
        code = "".join(rng.choice(_ALPHANUMERIC) for _ in range(4))
        while code in codes:
            code = "".join(rng.choice(_ALPHANUMERIC) for _ in range(4))
        codes.add(code)
        quota = 0 if plan.status == 2 else rng.randrange(0, 50_000_000)
        row: dict[str, Any] = {
            "username": plan.username,
            "password": "" if plain_password is None else _bcrypt_hash(plain_password, rng),
            "display_name": plan.username.capitalize() if plan.role == 1 else plan.username.title() + " User",
            "role": plan.role,
            "status": plan.status,
            "email": "" if plan.oauth_only else f"{plan.username.lower()}@example.com",
            "github_id": str(rng.randrange(100_000, 90_000_000)) if plan.oauth_only else "",
            "discord_id": "",
            "oidc_id": "",
            "wechat_id": "",
            "telegram_id": "",
            "linux_do_id": "",
            "access_token": token,
            "quota": quota,
            "used_quota": rng.randrange(0, 20_000_000),
            "request_count": rng.randrange(0, 5_000),
            "group": plan.group,
            "aff_code": code,
            "aff_count": 0,
            "aff_quota": 0,
            "aff_history": 0,
            "inviter_id": 0,
            "deleted_at": _deleted_at(now - 3 * DAY, rng) if plan.deleted else None,
            "setting": _go_json({"notify_type": "email", "quota_warning_threshold": 500000})
            if rng.random() < 0.5
            else "",
            "remark": "",
            "stripe_customer": "",
        }
        made.append((row, plain_password, token))
    if not any(token and set(token) & set("+/=") for _, _, token in made):
        raise AssertionError("an access token with + / = is part of the plan")
    return made


def _make_tokens(rng: random.Random, now: int, user_ids: dict[str, int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for plan in TOKEN_PLANS:
        created = now - rng.randrange(20 * DAY, 200 * DAY)
        unlimited = plan.status != 4 and rng.random() < 0.5
        if plan.status == 3:
            expired = now - 2 * DAY
        elif rng.random() < 0.25:
            expired = now + rng.randrange(30 * DAY, 365 * DAY)
        else:
            expired = -1
        used = rng.randrange(0, 10_000_000)
        rows.append(
            {
                "user_id": user_ids[plan.owner],
                "key": _api_key(rng),
                "status": plan.status,
                "name": plan.name,
                "created_time": created,
                "accessed_time": min(now, _ended(plan, now)) - rng.randrange(0, DAY),
                "expired_time": expired,
                "remain_quota": 0 if plan.status == 4 else rng.randrange(0, 20_000_000),
                "unlimited_quota": unlimited,
                "model_limits_enabled": plan.name == "n8n",
                "model_limits": "gpt-4o-mini,deepseek-chat" if plan.name == "n8n" else "",
                "allow_ips": "203.0.113.0/24\n198.51.100.7" if plan.name == "prod-eu" else "",
                "used_quota": used,
                "group": plan.group,
                "deleted_at": _deleted_at(now - 2 * DAY, rng) if plan.deleted else None,
            }
        )
    return rows


def _ended(plan: _TokenPlan, now: int) -> int:
    """When a key stopped being usable (its logs are all older)."""
    if plan.deleted or plan.status == 3:
        return now - 2 * DAY
    if plan.status == 2:
        return now - 4 * DAY
    if plan.status == 4:
        return now - DAY
    return now


def _make_channels(rng: random.Random, now: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, kind, base_url, models, group, status, key_count in CHANNEL_PLANS:
        keys = "\n".join(
            "sk-upstream-" + "".join(rng.choice(_ALPHANUMERIC) for _ in range(40)) for _ in range(key_count)
        )
        info = {
            "is_multi_key": key_count > 1,
            "multi_key_size": key_count if key_count > 1 else 0,
            "multi_key_status_list": None,
            "multi_key_polling_index": 0,
            "multi_key_mode": "random" if key_count > 1 else "",
        }
        rows.append(
            {
                "type": kind,
                "key": keys,
                "openai_organization": None,
                "test_model": models.split(",")[-1] if rng.random() < 0.5 else None,
                "status": status,
                "name": name,
                "weight": rng.choice([0, 1, 5]),
                "created_time": now - rng.randrange(60 * DAY, 400 * DAY),
                "test_time": now - rng.randrange(0, 7 * DAY),
                "response_time": rng.randrange(300, 4000),
                "base_url": base_url,
                "other": "2024-08-01-preview" if kind == 3 else "",
                "balance": round(rng.uniform(0, 500), 2) if kind in (1, 43) else 0.0,
                "balance_updated_time": now - rng.randrange(0, 30 * DAY) if kind in (1, 43) else 0,
                "models": models,
                "group": group,
                "used_quota": rng.randrange(0, 500_000_000),
                "model_mapping": _go_json({"gpt-4o": "gpt-4o-2024-08-06"}) if kind == 3 else None,
                "status_code_mapping": "",
                "priority": 10 if status == 1 and kind == 1 else 0,
                "auto_ban": 1,
                "other_info": _go_json({"status_reason": "upstream 401", "status_time": now - 5 * DAY})
                if status == 3
                else "",
                "tag": "openai" if kind in (1, 3) else None,
                "setting": _go_json({"force_format": False, "proxy": ""}),
                "param_override": None,
                "header_override": None,
                "remark": None,
                "channel_info": info,
                "settings": "",
            }
        )
    return rows


class _LogMaker:
    """Builds log rows the way New API's RecordConsumeLog / RecordErrorLog / RecordLog fill them."""

    def __init__(self, rng: random.Random, world: NewApiWorld) -> None:
        self.rng = rng
        self.users = {user["id"]: user for user in world.users}
        self.channels = world.channels
        self.user_ips = {user["id"]: f"203.0.113.{rng.randrange(1, 255)}" for user in world.users}
        self.user_weights = {user["id"]: rng.paretovariate(1.0) for user in world.users}

    def _base(self, user: dict[str, Any], created_at: int, kind: int) -> dict[str, Any]:
        return {
            "user_id": user["id"],
            "created_at": created_at,
            "type": kind,
            "content": "",
            "username": user["username"],
            "token_name": "",
            "model_name": "",
            "quota": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "use_time": 0,
            "is_stream": False,
            "channel_id": 0,
            "token_id": 0,
            "group": "",
            "ip": "",
            "request_id": "",
            "other": "",
        }

    def _model(self) -> str:
        names = list(MODELS)
        return self.rng.choices(names, weights=[MODELS[name][2] for name in names])[0]

    def _channel(self, model: str) -> dict[str, Any]:
        serving = [channel for channel in self.channels if model in channel["models"].split(",")]
        enabled = [channel for channel in serving if channel["status"] == 1]
        return self.rng.choice(enabled if enabled and self.rng.random() < 0.9 else serving)

    def _request(self, user: dict[str, Any], token: dict[str, Any], created_at: int, kind: int) -> dict[str, Any]:
        row = self._base(user, created_at, kind)
        model = self._model()
        row.update(
            token_name=token["name"],
            token_id=token["id"],
            model_name=model,
            group=token["group"] or user["group"],
            is_stream=self.rng.random() < 0.6,
            channel_id=self._channel(model)["id"],
            ip=self.user_ips[user["id"]] if self.rng.random() < 0.9 else "",
            request_id=_request_id(self.rng),
        )
        return row

    def consume(self, user: dict[str, Any], token: dict[str, Any], created_at: int) -> dict[str, Any]:
        row = self._request(user, token, created_at, 2)
        model_ratio, completion_ratio, _ = MODELS[row["model_name"]]
        group_ratio = GROUP_RATIOS.get(row["group"], 1)
        prompt = min(int(self.rng.paretovariate(1.1) * 300), 200_000)
        completion = min(int(self.rng.lognormvariate(5.0, 1.1)), 16_000)
        quota = max(1, round((prompt + completion * completion_ratio) * model_ratio * group_ratio))
        frt = self.rng.randrange(250, 3000) if row["is_stream"] else -1000
        other: dict[str, Any] = {
            "admin_info": {"use_channel": [str(row["channel_id"])]},
            "completion_ratio": completion_ratio,
            "frt": frt,
            "group_ratio": group_ratio,
            "model_price": -1,
            "model_ratio": model_ratio,
        }
        if row["model_name"].startswith("claude") and self.rng.random() < 0.3:
            other.update(cache_tokens=prompt // 2, cache_ratio=0.1, claude=True)
        if self.rng.random() < 0.5:
            content = f"模型倍率 {model_ratio:.2f}，补全倍率 {completion_ratio:.2f}，分组倍率 {group_ratio:.2f}"
        else:
            content = (
                f"model ratio {model_ratio:.2f}, completion ratio {completion_ratio:.2f}, group ratio {group_ratio:.2f}"
            )
        row.update(
            content=content,
            quota=quota,
            prompt_tokens=prompt,
            completion_tokens=completion,
            use_time=max(1, completion // 80 + self.rng.randrange(0, 4)),
            other=_go_json(other) if self.rng.random() < 0.9 else "",
        )
        return row

    def error(self, user: dict[str, Any], token: dict[str, Any], created_at: int) -> dict[str, Any]:
        row = self._request(user, token, created_at, 5)
        message = self.rng.choice(UPSTREAM_ERRORS).format(group=row["group"], model=row["model_name"])
        status = int(message.split("status ")[1][:3]) if "status " in message else 503
        row.update(
            content=message,
            use_time=self.rng.randrange(0, 30),
            other=_go_json(
                {
                    "admin_info": {"use_channel": [str(row["channel_id"])]},
                    "error_code": "upstream_error",
                    "error_type": "new_api_error",
                    "status_code": status,
                }
            ),
        )
        return row

    def refund(self, user: dict[str, Any], token: dict[str, Any], created_at: int) -> dict[str, Any]:
        row = self._request(user, token, created_at, 6)
        amount = self.rng.randrange(5_000, 200_000)
        row.update(
            content=f"异步任务执行失败，退还额度 ＄{amount / QUOTA_PER_UNIT:.6f}",
            quota=amount,
            is_stream=False,
            request_id="",
        )
        return row

    def account(self, user: dict[str, Any], created_at: int, kind: int) -> dict[str, Any]:
        """A topup (1), manage (3) or system (4) log: no key, model or channel."""
        row = self._base(user, created_at, kind)
        dollars = self.rng.choice([1, 5, 10, 20, 50, 100])
        if kind == 1:
            if self.rng.random() < 0.5:
                row["content"] = f"管理员给用户增加额度 ${dollars:.2f}"
            else:
                row["content"] = f"通过兑换码充值 ＄{dollars:.6f} 额度，兑换码ID {self.rng.randrange(1, 80)}"
            row["quota"] = dollars * QUOTA_PER_UNIT
        elif kind == 3:
            before = self.rng.choice([0, 5, 20])
            row["content"] = f"管理员将用户额度从 ＄{before:.6f}额度 修改为 ＄{before + dollars:.6f}额度"
        else:
            row["content"] = self.rng.choice(
                [f"新用户注册赠送 ＄{dollars:.6f} 额度", "User quota warning: remaining quota below threshold"]
            )
        return row

    def pick(
        self, created_at: int, pairs: list[tuple[dict[str, Any], dict[str, Any], int]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A (user, key) in use at `created_at`, heavy users more often."""
        alive = [(user, token) for user, token, ended in pairs if ended > created_at]
        weights = [self.user_weights[user["id"]] for user, _ in alive]
        return self.rng.choices(alive, weights=weights)[0]


def _key_lifetimes(world: NewApiWorld, now: int) -> list[tuple[dict[str, Any], dict[str, Any], int]]:
    """(user, key, time the key stopped being usable) for every key."""
    users = {user["id"]: user for user in world.users}
    user_end = {plan.username: now for plan in USER_PLANS}
    user_end.update({plan.username: now - 4 * DAY for plan in USER_PLANS if plan.status == 2})
    user_end.update({plan.username: now - 3 * DAY for plan in USER_PLANS if plan.deleted})
    pairs = []
    for token, plan in zip(world.tokens, TOKEN_PLANS, strict=True):
        user = users[token["user_id"]]
        pairs.append((user, token, min(_ended(plan, now), user_end[user["username"]])))
    return pairs


def _make_logs(rng: random.Random, world: NewApiWorld, count: int, now: int) -> list[dict[str, Any]]:
    if count < 4:
        raise ValueError("logs: at least 4, to hold the special rows")
    maker = _LogMaker(rng, world)
    pairs = _key_lifetimes(world, now)
    # Two early requests (the soft-deleted user's, and one with the key deleted later), the rest over ten days.
    times = [now - 9 * DAY - rng.randrange(DAY), now - 8 * DAY - rng.randrange(DAY)]
    times += [now - rng.randrange(60, 10 * DAY) for _ in range(count - 2)]
    times.sort()
    same = count // 3
    times[same + 1] = times[same]  # two logs in the same second
    deleted_user = next(user for user in world.users if user["deleted_at"] is not None)
    deleted_key = next(token for token in world.tokens if token["deleted_at"] is not None)
    key_owner = next(user for user in world.users if user["id"] == deleted_key["user_id"])
    deleted_users_key = next(token for token in world.tokens if token["user_id"] == deleted_user["id"])
    rows: list[dict[str, Any]] = []
    for index, created_at in enumerate(times):
        if index == 0:
            rows.append(maker.consume(deleted_user, deleted_users_key, created_at))
            continue
        if index == 1:
            rows.append(maker.consume(key_owner, deleted_key, created_at))
            continue
        if index == count // 2:
            rows.append(maker.refund(*maker.pick(created_at, pairs), created_at))
            continue
        draw = rng.random()
        if draw < 0.90:
            rows.append(maker.consume(*maker.pick(created_at, pairs), created_at))
        elif draw < 0.95:
            rows.append(maker.error(*maker.pick(created_at, pairs), created_at))
        else:
            kind = rng.choices([1, 3, 4, 6], weights=[40, 25, 20, 15])[0]
            if kind == 6:
                rows.append(maker.refund(*maker.pick(created_at, pairs), created_at))
            else:
                alive = [user for user in world.users if user["deleted_at"] is None]
                rows.append(maker.account(rng.choice(alive), created_at, kind))
    return rows


def _make_quota_data(rng: random.Random, world: NewApiWorld, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """New API's hourly aggregation of the consume logs, older hours whose logs were pruned, and one key
    split over two rows (written by two nodes)."""
    buckets: dict[tuple[int, str, str, int], dict[str, Any]] = {}
    for log in logs:
        if log["type"] != 2:
            continue
        hour = log["created_at"] - log["created_at"] % HOUR
        key = (log["user_id"], log["username"], log["model_name"], hour)
        bucket = buckets.setdefault(
            key,
            {
                "user_id": log["user_id"],
                "username": log["username"],
                "model_name": log["model_name"],
                "created_at": hour,
                "token_used": 0,
                "count": 0,
                "quota": 0,
            },
        )
        bucket["token_used"] += log["prompt_tokens"] + log["completion_tokens"]
        bucket["count"] += 1
        bucket["quota"] += log["quota"]
    earliest = min(log["created_at"] for log in logs)
    first_hour = earliest - earliest % HOUR
    active = [user for user in world.users if user["status"] == 1]
    for _ in range(24):
        user = rng.choice(active)
        hour = first_hour - rng.randrange(3 * 24, 5 * 24 + 1) * HOUR
        model = rng.choice(list(MODELS))
        key = (user["id"], user["username"], model, hour)
        if key in buckets:
            continue
        requests = rng.randrange(2, 60)
        tokens_used = requests * rng.randrange(300, 6_000)
        buckets[key] = {
            "user_id": user["id"],
            "username": user["username"],
            "model_name": model,
            "created_at": hour,
            "token_used": tokens_used,
            "count": requests,
            "quota": max(1, round(tokens_used * MODELS[model][0])),
        }
    rows = sorted(buckets.values(), key=lambda row: (row["created_at"], row["user_id"], row["model_name"]))
    # A flush from a second node: the busiest recent hour is split over two rows with the same key.
    split = max((row for row in rows if row["created_at"] >= first_hour), key=lambda row: row["count"])
    if split["count"] < 2:
        split = next(row for row in rows if row["count"] >= 2)
    second = {
        **split,
        "count": split["count"] // 2,
        "quota": split["quota"] // 2,
        "token_used": split["token_used"] // 2,
    }
    split["count"] -= second["count"]
    split["quota"] -= second["quota"]
    split["token_used"] -= second["token_used"]
    return [*rows, second]


def _options(now: int) -> list[dict[str, Any]]:
    return [
        {"key": "QuotaPerUnit", "value": str(QUOTA_PER_UNIT)},
        {"key": "DisplayInCurrencyEnabled", "value": "true"},
        {"key": "LogConsumeEnabled", "value": "true"},
        {"key": "DataExportEnabled", "value": "true"},
        {"key": "DataExportInterval", "value": "5"},
        {"key": "GroupRatio", "value": _go_json(dict(GROUP_RATIOS))},
        {"key": "ModelRatio", "value": _go_json({name: ratio for name, (ratio, _, _) in MODELS.items()})},
        {"key": "SystemName", "value": "New API"},
        {"key": "LastSetupTime", "value": str(now - 400 * DAY)},
    ]


def create_newapi_database(
    url: str, *, log_url: str | None = None, seed: int = 1, logs: int = 600, now: int = 1_763_000_000
) -> NewApiWorld:
    """Create New API's tables in the database at `url` (a SQLAlchemy URL: sqlite:///..., postgresql+psycopg://...,
    mysql+pymysql://...?charset=utf8mb4) — with the logs table in `log_url` instead when given, as New API's
    LOG_SQL_DSN does — and insert realistic rows. Returns what was inserted.

    Existing New API tables in those databases are dropped first."""
    rng = random.Random(seed)
    main = _engine(url)
    log_engine = _engine(log_url) if log_url and log_url != url else main
    try:
        if log_engine is main:
            _recreate(main, MAIN_TABLES + LOG_TABLES)
        else:
            _recreate(main, MAIN_TABLES)
            _recreate(log_engine, LOG_TABLES)
        world = NewApiWorld(users=[], tokens=[], channels=[], logs=[], quota_data=[])
        with main.begin() as conn:
            user_ids: dict[str, int] = {}
            for row, plain_password, plain_token in _make_users(rng, now):
                plan = next(plan for plan in USER_PLANS if plan.username == row["username"])
                if plan.invited_by is not None:
                    row["inviter_id"] = user_ids[plan.invited_by]
                inserted = _insert_one(conn, users_table, row)
                user_ids[row["username"]] = inserted["id"]
                world.users.append({**inserted, "plain_password": plain_password, "plain_access_token": plain_token})
            world.tokens = [_insert_one(conn, tokens_table, row) for row in _make_tokens(rng, now, user_ids)]
            world.channels = [_insert_one(conn, channels_table, row) for row in _make_channels(rng, now)]
            conn.execute(insert(options_table), _options(now))
        log_rows = _make_logs(rng, world, logs, now)
        with log_engine.begin() as conn:
            world.logs = _insert_many(conn, logs_table, log_rows)
        with main.begin() as conn:
            world.quota_data = _insert_many(conn, quota_data_table, _make_quota_data(rng, world, world.logs))
        return world
    finally:
        main.dispose()
        if log_engine is not main:
            log_engine.dispose()


def add_logs(
    url: str, world: NewApiWorld, count: int, *, seed: int = 2, now: int | None = None
) -> list[dict[str, Any]]:
    """Insert `count` more log rows (as New API would while running), append them to world.logs and return them.
    `url` is the database holding the logs table. The rows are consume (and some error) logs of enabled users'
    enabled keys, a few seconds before `now` (default: an hour after the newest log). quota_data is left as is."""
    rng = random.Random(seed)
    if now is None:
        now = max((log["created_at"] for log in world.logs), default=1_763_000_000) + HOUR
    maker = _LogMaker(rng, world)
    users = {user["id"]: user for user in world.users}
    pairs = [
        (users[token["user_id"]], token, now + 1)
        for token in world.tokens
        if token["status"] == 1
        and token["deleted_at"] is None
        and (token["expired_time"] == -1 or token["expired_time"] > now)
        and users[token["user_id"]]["status"] == 1
        and users[token["user_id"]]["deleted_at"] is None
    ]
    rows: list[dict[str, Any]] = []
    for created_at in sorted(now - rng.randrange(1, 30) for _ in range(count)):
        user, token = maker.pick(created_at, pairs)
        make = maker.consume if rng.random() < 0.95 else maker.error
        rows.append(make(user, token, created_at))
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            inserted = _insert_many(conn, logs_table, rows)
    finally:
        engine.dispose()
    world.logs.extend(inserted)
    return inserted


__all__ = ["NewApiWorld", "add_logs", "create_newapi_database"]
