"""The analytics planner: a query whose dimensions a log_rollups scope covers reads that scope (the
smallest one), and really reads log_rollups rather than falling back to usage_hourly; both sources give
the same sums."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from tests.store.samples import SPAN, START, sample_entries
from tokenledger.domain.analytics import (
    DEFAULT_TYPES,
    Bucket,
    Dimension,
    Labels,
    UsageFilters,
    UsageQuery,
    bucket_firsts,
    report,
)
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import analytics, logs
from tokenledger.store.database import Database
from tokenledger.store.schema import log_rollups, usage_hourly

HOUR = 3600
FIRST = START - START % HOUR
END = FIRST + SPAN + HOUR


def make(group_by: tuple[Dimension, ...], **filters: object) -> UsageQuery:
    return UsageQuery(group_by, Bucket.DAY, UTC, FIRST, END, UsageFilters(**filters))  # type: ignore[arg-type]


M, K, C, G, U, T = Dimension.MODEL, Dimension.KEY, Dimension.CHANNEL, Dimension.GROUP, Dimension.USER, Dimension.TYPE

# (query, scope code it must read; None: usage_hourly)
PLANS = [
    (make(()), 0),
    (make((T,)), 0),
    (make((U,)), 1),
    (make((U, T)), 1),
    (make((K,)), 2),  # a superset: summed over users
    (make((U, K)), 2),
    (make((), token_id=31), 2),
    (make((M,)), 5),
    (make((M, T)), 5),
    (make((), model_name="gpt-4o"), 5),
    (make((C,)), 6),
    (make((G,)), 7),
    (make((), group="vip"), 7),
    (make((M, U)), 9),
    (make((M,), user_id=3), 9),
    (make((U,), model_name="gpt-4o"), 9),
    (make((K,), user_id=3), 2),
    (make((T,), user_id=3, token_id=31), 2),
    (make((M, K)), None),
    (make((M, C)), None),
    (make((C, G)), None),
    (make((G, U)), None),
    (make((C,), user_id=3), None),
    (make((M,), channel=2), None),
    (make((), model_name="gpt-4o", group="vip"), None),
]


@pytest.mark.parametrize(("query", "scope"), PLANS)
def test_the_planner_picks_the_smallest_covering_scope(query: UsageQuery, scope: int | None) -> None:
    chosen = analytics.plan(query.dimensions)
    assert (chosen.scope.code if chosen.scope else None) == scope
    assert chosen.table == ("usage_hourly" if scope is None else "log_rollups")


Sums = tuple[int, int, int, int, int, int]  # requests, successes, failures, quota, prompt and completion tokens


def _read(db: Database, query: UsageQuery) -> dict[tuple[object, ...], Sums]:
    with db.read_logs() as conn:
        rows = analytics.hourly_totals(conn, query)
    found: dict[tuple[object, ...], Sums] = {}
    for row in rows:
        cell = (*row.key, row.hour)
        assert cell not in found
        # As the domain and the JSON answer want them, on every driver (not Decimal, not bytes).
        assert all(type(value) in (int, str) for value in cell), cell
        found[cell] = (
            row.requests,
            row.successes,
            row.failures,
            row.quota,
            row.prompt_tokens,
            row.completion_tokens,
        )
    return found


def _raw_sums(
    entries: list[LogEntry], cell_of: Callable[[LogEntry], tuple[object, ...] | None]
) -> dict[tuple[object, ...], Sums]:
    """Sums over the entries themselves, per cell (None: the entry is not counted)."""
    want: dict[tuple[object, ...], list[int]] = {}
    for entry in entries:
        cell = cell_of(entry)
        if cell is None:
            continue
        sums = want.setdefault(cell, [0] * 6)
        consume, error = entry.type == LogType.CONSUME, entry.type == LogType.ERROR
        for i, value in enumerate((1, consume, error, entry.quota, entry.prompt_tokens, entry.completion_tokens)):
            sums[i] += int(value)
    return {cell: (a, b, c, d, e, f) for cell, (a, b, c, d, e, f) in want.items()}


def test_covered_queries_read_log_rollups_and_agree_with_usage_hourly(db: Database) -> None:
    entries = sample_entries(random.Random(11), 900)
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries)
    covered = [query for query, scope in PLANS if scope is not None]
    before = {index: _read(db, query) for index, query in enumerate(covered)}
    assert all(before.values())
    # With usage_hourly emptied, covered queries still answer: they read log_rollups.
    with db.write_logs() as conn:
        conn.execute(delete(usage_hourly))
    for index, query in enumerate(covered):
        assert _read(db, query) == before[index], query
    assert _read(db, make((M, K))) == {}
    # And with log_rollups emptied too, nothing is left: no query reads the logs.
    with db.write_logs() as conn:
        conn.execute(delete(log_rollups))
    assert _read(db, make((M,))) == {}


def test_rollups_and_usage_hourly_give_the_same_sums(db: Database) -> None:
    entries = sample_entries(random.Random(12), 900)
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries)
    # Each grouping read from its scope, and a finer grouping (read from usage_hourly) summed back here.
    finer_of = {(): (M, C), (M,): (M, C), (U, K): (U, K, C), (C, T): (C, T, M), (G,): (G, C), (U,): (U, G)}
    for group_by, finer_group_by in finer_of.items():
        query = make(group_by)
        finer = replace(query, group_by=finer_group_by)
        assert analytics.plan(query.dimensions).table == "log_rollups"
        assert analytics.plan(finer.dimensions).table == "usage_hourly"
        summed: dict[tuple[object, ...], list[int]] = {}
        for cell, sums in _read(db, finer).items():
            coarse = (*cell[: len(group_by)], cell[-1])
            total = summed.setdefault(coarse, [0] * 6)
            for i, value in enumerate(sums):
                total[i] += value
        assert {cell: tuple(sums) for cell, sums in summed.items()} == _read(db, query), group_by


def test_raw_rows_equal_the_rollup_reads(db: Database) -> None:
    """Sums over the sample entries themselves, per model and hour: of each type, and of the types a chart
    counts by default (consume and error)."""
    entries = sample_entries(random.Random(13), 700)
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries)

    def hour_of(entry: LogEntry) -> int:
        return entry.created_at - entry.created_at % HOUR

    by_type = _raw_sums(entries, lambda entry: (entry.model_name, entry.type, hour_of(entry)))
    assert by_type == _read(db, make((M, T)))
    assert {cell[1] for cell in by_type} >= {LogType.CONSUME, LogType.ERROR, LogType.TOPUP}
    counted = _raw_sums(
        entries, lambda entry: (entry.model_name, hour_of(entry)) if entry.type in DEFAULT_TYPES else None
    )
    assert counted == _read(db, make((M,)))


@pytest.mark.parametrize("too_many", [False, True], ids=["keys found", "too many keys"])
def test_a_key_grouped_chart_reads_the_same_sums_by_each_keys_window(
    db: Database, too_many: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grouped by one key column of the scope (model; user beside a fixed model), PostgreSQL and MySQL read
    the window of each key `present_keys` finds (the plain window past PRESENT_KEYS_LIMITS keys), SQLite of
    each key it finds in the same statement: each equals the sums over the entries."""
    if too_many:
        monkeypatch.setattr(analytics, "PRESENT_KEYS_LIMITS", dict.fromkeys(analytics.PRESENT_KEYS_LIMITS, 1))
    entries = sample_entries(random.Random(15), 700)
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries)
    model = entries[0].model_name
    charts = {
        make((M,)): lambda entry: entry.model_name,
        make((U,), model_name=model): lambda entry: entry.user_id if entry.model_name == model else None,
    }
    for query, key_of in charts.items():
        with db.read_logs() as conn:
            keys = analytics.present_keys(conn, query)
        if db.log_backend == "sqlite" or too_many:
            assert keys is None
        else:
            assert keys is not None and len(keys) > 1
            assert set(keys) == {key_of(entry) for entry in entries} - {None}
        counted = _raw_sums(
            entries,
            lambda entry, key_of=key_of: (
                None
                if key_of(entry) is None or entry.type not in DEFAULT_TYPES
                else (key_of(entry), entry.created_at - entry.created_at % HOUR)
            ),
        )
        assert _read(db, query) == counted, query


@pytest.mark.parametrize("select_per_bucket", [True, False], ids=["a select per bucket", "one select"])
@pytest.mark.parametrize("zone", [UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")])
def test_buckets_summed_by_the_database_equal_hours_folded_by_the_domain(
    db: Database, zone: tzinfo, select_per_bucket: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of summing buckets (SQLite's SELECT per bucket up to SQLITE_BUCKET_SELECTS buckets, and one
    SELECT grouping every row by its bucket), on every backend: the limit is lowered to force the second."""
    if not select_per_bucket:
        monkeypatch.setattr(analytics, "SQLITE_BUCKET_SELECTS", 0)
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(random.Random(14), 800))
    labels = Labels(channel_names={})
    for bucket in (Bucket.DAY, Bucket.WEEK, Bucket.MONTH):
        for group_by in ((), (M,), (U, T), (M, C)):  # scopes 0, 5, 1 and usage_hourly
            query = UsageQuery(group_by, bucket, zone, FIRST - 2 * 86_400, END + 9 * 86_400)
            firsts = bucket_firsts(query)
            assert firsts is not None
            with db.read_logs() as conn:
                by_hour = analytics.hourly_totals(conn, query)
                by_bucket = analytics.hourly_totals(conn, query, firsts)
            assert len(by_bucket) < len(by_hour) or not by_hour
            assert report(query, by_bucket, labels) == report(query, by_hour, labels), (bucket, group_by)
