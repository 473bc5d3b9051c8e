"""Log rows: insert, list (offset and keyset pages), stat, search, delete."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.util import ClauseAdapter

from tokenledger.domain.filters import LIKE_ESCAPE, Cursor, LogFilters, Page, PageRequest, TextMatch
from tokenledger.domain.log import ADMIN_ONLY_OTHER_KEYS, LogEntry, LogStat, LogType, LogValues, user_row_json
from tokenledger.domain.newapi import UserTotals
from tokenledger.domain.numbers import is_decimal
from tokenledger.store import _dialect, rollups, usage
from tokenledger.store.schema import logs

RECENT_WINDOW_SECONDS = 60
# Full-text matches few enough that search lists them all at once (it reads up to this many to find out).
SEARCH_FEW_MATCHES = 500
# Windows in which search lists more matches (PostgreSQL and MySQL): the first holds this many times the
# rows the walk's matches say it takes to find a page, each next one is this many times as long.
SEARCH_WINDOW_SLACK = 1.5
SEARCH_WINDOW_GROWTH = 4
# SQLite reads the full-text index's newest matches by id first (see _newest_matching_by_id): the first
# batch holds this many times the page; past this many matches to read, this many rows out of id order
# newer than the page, or rows newer than the page this many times the ids above it, search takes its
# other plans.
SEARCH_BY_ID_FIRST_BATCH = 2
SEARCH_BY_ID_MATCHES = 10_000
SEARCH_BY_ID_STRAGGLERS = 1_000
SEARCH_BY_ID_WALK_SLACK = 2
# Within a scope (a user, a key…), only words with at least this many matches in all are read by id: the
# scope's share of the newest matches costs more to read, a match at a time, than the set of every match
# the other plans build while it is small (a heavy user's rare word at 1M rows: 10 against 6 ms; 6 against
# 14 ms at 10M).
SEARCH_BY_ID_SCOPED_MATCHES = 10_000
# On SQLite, a scope with at most this many rows is searched by reading its rows, newest first, and matching
# their content (a light user's rare word at 10M rows: 6–25 ms with the set of every match, see the tenth
# round in docs/performance.md).
SEARCH_SMALL_SCOPE_ROWS = 1_000

_ORDER = (logs.c.created_at.desc(), logs.c.id.desc())


def _text_condition(column: Any, match: TextMatch) -> ColumnElement[bool]:
    if match.is_pattern:
        return column.like(match.value, escape=LIKE_ESCAPE)  # type: ignore[no-any-return]
    return column == match.value  # type: ignore[no-any-return]


def _conditions(filters: LogFilters, *, with_time: bool = True, with_type: bool = True) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.user_id is not None and filters.token_id is not None:
        # A key's logs are a small part of its owner's. The owner's condition is `user_id + 0`, which no
        # engine reads through the user's index, walking their other keys' rows (SQLite, which keeps no
        # statistics, chose it: a heavy key's 1,000 rows took 28 ms instead of 7 at 1M rows). PostgreSQL
        # estimates it from extended statistics on that very expression (migration 0011), so the 0 is
        # written literally, not bound.
        where.append((logs.c.user_id + literal_column("0")) == filters.user_id)
    elif filters.user_id is not None:
        where.append(logs.c.user_id == filters.user_id)
    if filters.token_id is not None:
        where.append(logs.c.token_id == filters.token_id)
    if with_type and filters.type != LogType.UNKNOWN:
        where.append(logs.c.type == int(filters.type))
    if with_time and filters.start_timestamp:
        where.append(logs.c.created_at >= filters.start_timestamp)
    if with_time and filters.end_timestamp:
        where.append(logs.c.created_at <= filters.end_timestamp)
    if filters.username is not None:
        where.append(_text_condition(logs.c.username, filters.username))
    if filters.token_name is not None:
        where.append(logs.c.token_name == filters.token_name)
    if filters.model_name is not None:
        where.append(_text_condition(logs.c.model_name, filters.model_name))
    if filters.channel is not None:
        where.append(logs.c.channel_id == filters.channel)
    if filters.group is not None:
        where.append(logs.c.group == filters.group)
    if filters.request_id is not None:
        where.append(logs.c.request_id == filters.request_id)
    if filters.upstream_request_id is not None:
        where.append(logs.c.upstream_request_id == filters.upstream_request_id)
    return where


def _entries(conn: Connection, query: Select[Any]) -> list[LogEntry]:
    """The entries a query selecting `_ENTRY_COLUMNS` returns, read as the driver's tuples."""
    return [LogEntry.of_values(values) for values in _dialect.driver_rows(conn, query)]


# Table columns in LogEntry's field order (its `channel` is the `channel_id` column).
_ENTRY_COLUMN_NAMES = tuple("channel_id" if field.name == "channel" else field.name for field in fields(LogEntry))
# The columns of `LogEntry`, in the order of its fields (see LogValues): what every read of whole rows selects.
_ENTRY_COLUMNS = [logs.c[name] for name in _ENTRY_COLUMN_NAMES]
# What an insert writes: everything but the id the database assigns.
_COLUMNS = _ENTRY_COLUMN_NAMES[1:]


def _values(entry: LogEntry) -> tuple[Any, ...]:
    """A row of _COLUMNS."""
    return (
        entry.user_id,
        entry.created_at,
        int(entry.type),
        entry.content,
        entry.username,
        entry.token_name,
        entry.model_name,
        entry.quota,
        entry.prompt_tokens,
        entry.completion_tokens,
        entry.use_time,
        entry.is_stream,
        entry.channel,
        entry.token_id,
        entry.group,
        entry.ip,
        entry.request_id,
        entry.upstream_request_id,
        entry.other,
    )


def insert_logs(conn: Connection, entries: Sequence[LogEntry]) -> int:
    """Insert log rows (their `id` is ignored and assigned by the database) and fold the consume rows
    into the hourly usage table in the same transaction. Returns the number of rows inserted."""
    if not entries:
        return 0
    # Writers hold the write lock (BEGIN IMMEDIATE on SQLite), so the new rows are exactly those above this id.
    after_id = _dialect.last_log_id(conn)
    _dialect.bulk_insert(conn, logs, _COLUMNS, [_values(entry) for entry in entries])
    _dialect.index_new_logs(conn, after_id)
    usage.add_consumption(conn, entries)
    rollups.add(conn, entries)
    return len(entries)


def copy_logs(conn: Connection, entries: Sequence[LogEntry]) -> int:
    """Insert logs keeping their ids (an import), index them for search and fold the consume rows into the
    hourly usage table, in the caller's transaction. Returns the number of rows inserted."""
    if not entries:
        return 0
    _dialect.bulk_insert(conn, logs, ("id", *_COLUMNS), [(entry.id, *_values(entry)) for entry in entries])
    _dialect.index_logs(conn, [entry.id for entry in entries])
    _dialect.follow_explicit_ids(conn, logs)
    usage.add_consumption(conn, entries)
    rollups.add(conn, entries)
    return len(entries)


def ids_between(conn: Connection, above: int, up_to: int) -> set[int]:
    """Ids of the logs in (above, up_to]."""
    return set(conn.execute(select(logs.c.id).where(logs.c.id > above, logs.c.id <= up_to)).scalars())


def totals_by_user(conn: Connection, up_to_id: int, table: Table = logs) -> dict[int, UserTotals]:
    """Per user: how many log rows with ids up to `up_to_id`, and their quota sum. `table` may be another
    database's logs table of the same shape (New API's, when verifying an import)."""
    query = (
        select(table.c.user_id, func.count().label("logs"), func.coalesce(func.sum(table.c.quota), 0).label("quota"))
        .where(table.c.id <= up_to_id)
        .group_by(table.c.user_id)
    )
    return {
        int(row.user_id): UserTotals(user_id=int(row.user_id), logs=int(row.logs), quota=int(row.quota))
        for row in conn.execute(query)
    }


# A LIKE pattern that matches at most this many distinct values is read as one index range per value,
# merged newest first: a page then costs (offset + size) rows per value, instead of every matching row
# sorted (a common prefix matches millions).
_PATTERN_VALUES = 32
_PATTERN_DIMENSIONS = ("username", "model_name")
# Every filter that picks rows by a value of theirs (all but the type and the time window).
_DIMENSION_FILTERS = tuple(
    field.name for field in fields(LogFilters) if field.name not in ("type", "start_timestamp", "end_timestamp")
)


def _after(cursor: Cursor | None) -> list[ColumnElement[bool]]:
    """Rows after the cursor's row, newest first. The `<=` bound on its own gives every dialect an index
    range to seek to; the OR only trims the rows of the cursor's second that were already read."""
    if cursor is None:
        return []
    return [
        logs.c.created_at <= cursor.created_at,
        or_(logs.c.created_at < cursor.created_at, logs.c.id < cursor.id),
    ]


def _since(created_at: int, row_id: int) -> list[ColumnElement[bool]]:
    """The row (created_at, row_id) and every row newer than it: the `>=` bound on its own gives an index
    range to seek to; the OR only trims the older rows of that second."""
    return [logs.c.created_at >= created_at, or_(logs.c.created_at > created_at, logs.c.id >= row_id)]


def _pattern_values(conn: Connection, filters: LogFilters) -> tuple[str, list[str]] | None:
    """The one text filter given as a pattern and the values it matches, when few enough to read one by
    one; None otherwise (no pattern, two patterns, or too many values)."""
    patterns = [
        (name, match)
        for name in _PATTERN_DIMENSIONS
        if (match := getattr(filters, name)) is not None and match.is_pattern
    ]
    if len(patterns) != 1:
        return None
    name, pattern = patterns[0]
    values = rollups.values_like(conn, name, pattern, _PATTERN_VALUES)
    return None if values is None else (name, values)


def _without(filters: LogFilters, name: str) -> LogFilters:
    """The filters less one of the _PATTERN_DIMENSIONS."""
    return replace(filters, username=None) if name == "username" else replace(filters, model_name=None)


def _matching(
    conn: Connection, filters: LogFilters, *, with_time: bool = True, with_type: bool = True
) -> list[ColumnElement[bool]]:
    """_conditions, with a pattern replaced by the few values it matches when it can be: every engine then
    seeks one index range per value, instead of reading every row under the pattern's prefix."""
    expanded = _pattern_values(conn, filters)
    if expanded is None:
        return _conditions(filters, with_time=with_time, with_type=with_type)
    name, values = expanded
    exact = _without(filters, name)
    return [*_conditions(exact, with_time=with_time, with_type=with_type), logs.c[name].in_(values)]


def _newest(
    conn: Connection,
    filters: LogFilters,
    *,
    limit: int,
    offset: int = 0,
    after: Cursor | None = None,
    columns: Sequence[Any] = _ENTRY_COLUMNS,
    page: bool = False,
) -> Select[Any]:
    """Matching rows newest first: `limit` of them from `offset` on, after the cursor's row when given.
    A pattern alone is read value by value, as ids merged newest first before the page's rows are read;
    beside another filter (a user, a key…), that filter's own index read newest first finds the page sooner
    than values which may be rare or absent for it. Otherwise a `page` (of the list endpoints) past the
    first may read its ids first (see _defers_rows); an export's batches do not: on MariaDB the join cost
    them a fifth of their speed (admin export batches, 87–96 against 69–75 thousand rows/s)."""
    fixed = [name for name in _DIMENSION_FILTERS if getattr(filters, name) is not None]
    expanded = _pattern_values(conn, filters) if len(fixed) == 1 else None
    if expanded is None:
        if page and _defers_rows(conn.dialect.name, offset, after):
            return _rows_of(_page_ids(filters, limit, offset, after), columns)
        query = select(*columns).where(*_conditions(filters), *_after(after))
        return query.order_by(*_ORDER).offset(offset).limit(limit)
    name, values = expanded
    if not values:
        return select(*columns).where(false())
    exact = _without(filters, name)
    # Each value's newest ids (from its index alone where the filters allow), merged; then the page's rows.
    parts = [
        select(logs.c.id, logs.c.created_at)
        .where(*_conditions(exact), logs.c[name] == value, *_after(after))
        .order_by(*_ORDER)
        .limit(offset + limit)
        .subquery()
        for value in values
    ]
    merged = union_all(*(select(part) for part in parts)).subquery()
    newest = merged.c.created_at.desc(), merged.c.id.desc()
    return _rows_of(select(merged.c.id).order_by(*newest).offset(offset).limit(limit), columns)


def _defers_rows(dialect: str, offset: int, after: Cursor | None) -> bool:
    """Whether a page is read as ids first, then rows (see _rows_of): on MySQL for any page past the first,
    on PostgreSQL for offset pages (its cursor pages seek well already; the ids come from the index alone
    only where the visibility map says so, as autovacuum keeps it). SQLite reads a table row only once a
    column of it is needed, after the offset."""
    if dialect == "mysql":
        return bool(offset) or after is not None
    return dialect == "postgresql" and bool(offset)


def _page_ids(filters: LogFilters, limit: int, offset: int, after: Cursor | None) -> Select[Any]:
    """The ids of a page, read from the filter's index alone."""
    query = select(logs.c.id).where(*_conditions(filters), *_after(after))
    return query.order_by(*_ORDER).offset(offset).limit(limit)


def _rows_of(page_ids: Select[Any], columns: Sequence[Any]) -> Select[Any]:
    """The rows of a page of ids, newest first (a deferred join). MySQL, MariaDB and PostgreSQL read every
    row an OFFSET skips, and given a cursor's bound with all columns to return, MariaDB walked the
    filter's index from its newest entry instead of seeking to the bound (a heavy user's page 1000: 178 ms
    against 0.3 ms for its ids alone); over ids alone both are index-only ranges."""
    ids = page_ids.subquery("page_ids")
    return select(*columns).join_from(logs, ids, logs.c.id == ids.c.id).order_by(*_ORDER)


def any_logs(conn: Connection, *, before: int | None = None) -> bool:
    """Whether any log exists (created before `before`, when given)."""
    query = select(logs.c.id).limit(1)
    if before is not None:
        query = query.where(logs.c.created_at < before)
    return conn.execute(query).first() is not None


def _raw_totals(conn: Connection, filters: LogFilters, types: Sequence[int] | None) -> rollups.Totals:
    """Count, quota and token sums over the matching rows themselves (`types` replaces the type filter)."""
    where = _matching(conn, filters, with_type=False)
    if types is not None:
        where.append(logs.c.type.in_(list(types)))
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(logs.c.quota), 0),
            func.coalesce(func.sum(logs.c.prompt_tokens + logs.c.completion_tokens), 0),
        ).where(*where)
    ).one()
    return rollups.Totals(int(row[0]), int(row[1]), int(row[2]))


def _totals(conn: Connection, filters: LogFilters, types: Sequence[int] | None) -> rollups.Totals:
    return rollups.totals(conn, filters, types=types, raw=lambda window: _raw_totals(conn, window, types))


def count(conn: Connection, filters: LogFilters) -> int:
    """The exact number of matching rows, from the hourly rollups where they cover the filters."""
    types = None if filters.type == LogType.UNKNOWN else [int(filters.type)]
    return _totals(conn, filters, types).count


def count_raw(conn: Connection, filters: LogFilters) -> int:
    """The same number, counted row by row (for checks of the rollups)."""
    types = None if filters.type == LogType.UNKNOWN else [int(filters.type)]
    return _raw_totals(conn, filters, types).count


def list_page(conn: Connection, filters: LogFilters, page: PageRequest) -> Page[LogEntry]:
    """One page of matching rows, newest first, with the exact total. A cursor page continues after the
    cursor's row (keyset), whatever the depth; otherwise `p`/`page_size` select an offset page."""
    total = count(conn, filters)
    if page.cursor is not None:
        query = _newest(conn, filters, limit=page.page_size, after=page.cursor, page=True)
        first_position = page.cursor.position + 1
    else:
        query = _newest(conn, filters, limit=page.page_size, offset=page.offset, page=True)
        first_position = page.offset + 1
    items = _entries(conn, query)
    next_cursor = None
    last_position = first_position + len(items) - 1
    if items and len(items) == page.page_size and last_position < total:
        last = items[-1]
        next_cursor = Cursor(last.created_at, last.id, last_position).encode()
    return Page(
        items=items,
        total=total,
        page=page.page,
        page_size=page.page_size,
        first_position=first_position,
        next_cursor=next_cursor,
    )


def list_recent(conn: Connection, filters: LogFilters, limit: int) -> list[LogEntry]:
    return _entries(conn, _newest(conn, filters, limit=limit))


def list_recent_user_json(conn: Connection, filters: LogFilters, limit: int) -> list[str] | None:
    """`list_recent`'s rows in the user view (`to_user_row`, positions from 1), each as JSON text written
    by SQLite (see _user_row_json_columns); None on other engines, whose rows `to_user_row` renders.

    For an API key's 1,000 newest rows, Python then handles one string per row instead of twenty values,
    an entry and a dict (12.1 against 16.3 ms at 1M rows, the JSON of the answer included). SQLite keeps
    the numbers of a stripped `other` as they were written (`1.50`, `1e5`), where `to_user_row` writes
    them again (`1.5`, `100000.0`): the same JSON values."""
    if conn.dialect.name != "sqlite":
        return None
    rows = _dialect.driver_rows(conn, _newest(conn, filters, limit=limit, columns=_USER_ROW_JSON_COLUMNS))
    texts: list[str] = []
    # Rows SQLite cannot be trusted to have stripped (see _user_row_json_columns): log id → index.
    again: dict[int, int] = {}
    for index, (log_id, text) in enumerate(rows):
        for mark in _SUSPECT_MARKS:  # `in` each: a regular expression of the three took four times as long
            if mark in text:
                again[log_id] = index
                break
        texts.append('{"id":' + str(index + 1) + "," + text[1:])
    for entry in _by_ids(conn, list(again)):
        index = again[entry.id]
        texts[index] = user_row_json(entry, index + 1)
    return texts


def _user_row_json_columns() -> list[Any]:
    """What SQLite selects to write a row's user view: its id, and a JSON object of the fields after `id`
    in `to_row`'s order, request ids left out when empty (one object for each of the four cases, the right
    one chosen per row).

    `other` is stripped as `strip_admin_keys` does: text naming no admin-only key is kept as it is, valid
    JSON loses those keys. But json_remove removes only the first of a duplicated key and does not see a
    key spelled with escapes; SQLite refuses JSON that pydantic-core reads (NaN); and it would write an
    array or a string again, where `strip_admin_keys` keeps it. So a row whose text still holds a
    backslash (written as two, see _SUSPECT_MARKS) or names an admin-only key is rendered by
    `to_user_row` instead."""
    other = logs.c.other
    names_no_key = and_(*[func.instr(other, key) == 0 for key in ADMIN_ONLY_OTHER_KEYS])
    # `|| ''`: plain text, which json_object quotes, instead of JSON, which it would embed.
    without_keys = func.json_remove(other, *[f"$.{key}" for key in ADMIN_ONLY_OTHER_KEYS]).op("||")("")
    stripped = case((names_no_key, other), (func.json_valid(other) == 1, without_keys), else_=other)
    fields: list[tuple[str, Any]] = []
    for name in _ENTRY_COLUMN_NAMES[1:-3]:  # user_id … ip: the request ids and `other` follow
        column = logs.c[name]
        if name == "is_stream":
            fields.append((name, func.json(case((column, "true"), else_="false"))))
        elif name == "channel_id":
            fields += [("channel", column), ("channel_name", literal("", String))]
        else:
            fields.append((name, column))

    def row_object(*request_ids: str) -> Any:
        named = [*fields, *[(name, logs.c[name]) for name in request_ids], ("other", stripped)]
        return func.json_object(*[part for name, value in named for part in (literal(name, String), value)])

    request_id, upstream = logs.c.request_id != "", logs.c.upstream_request_id != ""
    text = case(
        (and_(request_id, upstream), row_object("request_id", "upstream_request_id")),
        (request_id, row_object("request_id")),
        (upstream, row_object("upstream_request_id")),
        else_=row_object(),
    )
    return [logs.c.id, text]


_USER_ROW_JSON_COLUMNS = _user_row_json_columns()
# In a row's text: an admin-only key, or a backslash in a value (JSON writes it as two).
_SUSPECT_MARKS = (*ADMIN_ONLY_OTHER_KEYS, "\\\\")


def list_batch(conn: Connection, filters: LogFilters, after: Cursor | None, limit: int) -> list[LogValues]:
    """Up to `limit` matching rows, newest first, continuing after the cursor's row (keyset; its
    `position` is not used), as tuples in `LogEntry`'s field order: an export reads every matching row in
    batches of this."""
    query = _newest(conn, filters, limit=limit, after=after)
    return cast("list[LogValues]", _dialect.driver_rows(conn, query))


def stat(conn: Connection, filters: LogFilters, now: int) -> LogStat:
    """`quota`: sum over consume rows matching the filters (the `type` filter is ignored); `rpm`/`tpm`:
    count and token sum of matching consume rows in the last 60 seconds, whatever the time window."""
    consume = logs.c.type == int(LogType.CONSUME)
    quota = _totals(conn, filters, [int(LogType.CONSUME)]).quota
    recent = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(logs.c.prompt_tokens + logs.c.completion_tokens), 0),
        ).where(
            consume,
            logs.c.created_at >= now - RECENT_WINDOW_SECONDS,
            *_matching(conn, filters, with_type=False, with_time=False),
        )
    ).one()
    return LogStat(quota=int(quota), rpm=int(recent[0]), tpm=int(recent[1]))


def search(conn: Connection, keyword: str, limit: int, scope: LogFilters) -> list[LogEntry]:
    """Newest rows within `scope` whose content holds every word of the keyword, or whose type equals it
    when it is a number."""
    words = _dialect.search_words(keyword)
    content = _dialect.content_matches(conn, words, limit) if words else None
    type_wanted = int(keyword) if is_decimal(keyword) and len(keyword) <= 9 else None
    of_type = logs.c.type == type_wanted if type_wanted is not None else None
    if content is None and of_type is None:
        return []

    def wanted(content_condition: ColumnElement[bool] | None) -> ColumnElement[bool]:
        return or_(*(condition for condition in (content_condition, of_type) if condition is not None))

    def newest(content_condition: ColumnElement[bool] | None, *within: ColumnElement[bool]) -> list[LogEntry]:
        where = [wanted(content_condition), *_conditions(scope), *within]
        if conn.dialect.name == "sqlite" and not within:
            # Every match listed and sorted: the page's ids first, then its rows. SQLite sorts what it
            # selects of every match, and decoding whole rows instead of (created_at, id) doubled the cost
            # of listing the full-text index's matches (3.1 against 1.6 µs a match at 1M rows). A walk
            # within a bound reads whole rows only for the page already.
            ids = select(logs.c.id).where(*where).order_by(*_ORDER).limit(limit)
            return _entries(conn, _rows_of(ids, _ENTRY_COLUMNS))
        return _entries(conn, select(*_ENTRY_COLUMNS).where(*where).order_by(*_ORDER).limit(limit))

    # Rarer words: a small scope read whole, else the index's newest matches by id, before the other plans.
    if content is not None and content.rare_terms is not None:
        scoped = bool(_conditions(scope))
        # A scope of few rows (most users, most keys) is read whole, however many matches the table holds.
        few = _rows_up_to(conn, scope, SEARCH_SMALL_SCOPE_ROWS) if scoped else None
        if few is not None:
            walk = _dialect.ChunkedWalk(content.rare_terms, few + 1)
            found = _newest_matching_in_chunks(conn, scope, walk, few + 1, type_wanted, limit)
            if found is not None:
                return found
        # Reading by id knows nothing of types: a number searched (which also matches that type) is not.
        wide = type_wanted is None and (not scoped or content.matches >= SEARCH_BY_ID_SCOPED_MATCHES)
        by_id = _newest_matching_by_id(conn, scope, content.rare_terms, limit) if wide else None
        if by_id is not None:
            return by_id
    if content is None or content.listed is None:
        return newest(content.condition if content else None)
    # The scope's newest rows are tested: read at most `walk_rows` of them (in chunks on SQLite, one by one
    # elsewhere), and if they hold fewer than `limit` matches, list the matches instead (on PostgreSQL and
    # MySQL, the newest rows' first), after a longer walk where the density found says it costs less.
    if content.chunked is not None:
        found = _newest_matching_in_chunks(conn, scope, content.chunked, content.walk_rows, type_wanted, limit)
        return found if found is not None else newest(content.listed)
    if content.listing is not None:
        listing = content.listing
        walk_newest: Callable[[int], tuple[list[LogEntry], bool]]
        if conn.dialect.name == "postgresql":
            tested = wanted(content.condition)
            walk_newest = partial(_newest_among_newest, conn, scope, tested, limit=limit)
        else:
            walk_newest = _ContinuedWalk(conn, scope, newest, content.condition, limit)
        found, complete, walked = _walk_newest(
            conn,
            content,
            limit,
            walk_newest,
            partial(_first_window_by_days, conn, scope, listing, limit=limit),
        )
        if complete:
            return found
        return _newest_listed_in_windows(conn, scope, listing, walked, len(found), limit, newest)
    return newest(content.listed)


def _rows_up_to(conn: Connection, scope: LogFilters, most: int) -> int | None:
    """How many rows the scope holds when at most `most`, else None; reads at most `most` + 1 index entries."""
    bounded = select(literal_column("1")).where(*_conditions(scope)).limit(most + 1).subquery()
    rows = int(conn.execute(select(func.count()).select_from(bounded)).scalar_one())
    return rows if rows <= most else None


def _newest_matching_by_id(
    conn: Connection, scope: LogFilters, terms: _dialect.ExactTerms, limit: int
) -> list[LogEntry] | None:
    """The newest `limit` rows of the scope whose content holds `terms`, from the full-text index's matches
    read highest id first (SQLite): logs arrive about in time order, so the newest matches are about the
    highest ids, and reading them costs the same whatever the table's size. None when the matches to read
    look too many (a scope with a small share of them: SEARCH_BY_ID_MATCHES) or too many rows arrived out
    of time order; the other plans answer then.

    Exact: every match with an id at or above the lowest id read has been read, and the scope's are the
    candidates. A match of the scope newer than the `limit`-th newest candidate is either a candidate or
    has a lower id (it arrived late, or was dated ahead), so the scope's rows newer than that candidate are
    walked on their index, and those with a lower id tested one by one (fts_matches_among)."""
    in_scope = and_(true(), *_conditions(scope))
    candidates: list[tuple[int, int]] = []  # (created_at, id), the scope's matches read
    lowest: int | None = None
    read = 0
    batch = max(1, math.ceil(SEARCH_BY_ID_FIRST_BATCH * limit))
    while True:
        rows = _dialect.driver_rows(conn, _dialect.fts_newest_matches(terms, lowest, batch, in_scope))
        read += len(rows)
        candidates += [(created_at, row_id) for row_id, created_at, in_scope_row in rows if in_scope_row]
        if len(rows) < batch:  # every match read
            return _by_ids(conn, [row_id for _, row_id in sorted(candidates, reverse=True)[:limit]])
        lowest = rows[-1][0]
        if len(candidates) >= limit:
            break
        # More matches, in the proportion the scope has had so far (or, with none yet, at most 1 in `read`).
        needed = (limit - len(candidates)) * read / max(len(candidates), 1)
        if read + needed > SEARCH_BY_ID_MATCHES:
            return None
        batch = max(batch, math.ceil(needed * 1.25))
    candidates.sort(reverse=True)
    edge_at, edge_id = candidates[limit - 1]
    newer = [*_conditions(scope), *_since(edge_at, edge_id)]  # the edge itself is a candidate, not late
    # Where ids follow time, the scope holds at most as many rows newer than the edge as there are ids
    # above it; many more means rows out of order, and the other plans.
    most = SEARCH_BY_ID_WALK_SLACK * (_dialect.highest_log_id(conn) - edge_id) + limit
    walk = select(logs.c.id.label("id")).where(*newer).limit(most + 1).subquery()
    walked, late_rows = conn.execute(select(func.count(), func.coalesce(func.sum(walk.c.id < lowest), 0))).one()
    if walked > most or late_rows > SEARCH_BY_ID_STRAGGLERS:
        return None
    matching: set[int] = set()
    if late_rows:
        # `id + 0`: compared as a value, so that SQLite walks the scope's time index, not every id below.
        late = logs.c.id + 0 < lowest
        stragglers = conn.execute(select(logs.c.id, logs.c.content).where(*newer, late)).all()
        matching = _dialect.fts_matches_among(conn, [(int(row.id), str(row.content)) for row in stragglers], terms)
    return _by_ids(conn, [row_id for _, row_id in candidates[:limit]] + sorted(matching), limit)


def _walk_newest(
    conn: Connection,
    content: _dialect.ContentMatch,
    limit: int,
    walk: Callable[[int], tuple[list[LogEntry], bool]],
    listed_by_days: Callable[[int, int, int], bool],
) -> tuple[list[LogEntry], bool, int]:
    """`walk(rows)` over the scope's newest `content.walk_rows` rows, then over more of them when the
    match says a longer walk costs less than listing (`further_walk`): what it found, whether that is the
    answer (a full page, or every row of the scope walked), and how many rows the last walk covered.
    `listed_by_days(rows, matches, further)` says whether, after a walk of `rows` that found `matches`,
    the listing would read a few days' terms only, at less cost than a walk of `further` rows, which is
    not taken then."""
    rows = content.walk_rows
    found, complete = walk(rows)
    if not complete and len(found) < limit and content.further_walk is not None:
        further = content.further_walk(conn, rows, len(found), limit)
        if further is not None and further > rows and not listed_by_days(rows, len(found), further):
            rows = further
            found, complete = walk(rows)
    return found, complete or len(found) == limit, rows


@dataclass
class _ContinuedWalk:
    """The scope's newest rows tested in walks that each go on from the oldest row the last one read
    (MySQL): `walk(rows)` answers the newest `limit` rows meeting `condition` among the scope's newest
    `rows`, and whether those were all the scope's rows, reading only the rows past the last walk.
    `newest(condition, *within)` reads the newest `limit` rows meeting a condition within bounds."""

    conn: Connection
    scope: LogFilters
    newest: Callable[..., list[LogEntry]]
    condition: ColumnElement[bool]
    limit: int
    found: list[LogEntry] = field(default_factory=list)
    walked: int = 0
    edge: Cursor | None = None  # the oldest row walked so far

    def __call__(self, walk_rows: int) -> tuple[list[LogEntry], bool]:
        older = _after(self.edge)
        rows = select(logs.c.created_at, logs.c.id).where(*_conditions(self.scope), *older).order_by(*_ORDER)
        oldest = self.conn.execute(rows.offset(walk_rows - self.walked - 1).limit(1)).first()
        within = older if oldest is None else [*older, *_since(oldest.created_at, oldest.id)]
        self.found = [*self.found, *self.newest(self.condition, *within)][: self.limit]
        if oldest is None:
            return self.found, True
        self.edge, self.walked = Cursor(oldest.created_at, oldest.id, walk_rows), walk_rows
        return self.found, False


def _newest_matching_in_chunks(
    conn: Connection,
    scope: LogFilters,
    walk: _dialect.ChunkedWalk,
    walk_rows: int,
    type_wanted: int | None,
    limit: int,
) -> list[LogEntry] | None:
    """The newest `limit` rows among the scope's newest `walk_rows` whose content matches the walk's query
    or whose type is `type_wanted`, read chunk by chunk (see _dialect.ChunkedWalk); None when those rows
    hold fewer and the scope has more."""
    newest_rows = select(logs.c.id, logs.c.created_at, logs.c.type, logs.c.content).where(*_conditions(scope))
    found: list[int] = []
    after: Cursor | None = None
    walked = 0
    chunk = walk.first_chunk
    while walked < walk_rows:
        size = min(chunk, walk_rows - walked)
        rows = conn.execute(newest_rows.where(*_after(after)).order_by(*_ORDER).limit(size)).all()
        matching = _dialect.fts_matches_among(conn, [(row.id, row.content) for row in rows], walk.terms)
        found += [row.id for row in rows if row.id in matching or row.type == type_wanted]
        if len(found) >= limit or len(rows) < size:
            return _by_ids(conn, found[:limit])
        walked += size
        after = Cursor(rows[-1].created_at, rows[-1].id, walked)
        chunk *= 2
    return None


def _by_ids(conn: Connection, ids: Sequence[int], limit: int | None = None) -> list[LogEntry]:
    """The rows with these ids, in the list's order (the newest `limit` of them, when given)."""
    if not ids:
        return []
    return _entries(conn, select(*_ENTRY_COLUMNS).where(logs.c.id.in_(ids)).order_by(*_ORDER).limit(limit))


def _newest_listed_in_windows(
    conn: Connection,
    scope: LogFilters,
    listing: _dialect.IndexListing | _dialect.MysqlListing,
    walked_rows: int,
    walked_matches: int,
    limit: int,
    newest: Callable[..., list[LogEntry]],
) -> list[LogEntry]:
    """The newest `limit` of the index's matches (PostgreSQL and MySQL), after a walk of the scope's newest
    `walked_rows` rows found `walked_matches`, too few. `newest(condition, *within)` reads the scope's
    newest `limit` rows meeting a condition.

    Listing reads the row of every match, so the matches of the newest rows are listed first, in windows:
    the first as many times longer than the walk as the walk's matches say it takes to find a page, each
    next one SEARCH_WINDOW_GROWTH times as long. A window holding a page holds the newest page. Matches few
    enough are listed whole instead: asked first when the walk met none (a word with no match at all would
    otherwise widen windows over the whole scope), else when the first window falls short."""

    def listed_whole_if_few() -> list[LogEntry] | None:
        few = listing.all_if_fewer_than(conn, SEARCH_FEW_MATCHES)
        return None if few is None else newest(logs.c.id.in_(few))

    if not walked_matches and (whole := listed_whole_if_few()) is not None:
        return whole
    first_growth = _first_window_growth(walked_matches, limit)
    for step, (since, newest_at) in enumerate(_widening_windows(conn, scope, walked_rows, first_growth)):
        window = logs.c.created_at >= since
        days = listing.within_days(conn, since, newest_at)
        if days.day_query is None and not listing.narrows:
            break  # listing this window would cost as much as listing every match
        found = newest(days.among([window, *_conditions(scope)]), window)
        if len(found) == limit:
            return found
        # Not on MySQL, where any listing of the words' own index gathers every match first.
        if step == 0 and walked_matches and listing.narrows and (whole := listed_whole_if_few()) is not None:
            return whole
    return newest(listing.among())


def _first_window_growth(walked_matches: int, limit: int) -> float:
    """How many times longer than the walk's span the first listed window is: as many as the walk's matches
    say it takes to find a page, with some slack."""
    return max(limit / max(walked_matches, 1) * SEARCH_WINDOW_SLACK, SEARCH_WINDOW_GROWTH)


def _first_window_by_days(
    conn: Connection,
    scope: LogFilters,
    listing: _dialect.IndexListing | _dialect.MysqlListing,
    walked_rows: int,
    walked_matches: int,
    further_rows: int,
    *,
    limit: int,
) -> bool:
    """Whether the first window `_newest_listed_in_windows` would list after this walk is read from its
    days' terms (see `IndexListing.within_days`), at less cost than a walk of up to `further_rows` (which
    stops at a page: about `limit` / density rows)."""
    first = next(_widening_windows(conn, scope, walked_rows, _first_window_growth(walked_matches, limit)), None)
    if first is None or listing.within_days(conn, *first).day_query is None:
        return False
    density = walked_matches / walked_rows
    return listing.days_cheaper_than_walk(conn, first[0], density, min(further_rows, math.ceil(limit / density)))


def _widening_windows(
    conn: Connection, scope: LogFilters, walked_rows: int, first_growth: float
) -> Iterator[tuple[int, int]]:
    """Ever longer windows of the scope's newest rows, as (the window's first `created_at`, the scope's
    newest): the first `first_growth` times as long as the scope's newest `walked_rows` rows span, each
    next one SEARCH_WINDOW_GROWTH times as long as the one before, until one would hold every row of the
    scope. Reads see one snapshot, so no row of the scope is newer than the newest found here."""
    newest_first = select(logs.c.created_at).where(*_conditions(scope)).order_by(*_ORDER)
    newest_at = conn.execute(newest_first.limit(1)).scalar()
    walked_from = conn.execute(newest_first.offset(walked_rows - 1).limit(1)).scalar()
    oldest_at = conn.execute(select(func.min(logs.c.created_at)).where(*_conditions(scope))).scalar()
    if newest_at is None or walked_from is None or oldest_at is None:
        return
    span = max(int(newest_at) - int(walked_from), 1) * first_growth
    while int(newest_at) - span > int(oldest_at):
        yield int(newest_at - span), int(newest_at)
        span *= SEARCH_WINDOW_GROWTH


def _newest_among_newest(
    conn: Connection, scope: LogFilters, condition: ColumnElement[bool], walk_rows: int, limit: int
) -> tuple[list[LogEntry], bool]:
    """The newest `limit` rows matching `condition` among the scope's newest `walk_rows`, read in one
    statement that stops at the page, and whether they are the answer: they are `limit`, or those rows are
    all the scope has."""
    newest_rows = select(*_ENTRY_COLUMNS).where(*_conditions(scope)).order_by(*_ORDER).limit(walk_rows).subquery()
    matching = ClauseAdapter(newest_rows).traverse(condition)
    query = (
        select(newest_rows)
        .where(matching)
        .order_by(newest_rows.c.created_at.desc(), newest_rows.c.id.desc())
        .limit(limit)
    )
    found = _entries(conn, query)
    if len(found) == limit:
        return found, True
    scope_rows = select(logs.c.id).where(*_conditions(scope)).limit(walk_rows).subquery()
    walked_all = conn.execute(select(func.count()).select_from(scope_rows)).scalar_one() < walk_rows
    return found, walked_all


def delete_oldest(conn: Connection, before: int, limit: int) -> int:
    """Delete about `limit` of the oldest logs created before `before` (every row of a second goes in
    the same batch, so a batch may hold a few more) and record how far logs are now pruned, in the
    caller's transaction. Returns how many rows were deleted: 0 once none is left before `before`.

    The rollups keep counting the deleted rows (they are usage history); totals skip what was pruned,
    see tokenledger.store.rollups. So a deletion never blocks writers beyond the rows it removes."""
    oldest = select(logs.c.created_at).where(logs.c.created_at < before).order_by(logs.c.created_at)
    first = conn.execute(oldest.limit(1)).scalar()
    if first is None:
        rollups.mark_pruned(conn, before)
        return 0
    cut = conn.execute(oldest.offset(limit).limit(1)).scalar()
    up_to = before if cut is None else max(int(cut), int(first) + 1)
    deleted = conn.execute(delete(logs).where(logs.c.created_at < up_to)).rowcount
    rollups.mark_pruned(conn, up_to)
    return int(deleted)
