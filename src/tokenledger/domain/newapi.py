"""Adoption from New API (or one-api): the rows tokenledger takes from a gateway's database, already in
tokenledger's terms, and the rules that translate them.

- Users keep their id, bcrypt password hash (New API's `$2a$` hashes verify as they are), role, status,
  quota and group. Their plain-text access token becomes its SHA-256 digest, so it keeps working.
  A soft-deleted user (New API's `deleted_at`, one-api's status 3) stays deleted.
- API keys (New API's `tokens`) keep their id, owner, status and limits; the plain key becomes a digest and
  a masked hint. Soft-deleted keys are not copied (their logs keep the key's id and name).
- Channels keep their id, name, type, upstream key, models and groups.
- Logs keep their id, type, timestamps, tokens, quota and `other`, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tokenledger.domain import credentials
from tokenledger.domain.apikey import ApiKey
from tokenledger.domain.user import User, UserStatus

# one-api marks a deleted user with status 3 instead of a deletion time.
ONE_API_DELETED_STATUS = 3


@dataclass(frozen=True, slots=True)
class ImportedUser:
    """A user as tokenledger stores it, with what only storage sees: the access token's digest and the
    deletion time."""

    user: User
    access_token_hash: str | None
    deleted_at: int | None


@dataclass(frozen=True, slots=True)
class ImportedKey:
    """An API key as tokenledger stores it, with the digest of its secret."""

    key: ApiKey
    key_hash: str


@dataclass(frozen=True, slots=True)
class ImportedChannel:
    id: int
    name: str
    type: int
    base_url: str
    key: str
    models: str
    group: str
    status: int
    created_at: int


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far the copy from one source has come: logs up to `last_log_id` are copied, and the hourly
    usage history from before the source's first consume log is copied once (`history_copied`)."""

    source: str
    last_log_id: int
    history_copied: bool
    started_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class UserTotals:
    """Log rows and their quota sum for one user: what the verification compares."""

    user_id: int
    logs: int
    quota: int


def access_token_hash(token: str | None) -> str | None:
    """The stored form of a New API access token. PostgreSQL pads `char(32)` values with blanks."""
    if token is None or not token.strip():
        return None
    return credentials.digest(token.strip())


def key_secret(raw_key: str) -> str:
    """The `sk-` form of a New API key (stored without the prefix; clients send it with)."""
    key = raw_key.strip()
    return key if key.startswith(credentials.API_KEY_PREFIX) else credentials.API_KEY_PREFIX + key


def deletion_time(deleted_at: object, status: int, now: int) -> int | None:
    """Unix seconds at which a user was deleted, or None for a live user. New API keeps a datetime (text on
    SQLite); one-api sets status 3."""
    moment = unix_seconds(deleted_at)
    if moment is None and status == ONE_API_DELETED_STATUS:
        return now
    return moment


def user_status(status: int) -> int:
    """tokenledger knows enabled and disabled; one-api's "deleted" status is a deletion, kept disabled."""
    return int(UserStatus.ENABLED) if status == UserStatus.ENABLED else int(UserStatus.DISABLED)


def unix_seconds(value: object) -> int | None:
    """A database datetime (aware, naive UTC, or ISO text as SQLite stores it) as Unix seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return None


def fit(value: object, length: int) -> str:
    """A text value as it fits a tokenledger column: None is empty, longer text is cut."""
    text = "" if value is None else str(value)
    return text[:length]
