"""Usage analytics reads: hourly totals per group from the aggregates kept as logs are written, never from
the logs themselves (so usage outlives log retention and a chart costs the same on any number of logs).

The planner picks the source. A query depends on a set of dimensions (its fixed filters plus its
grouping, named like LogEntry attributes). When a `log_rollups` scope covers that set — exactly, or as a
superset whose extra dimensions are summed over — the smallest such scope is read: one key's hours lie
together in its primary key. Otherwise `usage_hourly` (one row per full combination of dimensions, hour
and type) is grouped in SQL. Either way SQL returns (group values, hour, sums) for the hours in range,
the sums being requests, successes, failures, quota and tokens over the types counted, and the domain
folds hours into the caller's local buckets (or SQL sums whole buckets, see `hourly_totals`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Table,
    any_,
    bindparam,
    case,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.util import ClauseAdapter

from tokenledger.domain.analytics import HourTotals, UsageQuery, bucket_runs
from tokenledger.domain.log import LogType
from tokenledger.store import _dialect
from tokenledger.store.rollups import SCOPES, _Scope
from tokenledger.store.schema import log_rollups, usage_hourly, users

LOG_ROLLUPS = "log_rollups"
USAGE_HOURLY = "usage_hourly"

# The usage_hourly column of each dimension.
_USAGE_COLUMNS = {
    "user_id": usage_hourly.c.user_id,
    "token_id": usage_hourly.c.token_id,
    "channel": usage_hourly.c.channel_id,
    "model_name": usage_hourly.c.model_name,
    "group": usage_hourly.c.group,
}
_ID_COLUMNS = (log_rollups.c.key1, log_rollups.c.key2)
# SQLite sums a window's buckets with one SELECT each up to this many (its limit on a compound SELECT is
# 500); beyond, one SELECT groups every row by its bucket.
SQLITE_BUCKET_SELECTS = 100
# A chart of more series than this (by user, on a large deployment) reads the window of every key rather
# than finding the keys first. PostgreSQL takes any number in one array parameter. MariaDB plans an IN list
# as one index range per key only up to a few hundred keys (its index dives stop at
# eq_range_index_dive_limit, 200): with 1,000 user ids it read the whole table and sorted it.
PRESENT_KEYS_LIMITS = {"postgresql": 10_000, "mysql": 200}


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a query's hourly totals come from: a log_rollups scope, or usage_hourly (scope None)."""

    scope: _Scope | None

    @property
    def table(self) -> str:
        return USAGE_HOURLY if self.scope is None else LOG_ROLLUPS


def plan(dimensions: frozenset[str]) -> Plan:
    """The smallest rollup scope whose dimensions include `dimensions` (ties: the lower scope code), or
    usage_hourly when none does."""
    covering = [scope for scope in SCOPES if dimensions <= scope.dimensions]
    if not covering:
        return Plan(None)
    return Plan(min(covering, key=lambda scope: (len(scope.dimensions), scope.code)))


def _rollup_column(scope: _Scope, dimension: str) -> Any:
    if dimension in scope.ids:
        return _ID_COLUMNS[scope.ids.index(dimension)]
    assert dimension == scope.text, f"scope {scope.code} has no dimension {dimension}"
    return log_rollups.c.key_text


def _sums(table: Table) -> list[Any]:
    """Requests, successes (consume rows) and failures (error rows), then quota and token sums: one row per
    group and hour whatever the types counted, so the domain adds them without looking at types."""
    count = table.c["count"]
    total = _dialect.integer_sum
    return [
        total(count).label("requests"),
        total(case((table.c.type == int(LogType.CONSUME), count), else_=0)).label("successes"),
        total(case((table.c.type == int(LogType.ERROR), count), else_=0)).label("failures"),
        total(table.c.quota).label("quota"),
        total(table.c.prompt_tokens).label("prompt_tokens"),
        total(table.c.completion_tokens).label("completion_tokens"),
    ]


def _common(table: Table, query: UsageQuery) -> list[ColumnElement[bool]]:
    return [*_hours(table, query.first_hour, query.end_hour), *_types(table, query)]


def _hours(table: Table, first: int, end: int) -> list[ColumnElement[bool]]:
    return [table.c.hour >= first, table.c.hour < end]


def _types(table: Table, query: UsageQuery) -> list[ColumnElement[bool]]:
    types = query.types
    if types is None:
        return []
    return [table.c.type.in_(types) if len(types) > 1 else table.c.type == types[0]]


def _rollup_select(
    scope: _Scope, query: UsageQuery, firsts: Sequence[int] | None, dialect: str, keys: Sequence[Any] | None
) -> Any:
    pinned, free = _key_values(scope, query)
    where = _pins(scope, pinned)
    if len(free) == 1:
        # The one grouped key column comes before `hour` in the key, so the window alone would read every
        # hour of history of every key: read the window of each key present instead. SQLite finds the keys
        # in the same statement; PostgreSQL and MySQL are given them (`present_keys`): with the keys' search
        # inline, PostgreSQL could not estimate how many rows they bring and sorted 39,000 on disk where a
        # hash would do (30 days by model at 1M rows: 80 ms against 26 for the plain read).
        column, ahead = free[0]
        if dialect == "sqlite":
            where.append(column.in_(_present_keys(column, _pins(scope, {name: pinned[name] for name in ahead}))))
        elif keys is not None and dialect == "postgresql":
            # One array parameter, however many keys: a statement binds at most 65,535 parameters.
            where.append(column == any_(bindparam("present_keys", list(keys), type_=ARRAY(column.type))))
        elif keys is not None:
            where.append(column.in_(keys))
    groups = [_rollup_column(scope, name).label(f"g{i}") for i, name in enumerate(query.group_fields) if name != "type"]
    return _grouped(log_rollups, query, groups, where, firsts, select_per_bucket=dialect == "sqlite")


def _key_values(scope: _Scope, query: UsageQuery) -> tuple[dict[str, Any], list[tuple[Any, tuple[str, ...]]]]:
    """The key columns a rollup read pins, by name with their values (the query's filters; 0 or '' for a
    column the scope leaves unused, which keeps the read on a prefix of the primary key (scope, key1, key2,
    key_text, hour, type)), and the key columns it groups by instead (free), each with the names of the
    pinned columns ahead of it."""
    fixed = query.filters.fixed()
    pinned: dict[str, Any] = {}
    free: list[tuple[Any, tuple[str, ...]]] = []
    for column, name, unused in _key_columns(scope):
        if name is None:
            pinned[column.name] = unused
        elif name in fixed:
            pinned[column.name] = fixed[name]
        else:
            free.append((column, tuple(pinned)))
    return pinned, free


def _pins(scope: _Scope, pinned: dict[str, Any]) -> list[ColumnElement[bool]]:
    return [log_rollups.c.scope == scope.code, *(log_rollups.c[name] == value for name, value in pinned.items())]


def present_keys(conn: Connection, query: UsageQuery) -> list[Any] | None:
    """On PostgreSQL and MySQL, the values the one key column a rollup query groups by (model, user,
    channel…) has in its scope, for `hourly_statement` to read each one's window: one index seek per key
    ever seen instead of a row per hour of the scope's history, which outlives log retention. It costs a
    statement of its own (0.7–0.9 ms for 37 models on PostgreSQL, 0.2–0.4 on MariaDB), paid back once the
    history is longer than the window. None where the read does not take them: no free key column or two,
    usage_hourly, more keys than the engine's PRESENT_KEYS_LIMITS, and SQLite (which finds them inside the
    query)."""
    scope = plan(query.dimensions).scope
    most = PRESENT_KEYS_LIMITS.get(conn.dialect.name)
    if scope is None or most is None:
        return None
    pinned, free = _key_values(scope, query)
    if len(free) != 1:
        return None
    column, ahead = free[0]
    statement = _present_keys_statement(conn.dialect.name, scope.code, column.name, ahead)
    params = {"limit": most + 1, **{f"pinned_{name}": pinned[name] for name in ahead}}
    keys = list(conn.execute(statement, params).scalars())
    return None if len(keys) > most else keys


@functools.cache
def _present_keys_statement(dialect: str, scope_code: int, column_name: str, ahead: tuple[str, ...]) -> Any:
    """The distinct values of a scope's key column, the pinned columns ahead of it bound by name
    (`pinned_<column>`): built once, where building it cost as much as running it. PostgreSQL seeks them
    one by one (`_present_keys`; it runs a recursive query as its rows are asked for, so the limit ends
    the seeks). MySQL groups by the key's prefix, which it reads as a loose index scan, a seek per key
    ("Using index for group-by"); MariaDB ran the recursive form's correlated "next key" as a scan from the
    scope's first key."""
    column = log_rollups.c[column_name]
    before = [log_rollups.c.scope == scope_code]
    before += [log_rollups.c[name] == bindparam(f"pinned_{name}") for name in ahead]
    limit = bindparam("limit", type_=Integer)
    if dialect == "mysql":
        prefix = [log_rollups.c.scope, *(log_rollups.c[name] for name in ahead), column]
        return select(column).where(*before).group_by(*prefix).limit(limit)
    return _present_keys(column, before).limit(limit)


def _key_columns(scope: _Scope) -> list[tuple[Any, str | None, int | str]]:
    """The key columns in primary-key order, each with the dimension it holds in this scope (None: unused)
    and the value it holds when unused."""
    ids = [
        (column, scope.ids[index] if index < len(scope.ids) else None, 0) for index, column in enumerate(_ID_COLUMNS)
    ]
    return [*ids, (log_rollups.c.key_text, scope.text, "")]


def _present_keys(column: Any, before: list[ColumnElement[bool]]) -> Any:
    """The distinct values of a key column among the rows that match `before` (conditions on the key
    columns ahead of it), found one index seek each (a loose index scan, written as a recursive query):
    the cost is one seek per key ever seen, not one row per hour of history."""
    known = log_rollups.alias("known")
    adapted = [ClauseAdapter(known).traverse(condition) for condition in before]
    key = known.c[column.name]
    first = select(func.min(key).label("value")).where(*adapted).cte("present_keys", recursive=True)
    following = select(func.min(key)).where(*adapted, key > first.c.value).scalar_subquery()
    keys = first.union_all(select(following).where(first.c.value.is_not(None)))
    return select(keys.c.value).where(keys.c.value.is_not(None))


def _usage_select(query: UsageQuery, firsts: Sequence[int] | None) -> Any:
    where = [_USAGE_COLUMNS[name] == value for name, value in query.filters.fixed().items()]
    groups = [_USAGE_COLUMNS[name].label(f"g{i}") for i, name in enumerate(query.group_fields) if name != "type"]
    return _grouped(usage_hourly, query, groups, where, firsts)


def _grouped(
    table: Table,
    query: UsageQuery,
    groups: list[Any],
    where: list[ColumnElement[bool]],
    firsts: Sequence[int] | None,
    *,
    select_per_bucket: bool = False,
) -> Any:
    typed = [table.c.type] if "type" in query.group_fields else []
    where = [*where, *_types(table, query)]
    if firsts and select_per_bucket and len(firsts) <= SQLITE_BUCKET_SELECTS:
        return _per_bucket(table, firsts, query.end_hour, groups, typed, where)
    where += _hours(table, query.first_hour, query.end_hour)
    column: Any = table.c.hour
    hour = column
    if firsts:
        # Each hour as the first hour of its bucket, by the arithmetic of its run of equal buckets.
        runs = reversed(bucket_runs(firsts, query.end_hour))
        whens = [(column >= first, first + _dialect.whole_steps(column - first, size) * size) for first, size in runs]
        hour = case(*whens, else_=firsts[0])
    keys = [*groups, hour.label("hour"), *typed]
    return select(*keys, *_sums(table)).where(*where).group_by(*keys)


def _per_bucket(
    table: Table,
    firsts: Sequence[int],
    end_hour: int,
    groups: list[Any],
    typed: list[Any],
    where: list[ColumnElement[bool]],
) -> Any:
    """One SELECT per bucket, each over the bucket's hours, joined by UNION ALL. SQLite groups by an
    expression of `hour` by sorting every row read (30 days by model, 39,000 rollup rows: three quarters
    of the query's time), while a group of key columns read in key order is summed as it streams."""
    following = [*firsts[1:], end_hour]
    sums = _sums(table)
    selects = []
    for first, end in zip(firsts, following, strict=True):
        statement = (
            select(*groups, literal(first, Integer).label("hour"), *typed, *sums)
            # Only the bucket's hours: given the window's too, SQLite seeks by those and reads the whole window.
            .where(*where, *_hours(table, first, end))
            .group_by(*groups, *typed)
        )
        # Without group keys an aggregate still answers one row (of NULLs) for a bucket with no rows.
        selects.append(statement if groups or typed else statement.having(func.count() > 0))
    return union_all(*selects)


def hourly_statement(
    query: UsageQuery, firsts: Sequence[int] | None, dialect: str, keys: Sequence[Any] | None = None
) -> Any:
    """The query `hourly_totals` runs on this SQL dialect, given the keys `present_keys` found."""
    scope = plan(query.dimensions).scope
    return _usage_select(query, firsts) if scope is None else _rollup_select(scope, query, firsts, dialect, keys)


def hourly_totals(conn: Connection, query: UsageQuery, firsts: Sequence[int] | None = None) -> list[HourTotals]:
    """Sums per group, hour and log type for the query's hours, types and filters (its `username` must
    already be resolved to `user_id`); the group key follows `query.group_by`, a grouped `type` included.
    With `firsts` (the first hours of the query's buckets, see `domain.analytics.bucket_firsts`) the sums
    are per bucket instead, each under its bucket's first hour."""
    keys = present_keys(conn, query)
    if keys == []:
        return []
    statement = hourly_statement(query, firsts, conn.dialect.name, keys)
    # Rows are (group values without type…, hour, [type,] requests, successes, failures, quota,
    # prompt_tokens, completion_tokens), read as the driver's tuples: a heavy user's week by hour and model
    # is some 4,000 rows, and SQLAlchemy's rows cost as much as the query. Group values are columns, as
    # the drivers return them (str or int); sums and computed hours may be Decimal (PostgreSQL, MySQL).
    fields = query.group_fields
    type_at = fields.index("type") if "type" in fields else None
    width = len(fields) if type_at is None else len(fields) - 1
    sums_at = width + 1 if type_at is None else width + 2
    found = []
    for row in _dialect.driver_rows(conn, statement):
        key = row[:width]
        if type_at is not None:
            key = (*key[:type_at], int(row[width + 1]), *key[type_at:])
        requests, successes, failures, quota, prompt_tokens, completion_tokens = row[sums_at:]
        found.append(
            HourTotals(
                key,
                int(row[width]),
                int(requests),
                int(successes),
                int(failures),
                int(quota),
                int(prompt_tokens),
                int(completion_tokens),
            )
        )
    return found


def key_names(conn: Connection, query: UsageQuery, token_ids: Sequence[int]) -> dict[int, str]:
    """Each key's name as logged in the latest hour the query counts (the query's filters, so a caller
    never sees a name from outside their scope); ties go to the greater name."""
    latest: dict[int, tuple[int, str]] = {}
    fixed = [_USAGE_COLUMNS[name] == value for name, value in query.filters.fixed().items()]
    for chunk in _dialect.in_chunks(token_ids):
        statement = (
            select(usage_hourly.c.token_id, usage_hourly.c.token_name, func.max(usage_hourly.c.hour).label("last"))
            .where(usage_hourly.c.token_id.in_(chunk), *fixed, *_common(usage_hourly, query))
            .group_by(usage_hourly.c.token_id, usage_hourly.c.token_name)
        )
        for row in conn.execute(statement):
            seen = (int(row.last), str(row.token_name))
            token_id = int(row.token_id)
            if token_id not in latest or seen > latest[token_id]:
                latest[token_id] = seen
    return {token_id: name for token_id, (_hour, name) in latest.items()}


def usernames(conn: Connection, user_ids: Sequence[int]) -> dict[int, str]:
    """Current usernames by id (core database); unknown ids are left out."""
    names: dict[int, str] = {}
    for chunk in _dialect.in_chunks(user_ids):
        for row in conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(chunk))):
            names[int(row.id)] = str(row.username)
    return names


def user_id_by_username(conn: Connection, username: str) -> int | None:
    """The id of the user with this exact username (core database), deleted users included: their usage
    history stays readable."""
    found = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
    return None if found is None else int(found)
