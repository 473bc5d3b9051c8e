"""Reading logs: scoping to the caller, choosing the view, filling channel names."""

from __future__ import annotations

from typing import Any, Literal

from tokenledger.domain import timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import SEARCH_LIMIT, LogFilters, Page, PageRequest
from tokenledger.domain.log import LogStat, View, render, user_rows_json
from tokenledger.domain.principal import Principal
from tokenledger.store import channels, logs, usage
from tokenledger.store.database import Database

KeyScope = Literal["account", "token"]

MAX_SELF_DATA_SPAN = 30 * 24 * 3600


def scope_to_caller(filters: LogFilters, principal: Principal, key_scope: KeyScope) -> LogFilters:
    """Restrict filters to what the caller may see on a self route: their own rows, or only their key's
    rows when they came with an API key and the operator chose the `token` scope."""
    if principal.api_key is not None and key_scope == "token":
        return filters.scoped_to_key(principal.user.id, principal.api_key.id)
    return filters.scoped_to_user(principal.user.id)


def channel_names(db: Database, view: View) -> dict[int, str]:
    """Channel names for the admin view (the user view shows none)."""
    if view is View.USER:
        return {}
    with db.read() as conn:
        return channels.names(conn)


def has_logs(db: Database) -> bool:
    with db.read_logs() as conn:
        return logs.any_logs(conn)


def list_logs(db: Database, filters: LogFilters, page: PageRequest, view: View) -> Page[dict[str, Any]]:
    with db.read_logs() as conn:
        found = logs.list_page(conn, filters, page)
    return found.with_items(render(found.items, view, channel_names(db, view), found.first_position))


def recent_user_logs_json(db: Database, filters: LogFilters, limit: int) -> str:
    """The newest `limit` rows in the user view, as the text of a JSON array: the answer of an API key's
    own logs (up to 1,000 rows), sent as it is."""
    with db.read_logs() as conn:
        rows = logs.list_recent_user_json(conn, filters, limit)
        if rows is not None:
            return "[" + ",".join(rows) + "]"
        entries = logs.list_recent(conn, filters, limit)
    return user_rows_json(entries)


def log_stat(db: Database, filters: LogFilters) -> LogStat:
    with db.read_logs() as conn:
        return logs.stat(conn, filters, timestamps.now())


def search_logs(db: Database, keyword: str, view: View, scope: LogFilters) -> list[dict[str, Any]]:
    """The newest 100 rows matching the keyword within `scope` (empty filters: every row)."""
    with db.read_logs() as conn:
        entries = logs.search(conn, keyword, SEARCH_LIMIT, scope)
    return render(entries, view, channel_names(db, view))


def usage_data(
    db: Database,
    start: int,
    end: int,
    *,
    user_id: int | None = None,
    username: str | None = None,
) -> str:
    """Hourly consume buckets as New API's data endpoints return them, as JSON text (see
    `usage.buckets_json`)."""
    with db.read_logs() as conn:
        return usage.buckets_json(conn, start, end, user_id=user_id, username=username)


def self_data_window(start: int, end: int) -> tuple[int, int]:
    """The self data route serves at most 30 days: a missing end means now, a missing start 30 days
    before the end."""
    end = end or timestamps.now()
    start = start or max(end - MAX_SELF_DATA_SPAN, 0)
    if start > end:
        raise Invalid("start_timestamp must not be after end_timestamp")
    if end - start > MAX_SELF_DATA_SPAN:
        raise Invalid("the time span must not exceed 30 days: narrow start_timestamp..end_timestamp")
    return start, end
