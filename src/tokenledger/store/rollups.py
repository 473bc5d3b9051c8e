"""Hourly log totals, kept in the same transaction as the logs they count, so that `total`, stats and
charts cost the same on a thousand rows or a billion. Two tables: `log_rollups` (one row per scope key,
hour and type; what totals read) and `usage_hourly` (one row per full combination of the chart dimensions,
hour and type; what a chart reads when no scope covers its grouping).

Every log adds to one row per *scope*: all logs; its user; its user and API key; its username; its key
name; its model; its channel; its group; its user and key name; its user and model. A rollup row holds,
for one scope key, one hour and one log type: the row count, quota and token sums.

A count (or quota sum) for filters whose dimensions are exactly those of a scope reads that scope's rows
for the whole hours inside the time window (at most 24 × days × types rows for one key), plus the raw rows
of the partial hours at the window's edges through the (dimension, created_at) indexes. A username that
only one user has ever logged under, and that user under no other name (`log_usernames` records every
pair), selects the same logs as that user's id: with a model, key or key name beside it, the user's
scopes answer. Any other combination of filters (a request id, three dimensions at once) counts raw rows
through the most selective index.

Neither table is touched when logs are deleted: they are the usage history, which outlives log
retention. Instead `log_retention.pruned_before` records how far logs were pruned, and totals read the
rollups only from the first whole hour at or after it, counting any row before it one by one (a pruned
range holds next to none).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)

from tokenledger.domain.filters import LIKE_ESCAPE, LogFilters, TextMatch
from tokenledger.domain.log import LogEntry
from tokenledger.store import _dialect
from tokenledger.store.schema import log_retention, log_rollups, log_usernames, usage_hourly

HOUR = 3600


@dataclass(frozen=True, slots=True)
class _Scope:
    """A combination of filter dimensions with totals of its own. Its key is up to two ids (`key1`,
    `key2`) and one text (`key_text`); dimension names are the attribute names of LogEntry and LogFilters."""

    code: int  # stored: never renumber
    ids: tuple[str, ...] = ()
    text: str | None = None

    @property
    def dimensions(self) -> frozenset[str]:
        return frozenset(self.ids + ((self.text,) if self.text else ()))

    def key_of(self, entry: LogEntry) -> tuple[int, int, str]:
        ids = [int(getattr(entry, name)) for name in self.ids] + [0, 0]
        return ids[0], ids[1], str(getattr(entry, self.text)) if self.text else ""


SCOPES = (
    _Scope(0),
    _Scope(1, ids=("user_id",)),
    _Scope(2, ids=("user_id", "token_id")),
    _Scope(3, text="username"),
    _Scope(4, text="token_name"),
    _Scope(5, text="model_name"),
    _Scope(6, ids=("channel",)),
    _Scope(7, text="group"),
    _Scope(8, ids=("user_id",), text="token_name"),
    _Scope(9, ids=("user_id",), text="model_name"),
)
_BY_DIMENSIONS = {scope.dimensions: scope for scope in SCOPES}
_DIMENSIONS = ("user_id", "token_id", "username", "token_name", "model_name", "channel", "group")
_SUMMED = ("count", "quota", "prompt_tokens", "completion_tokens")


@dataclass(frozen=True, slots=True)
class Totals:
    count: int = 0
    quota: int = 0
    tokens: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.count + other.count, self.quota + other.quota, self.tokens + other.tokens)


_Group = tuple[int, int, int, str, str, str, str, int, int]


def _groups(entries: Sequence[LogEntry]) -> dict[_Group, list[int]]:
    """The entries summed per full set of dimensions, hour and type (far fewer groups than rows)."""
    groups: dict[_Group, list[int]] = {}
    for entry in entries:
        full = (
            entry.user_id,
            entry.token_id,
            entry.channel,
            entry.username,
            entry.token_name,
            entry.model_name,
            entry.group,
            entry.created_at - entry.created_at % HOUR,
            int(entry.type),
        )
        sums = groups.get(full)
        if sums is None:
            sums = groups[full] = [0, 0, 0, 0]
        sums[0] += 1
        sums[1] += entry.quota
        sums[2] += entry.prompt_tokens
        sums[3] += entry.completion_tokens
    return groups


_ROLLUP_KEY = ("scope", "key1", "key2", "key_text", "hour", "type")
_USAGE_KEY = ("hour", "user_id", "token_id", "channel_id", "model_name", "group", "type", "token_name")


def _rollup_rows(groups: dict[_Group, list[int]]) -> list[tuple[Any, ...]]:
    """Each group folded into its scopes: rows of _ROLLUP_KEY + _SUMMED."""
    rows: dict[tuple[int, int, int, str, int, int], list[int]] = {}
    for (user, token, channel, username, token_name, model, group, hour, kind), sums in groups.items():
        for key in (
            (0, 0, 0, "", hour, kind),
            (1, user, 0, "", hour, kind),
            (2, user, token, "", hour, kind),
            (3, 0, 0, username, hour, kind),
            (4, 0, 0, token_name, hour, kind),
            (5, 0, 0, model, hour, kind),
            (6, channel, 0, "", hour, kind),
            (7, 0, 0, group, hour, kind),
            (8, user, 0, token_name, hour, kind),
            (9, user, 0, model, hour, kind),
        ):
            total = rows.get(key)
            if total is None:
                rows[key] = sums.copy()
            else:
                total[0] += sums[0]
                total[1] += sums[1]
                total[2] += sums[2]
                total[3] += sums[3]
    return [(*key, *sums) for key, sums in rows.items()]


def _usage_rows(groups: dict[_Group, list[int]]) -> list[tuple[Any, ...]]:
    """Rows of _USAGE_KEY + _SUMMED."""
    return [
        (hour, user, token, channel, model, group, kind, token_name, *sums)
        for (user, token, channel, _username, token_name, model, group, hour, kind), sums in groups.items()
    ]


def add(conn: Connection, entries: Sequence[LogEntry]) -> None:
    """Count new logs. Call in the transaction that inserts them."""
    groups = _groups(entries)
    rollup_columns = (*_ROLLUP_KEY, *_SUMMED)
    _dialect.upsert_add(conn, log_rollups, rollup_columns, _rollup_rows(groups), key=_ROLLUP_KEY, added=_SUMMED)
    usage_columns = (*_USAGE_KEY, *_SUMMED)
    _dialect.upsert_add(conn, usage_hourly, usage_columns, _usage_rows(groups), key=_USAGE_KEY, added=_SUMMED)
    # Nearly every pair is known already: a lookup that finds it writes nothing.
    usernames = list({(username, user) for (user, _, _, username, *_rest) in groups})
    _dialect.insert_missing(conn, log_usernames, ("username", "user_id"), usernames, key=("username", "user_id"))


def pruned_before(conn: Connection) -> int:
    """Every log created before this was deleted at some point (0: none ever was)."""
    found = conn.execute(select(log_retention.c.pruned_before).where(log_retention.c.id == 1)).scalar()
    return int(found or 0)


def mark_pruned(conn: Connection, before: int) -> None:
    """Record that every log created before `before` has been deleted (in the deleting transaction)."""
    moved = conn.execute(
        update(log_retention)
        .where(log_retention.c.id == 1, log_retention.c.pruned_before < before)
        .values(pruned_before=before)
    )
    if moved.rowcount == 0 and pruned_before(conn) == 0:
        conn.execute(insert(log_retention).values(id=1, pruned_before=before))


def _text(column: Any, match: TextMatch | str) -> ColumnElement[bool]:
    if isinstance(match, TextMatch) and match.is_pattern:
        return column.like(match.value, escape=LIKE_ESCAPE)  # type: ignore[no-any-return]
    value = match.value if isinstance(match, TextMatch) else match
    return column == value  # type: ignore[no-any-return]


def values_like(conn: Connection, dimension: str, pattern: TextMatch, limit: int) -> list[str] | None:
    """The distinct values a text dimension (`username`, `model_name`, …) has had in any log that match
    the LIKE `pattern`, in order; None when more than `limit` do. The rollups hold every value ever logged,
    so this reads one index seek per value found (within the pattern's literal prefix), never the logs.

    PostgreSQL and SQLite seek them all in one recursive statement; MySQL and MariaDB, which answer its
    correlated "next value" by scanning from the scope's first key (see docs/performance.md, "Charts
    grouped by a key"), in one statement per value. The statements are built once (_values_like_statements):
    on PostgreSQL, building `gpt-4o%`'s five statements and running them took 2.6 ms, the recursive one
    built each time 1.9, built once 0.8."""
    prefix = pattern.literal_prefix
    # Every table compares these texts code point by code point: the prefix's successor bounds it.
    bounded = bool(prefix) and prefix[-1] != chr(sys.maxunicode)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if bounded else ""
    first, following, recursive = _values_like_statements(_BY_DIMENSIONS[frozenset((dimension,))].code, bounded)
    params: dict[str, Any] = {"pattern": pattern.value, "prefix": prefix, "upper": upper, "limit": limit}
    if conn.dialect.name != "mysql":
        found = [str(value) for value in conn.execute(recursive, params).scalars()]
        return None if len(found) > limit else found
    found = []
    value = conn.execute(first, params).scalar()
    while value is not None:
        if len(found) == limit:
            return None
        found.append(str(value))
        value = conn.execute(following, {**params, "after": value}).scalar()
    return found


@functools.cache
def _values_like_statements(scope_code: int, bounded: bool) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """`values_like`'s statements for a scope, with `upper` bounding the values or not: the first value
    (at or after `prefix`), the first after `after`, and every value (up to `limit` + 1) in one recursive
    statement, each a seek of the scope's index."""
    key_text = log_rollups.c.key_text
    where = [
        log_rollups.c.scope == scope_code,
        log_rollups.c.key1 == 0,
        log_rollups.c.key2 == 0,
        key_text.like(bindparam("pattern", type_=String), escape=LIKE_ESCAPE),
    ]
    if bounded:
        where.append(key_text < bindparam("upper", type_=String))

    def first_after(after: ColumnElement[bool]) -> Select[Any]:
        # One lower bound only: given two, an engine may seek by the looser one and filter by the other.
        # The first in index order rather than min(): beside a LIKE, MariaDB computed min() by reading every
        # row of the range (each value's rows for every hour) instead of stopping at the first.
        return select(key_text).where(*where, after).order_by(key_text).limit(1)

    first = first_after(key_text >= bindparam("prefix", type_=String))
    following = first_after(key_text > bindparam("after", type_=String))
    values = select(first.scalar_subquery().label("value"), literal(1, Integer).label("n")).cte(
        "pattern_values", recursive=True
    )
    values = values.union_all(
        select(first_after(key_text > values.c.value).scalar_subquery(), values.c.n + 1).where(
            values.c.value.is_not(None), values.c.n <= bindparam("limit", type_=Integer)
        )
    )
    recursive = select(values.c.value).where(values.c.value.is_not(None)).order_by(values.c.n)
    return first, following, recursive


def _scope_for(filters: LogFilters) -> _Scope | None:
    """The scope whose dimensions are exactly those the filters fix; None for any other combination and
    for request ids (which select a handful of rows through their own index)."""
    if filters.request_id is not None or filters.upstream_request_id is not None:
        return None
    return _BY_DIMENSIONS.get(frozenset(name for name in _DIMENSIONS if getattr(filters, name) is not None))


def sole_user(conn: Connection, username: str) -> int | None:
    """The user id every log carrying `username` has, when every log of that user carries it too; None when
    the name was logged under several users (imported history), the user under several names, or never."""
    users = conn.execute(select(log_usernames.c.user_id).where(log_usernames.c.username == username).limit(2)).all()
    if len(users) != 1:
        return None
    user = int(users[0][0])
    names = conn.execute(select(log_usernames.c.username).where(log_usernames.c.user_id == user).limit(2)).all()
    return user if len(names) == 1 else None


def covering_scope(conn: Connection, filters: LogFilters) -> tuple[_Scope | None, LogFilters]:
    """The scope whose rollups answer for `filters`, with the filters it answers for: the filters
    themselves, or the same logs selected by user id instead of an exact username (see `sole_user`)."""
    scope = _scope_for(filters)
    username = filters.username
    if scope is not None or username is None or username.is_pattern:
        return scope, filters
    user = sole_user(conn, username.value)
    if user is None or filters.user_id not in (None, user):
        return None, filters
    by_user = replace(filters, username=None, user_id=user)
    scope = _scope_for(by_user)
    return (scope, by_user) if scope is not None else (None, filters)


def _key_conditions(scope: _Scope, filters: LogFilters) -> list[ColumnElement[bool]]:
    ids = [int(getattr(filters, name)) for name in scope.ids] + [0, 0]
    where: list[ColumnElement[bool]] = [
        log_rollups.c.scope == scope.code,
        log_rollups.c.key1 == ids[0],
        log_rollups.c.key2 == ids[1],
    ]
    match = getattr(filters, scope.text) if scope.text else ""
    where.append(_text(log_rollups.c.key_text, match))
    return where


def whole_hours(filters: LogFilters) -> tuple[int | None, int | None]:
    """The hours [first, last) wholly inside the filters' window (None: unbounded on that side)."""
    first = None
    if filters.start_timestamp:
        first = -(-filters.start_timestamp // HOUR) * HOUR
    last = None
    if filters.end_timestamp:
        # The window includes end_timestamp itself, i.e. every second before end_timestamp + 1.
        last = (filters.end_timestamp + 1) // HOUR * HOUR
    return first, last


def totals(
    conn: Connection,
    filters: LogFilters,
    *,
    types: Sequence[int] | None,
    raw: Callable[[LogFilters], Totals],
) -> Totals:
    """Count, quota and token sums of the logs matching `filters` (their `type` replaced by `types`, None:
    all). `raw(filters)` totals raw rows; it is called for the partial hours at the window's edges, or for
    everything when no scope covers the filters."""
    scope, filters = covering_scope(conn, filters)
    first, last = whole_hours(filters)
    # The rollups still count pruned logs: they are read only from the first whole hour after the pruning.
    pruned = pruned_before(conn)
    if pruned:
        valid_from = -(-pruned // HOUR) * HOUR
        first = valid_from if first is None else max(first, valid_from)
    if scope is None or (first is not None and last is not None and first >= last):
        return raw(filters)
    where = _key_conditions(scope, filters)
    if types is not None:
        where.append(log_rollups.c.type.in_(list(types)))
    if first is not None:
        where.append(log_rollups.c.hour >= first)
    if last is not None:
        where.append(log_rollups.c.hour < last)
    row = conn.execute(
        select(
            func.coalesce(func.sum(log_rollups.c.count), 0),
            func.coalesce(func.sum(log_rollups.c.quota), 0),
            func.coalesce(func.sum(log_rollups.c.prompt_tokens + log_rollups.c.completion_tokens), 0),
        ).where(*where)
    ).one()
    found = Totals(int(row[0]), int(row[1]), int(row[2]))
    if first is not None and first > filters.start_timestamp:
        found += raw(_window(filters, filters.start_timestamp, first - 1))
    if last is not None and last <= filters.end_timestamp:
        found += raw(_window(filters, last, filters.end_timestamp))
    return found


def _window(filters: LogFilters, start: int, end: int) -> LogFilters:
    return replace(filters, start_timestamp=start, end_timestamp=end)
