"""Log filters and paging, parsed from query parameters by one set of rules for every caller.

The API and the CLI build `LogFilters` through `parse_filters`, so a parameter means the same thing
wherever it is used. Parsing raises `Invalid` with a message that names the parameter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Generic, TypeVar

from tokenledger.domain import log, timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.log import LogType
from tokenledger.domain.numbers import MAX_ID, is_decimal

DEFAULT_PAGE_SIZE = 10
MAX_KEYWORD_LENGTH = 128
SEARCH_LIMIT = 100
TOKEN_LOG_LIMIT = 1000
LIKE_ESCAPE = "!"

T = TypeVar("T")
U = TypeVar("U")


class Scope(Enum):
    """Which parameters a route honours: self routes ignore the admin-only ones entirely."""

    ADMIN = "admin"
    SELF = "self"


@dataclass(frozen=True, slots=True)
class TextMatch:
    """An exact value, or a LIKE pattern (with `_` and `!` already escaped) when the caller used `%`."""

    value: str
    is_pattern: bool = False

    @property
    def literal_prefix(self) -> str:
        """What every matching value starts with: the pattern up to its first `%`, unescaped."""
        if not self.is_pattern:
            return self.value
        prefix = self.value.split("%", 1)[0]
        return prefix.replace(LIKE_ESCAPE + "_", "_").replace(LIKE_ESCAPE * 2, LIKE_ESCAPE)


@dataclass(frozen=True, slots=True)
class LogFilters:
    """What rows a query selects. `user_id`/`token_id` are set by the server from the caller, never by them."""

    type: LogType = LogType.UNKNOWN
    start_timestamp: int = 0
    end_timestamp: int = 0
    user_id: int | None = None
    token_id: int | None = None
    username: TextMatch | None = None
    token_name: str | None = None
    model_name: TextMatch | None = None
    channel: int | None = None
    group: str | None = None
    request_id: str | None = None
    upstream_request_id: str | None = None

    def scoped_to_user(self, user_id: int) -> LogFilters:
        return replace(self, user_id=user_id)

    def scoped_to_key(self, user_id: int, token_id: int) -> LogFilters:
        return replace(self, user_id=user_id, token_id=token_id)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Keyset position: continue after the row (created_at, id); `position` rows came before it."""

    created_at: int
    id: int
    position: int

    def encode(self) -> str:
        raw = f"{self.created_at}:{self.id}:{self.position}".encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            created_at, row_id, position = base64.urlsafe_b64decode(padded).decode("ascii").split(":")
            cursor = cls(int(created_at), int(row_id), int(position))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise Invalid("cursor is not valid: pass the next_cursor of a previous page unchanged") from None
        if not all(0 <= part <= MAX_ID for part in (cursor.created_at, cursor.id, cursor.position)):
            raise Invalid("cursor is not valid: pass the next_cursor of a previous page unchanged")
        return cursor


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    cursor: Cursor | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; `first_position` is the 1-based position of `items[0]` in the full ordering."""

    items: list[T]
    total: int
    page: int
    page_size: int
    first_position: int = 1
    next_cursor: str | None = None

    def with_items(self, items: list[U]) -> Page[U]:
        """The same page holding other items (the same rows rendered for a caller)."""
        return Page(items, self.total, self.page, self.page_size, self.first_position, self.next_cursor)


def _lenient_int(raw: str | None) -> int | None:
    """Paging numbers are lenient, as in New API: garbage means 'use the default'."""
    if raw is None:
        return None
    text = raw.strip()
    if not is_decimal(text.removeprefix("-")) or len(text) > 12:
        return None
    return int(text)


def parse_page(params: Mapping[str, str], max_page_size: int) -> PageRequest:
    """`p` (1-based; missing, < 1 or garbage → 1) and `page_size` (aliases `ps`, `size`; < 1 or garbage →
    default; capped at `max_page_size`), plus the optional keyset `cursor`."""
    page = _lenient_int(params.get("p"))
    if page is None or page < 1:
        page = 1
    size: int | None = None
    for name in ("page_size", "ps", "size"):
        size = _lenient_int(params.get(name))
        if size is not None and size >= 1:
            break
        size = None
    if size is None:
        size = min(DEFAULT_PAGE_SIZE, max_page_size)
    size = min(size, max_page_size)
    raw_cursor = (params.get("cursor") or "").strip()
    cursor = Cursor.decode(raw_cursor) if raw_cursor else None
    return PageRequest(page=page, page_size=size, cursor=cursor)


def parse_log_type(raw: str | None, name: str = "type") -> LogType:
    if raw is None or raw.strip() == "":
        return LogType.UNKNOWN
    text = raw.strip()
    if not is_decimal(text.lstrip("-")) or len(text) > 12:
        raise Invalid(
            f"{name} must be an integer log type (0 all, 1 top-up, 2 consume, 3 manage, 4 system, "
            f"5 error, 6 refund, 7 login), got {raw!r}"
        )
    try:
        return LogType(int(text))
    except ValueError:
        raise Invalid(f"unknown log type {text}: use 0 (all) or 1-7") from None


def parse_int_id(name: str, raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not is_decimal(text) or len(text) > 18:
        raise Invalid(f"{name} must be a non-negative integer, got {raw!r}")
    return int(text) or None  # 0 means "no filter", as in New API


def _exact(name: str, raw: str | None, max_length: int) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise Invalid(f"{name} is too long: at most {max_length} characters")
    return raw


def parse_text_match(name: str, raw: str | None, max_length: int) -> TextMatch | None:
    """Exact match, or a LIKE pattern when the value holds `%`: at most two `%`, never `%%`, and at least
    two other characters, so that a pattern cannot ask for the whole table."""
    value = _exact(name, raw, max_length)
    if value is None:
        return None
    if "%" not in value:
        return TextMatch(value)
    if value.count("%") > 2:
        raise Invalid(f"{name} pattern may contain at most two '%'")
    if "%%" in value:
        raise Invalid(f"{name} pattern must not contain '%%'")
    if len(value.replace("%", "")) < 2:
        raise Invalid(f"{name} pattern needs at least 2 characters besides '%'")
    escaped = value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("_", LIKE_ESCAPE + "_")
    return TextMatch(escaped, is_pattern=True)


def parse_filters(params: Mapping[str, str], scope: Scope, *, with_type: bool = True) -> LogFilters:
    """Build filters from query parameters. Self scope never reads `username`, `channel` or `user_id`;
    `with_type=False` (the stat routes) ignores `type` entirely, even a malformed one."""
    start = timestamps.parse("start_timestamp", params.get("start_timestamp"))
    end = timestamps.parse("end_timestamp", params.get("end_timestamp"))
    if start and end and start > end:
        raise Invalid("start_timestamp must not be after end_timestamp")
    filters = LogFilters(
        type=parse_log_type(params.get("type")) if with_type else LogType.UNKNOWN,
        start_timestamp=start,
        end_timestamp=end,
        token_name=_exact("token_name", params.get("token_name"), log.MAX_TOKEN_NAME),
        model_name=parse_text_match("model_name", params.get("model_name"), log.MAX_MODEL_NAME),
        group=_exact("group", params.get("group"), log.MAX_GROUP),
        request_id=_exact("request_id", params.get("request_id"), log.MAX_REQUEST_ID),
        upstream_request_id=_exact("upstream_request_id", params.get("upstream_request_id"), log.MAX_REQUEST_ID),
    )
    if scope is Scope.ADMIN:
        filters = replace(
            filters,
            username=parse_text_match("username", params.get("username"), log.MAX_USERNAME),
            channel=parse_int_id("channel", params.get("channel")),
        )
    return filters


def parse_keyword(raw: str | None) -> str:
    keyword = (raw or "").strip()
    if not keyword:
        raise Invalid("keyword is required: pass ?keyword=<words to find in log content>")
    if len(keyword) > MAX_KEYWORD_LENGTH:
        raise Invalid(f"keyword is too long: at most {MAX_KEYWORD_LENGTH} characters")
    return keyword
