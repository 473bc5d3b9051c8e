"""All configuration in one typed object, read from the environment (New API's names where it has them)
and validated at startup. Nothing reads the environment anywhere else."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQL_DSN = "sqlite:///./data/tokenledger.db"
# Values people paste from examples; a server must not run with a secret everyone knows.
PLACEHOLDER_SECRETS = frozenset({"random_string", "changeme", "change-me", "secret", "your_secret"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True)

    sql_dsn: str = Field(
        DEFAULT_SQL_DSN,
        validation_alias="SQL_DSN",
        description=(
            "Database for everything tokenledger stores: sqlite:///…, postgresql://…, mysql://… or a Go MySQL "
            "DSN (user:pass@tcp(host:3306)/db). Default: a SQLite file under ./data/."
        ),
    )
    log_sql_dsn: str | None = Field(
        None,
        validation_alias="LOG_SQL_DSN",
        description="Separate database for logs and usage data, possibly of another engine. Unset: SQL_DSN.",
    )
    host: str = Field("127.0.0.1", validation_alias="HOST", description="Address the server listens on.")
    port: int = Field(3000, ge=1, le=65535, validation_alias="PORT", description="Port the server listens on.")
    session_secret: str | None = Field(
        None,
        validation_alias="SESSION_SECRET",
        description="Key that signs session cookies. Unset: a random key per process (logins end at restart).",
    )
    initial_root_password: str | None = Field(
        None,
        validation_alias="INITIAL_ROOT_PASSWORD",
        description="Password of the root user created on first start. Unset: generated and printed once.",
    )
    initial_root_access_token: str | None = Field(
        None,
        validation_alias="INITIAL_ROOT_ACCESS_TOKEN",
        description="Access token given to root on first start. Unset: generated and printed once.",
    )
    api_key_log_scope: Literal["account", "token"] = Field(
        "account",
        validation_alias="API_KEY_LOG_SCOPE",
        description="What an sk- key sees on the self endpoints: its owner's logs (account) or its own (token).",
    )
    max_items_per_page: int = Field(
        100,
        ge=1,
        le=10_000,
        validation_alias="MAX_ITEMS_PER_PAGE",
        description="Largest page_size a list endpoint serves; larger requests are capped.",
    )
    ingest_queue_rows: int = Field(
        200_000,
        ge=1_000,
        le=10_000_000,
        validation_alias="INGEST_QUEUE_ROWS",
        description="Rows of ingest requests that may wait to be written; beyond, requests wait, then get 503.",
    )
    log_retention_days: int = Field(
        0,
        ge=0,
        le=100_000,
        validation_alias="LOG_RETENTION_DAYS",
        description="Delete logs older than this many days, in the background (0: keep forever). Usage history stays.",
    )
    log_retention_check_seconds: float = Field(
        600,
        gt=0,
        validation_alias="LOG_RETENTION_CHECK_SECONDS",
        description="How often the background cleaner looks for logs past retention and for cleanups to resume.",
    )
    log_cleanup_batch_rows: int = Field(
        5_000,
        ge=1,
        le=1_000_000,
        validation_alias="LOG_CLEANUP_BATCH_ROWS",
        description="Logs deleted per transaction by a cleanup: small batches keep writers and readers waiting little.",
    )
    rate_limit_enabled: bool = Field(
        True,
        validation_alias="RATE_LIMIT_ENABLED",
        description="Whether /api/log/token and the search routes are rate limited.",
    )
    token_log_rate_limit: int = Field(
        60,
        ge=1,
        validation_alias="TOKEN_LOG_RATE_LIMIT",
        description="Requests a minute each API key may make to /api/log/token.",
    )
    search_rate_limit: int = Field(
        30,
        ge=1,
        validation_alias="SEARCH_RATE_LIMIT",
        description="Requests a minute each user may make to the search routes.",
    )
    session_max_age_days: int = Field(
        30,
        ge=1,
        validation_alias="SESSION_MAX_AGE_DAYS",
        description="How long a login session lasts.",
    )

    @field_validator("session_secret")
    @classmethod
    def _reject_placeholder(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("SESSION_SECRET is a well-known placeholder: set a long random value")
        return value

    @field_validator("log_sql_dsn")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("sql_dsn")
    @classmethod
    def _require_dsn(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("SQL_DSN is empty: give a database URL such as sqlite:///./data/tokenledger.db")
        return value.strip()
