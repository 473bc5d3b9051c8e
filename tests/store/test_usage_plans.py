"""Hourly data and charts read what their answer needs: a user's buckets from one covering index in the
order returned (else a heavy user's month silently goes back to fetching some 15,000 scattered rows and
sorting them, see migration 0009), and a chart grouped by a key only the window's hours of each key, on
every engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Connection, literal, select

from tests.backends import Databases
from tests.store.plans import analyzed_database, models_over_hours, plan_text
from tokenledger.domain import analytics
from tokenledger.domain.filters import Scope
from tokenledger.domain.usage import UsageBucket
from tokenledger.store import _dialect, migrate, usage
from tokenledger.store import analytics as store_analytics
from tokenledger.store.database import Database

HOUR = 3600
FIRST_HOUR = 1_790_899_200
USERS = 40


def _fill(db: Database) -> None:
    buckets = [
        UsageBucket(f"model-{model}", FIRST_HOUR + hour * HOUR, 1, 10, 100, user, f"user-{user}")
        for user in range(1, USERS + 1)
        for hour in range(48)
        for model in range(3)
    ]
    with db.write_logs() as conn:
        usage.add_buckets(conn, buckets)
        _dialect.refresh_statistics(conn, ("quota_data",))


@pytest.mark.parametrize(
    ("index", "who"),
    [("ix_quota_data_user_hours", {"user_id": 7}), ("ix_quota_data_username_hours", {"username": "user-7"})],
)
def test_a_users_buckets_come_from_one_covering_index_in_order(db: Database, index: str, who: dict[str, Any]) -> None:
    _fill(db)
    query = usage.buckets_query(FIRST_HOUR, FIRST_HOUR + 30 * 24 * HOUR, **who)
    with db.read_logs() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            # A table this small is cheaper to scan, or to fetch and sort; forbid both to see whether the
            # index can serve the query in order at all.
            for method in ("seqscan", "bitmapscan", "sort"):
                conn.exec_driver_sql(f"SET LOCAL enable_{method} = off")
        plan = plan_text(conn, query)
        assert len(usage.list_buckets(conn, FIRST_HOUR, FIRST_HOUR + 30 * 24 * HOUR, **who)) == 48 * 3
    if dialect == "sqlite":
        assert f"COVERING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan
    elif dialect == "postgresql":
        assert index in plan and "Sort" not in plan, plan
    else:
        assert index in plan and "Using index" in plan and "filesort" not in plan, plan


def test_a_chart_grouped_by_a_key_reads_each_keys_window_not_its_history(tmp_path: Path) -> None:
    """Grouped by model (a key column ahead of `hour` in log_rollups' key), SQLite seeks each model's hours
    in the window instead of reading every hour the scope holds."""
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate.upgrade(db)
    window = {"start_timestamp": str(FIRST_HOUR), "end_timestamp": str(FIRST_HOUR + 86400)}
    query = analytics.parse_query({"bucket": "day", "group_by": "model"} | window, Scope.ADMIN, FIRST_HOUR + 86400)
    statement = store_analytics.hourly_statement(query, None, "sqlite")
    with db.read_logs() as conn:
        plan = plan_text(conn, statement)
    db.dispose()
    assert "key_text=? AND hour>? AND hour<?" in plan, plan


def _last_ten_hours_by(group_by: str) -> analytics.UsageQuery:
    """An admin's chart by hour of the last 10 of `models_over_hours`' 300 hours."""
    last = 1_790_000_000 + 299 * HOUR
    window = {"start_timestamp": str(last - 9 * HOUR), "end_timestamp": str(last)}
    return analytics.parse_query({"bucket": "hour", "group_by": group_by} | window, Scope.ADMIN, last)


def test_a_chart_grouped_by_a_key_on_postgresql_reads_each_keys_window(databases: Databases, tmp_path: Path) -> None:
    """PostgreSQL is given the models present (`present_keys`, a seek each) and reads each one's hours in
    the window: 4 models over 300 hours of history, a chart of the last 10. Without them its index
    condition stops at key2, and the read goes through all 1,200 rollup rows of the scope."""
    database = analyzed_database(databases, "postgresql", tmp_path, models_over_hours())
    query = _last_ten_hours_by("model")
    try:
        with database.read_logs() as conn:
            keys = store_analytics.present_keys(conn, query)
            statement = store_analytics.hourly_statement(query, None, "postgresql", keys)
            sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql.replace("%", "%%")).scalar_one()
            hours = store_analytics.hourly_totals(conn, query)
    finally:
        database.dispose()
    assert keys == ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini-tts", "gpt-5"]
    assert len(hours) == 4 * 10 and all(hour.requests == 1 for hour in hours)
    # Conditions on later key columns are applied inside the index, where the plan does not count the
    # entries they pass over: what it shows is whether each model is sought.
    nodes, conditions = [plan[0]["Plan"]], []
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node.get("Index Name") == "pk_log_rollups":
            conditions.append(node["Index Cond"])
    assert conditions and all("key_text" in found and "hour >=" in found for found in conditions), conditions


def test_a_chart_grouped_by_a_key_on_mysql_reads_each_keys_window(databases: Databases, tmp_path: Path) -> None:
    """MySQL finds the models present by a loose index scan and reads each one's hours in the window: 4
    models over 300 hours of history, a chart of the last 10. The server's own counters of index entries
    read tell the two reads apart: the plain window goes through all 1,200 rollup rows of the scope."""
    database = analyzed_database(databases, "mysql", tmp_path, models_over_hours())
    query = _last_ten_hours_by("model")

    def entries_read(conn: Connection, statement: Any) -> tuple[int, list[Any]]:
        conn.exec_driver_sql("FLUSH STATUS")
        rows = _dialect.driver_rows(conn, statement)
        counters = dict(conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%%'").all())
        return sum(int(counters[name]) for name in ("Handler_read_key", "Handler_read_next")), rows

    try:
        with database.read_logs() as conn:
            keys = store_analytics.present_keys(conn, query)
            by_key, rows = entries_read(conn, store_analytics.hourly_statement(query, None, "mysql", keys))
            plain, plain_rows = entries_read(conn, store_analytics.hourly_statement(query, None, "mysql"))
            scope = store_analytics.plan(query.dimensions).scope
            assert scope is not None
            statement = store_analytics._present_keys_statement("mysql", scope.code, "key_text", ("key1", "key2"))
            key_plan = plan_text(conn, statement.params(limit=10, pinned_key1=0, pinned_key2=0))
    finally:
        database.dispose()
    assert keys == ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini-tts", "gpt-5"]
    assert sorted(rows) == sorted(plain_rows) and len(rows) == 4 * 10
    assert plain >= 4 * 300 and by_key <= 4 * 10 + 4 * 2, (by_key, plain)
    assert "Using index for group-by" in key_plan, key_plan


def test_postgresql_is_given_any_number_of_keys_in_one_parameter(databases: Databases, tmp_path: Path) -> None:
    """A chart by user on a deployment of many users: its keys travel as one array, where a list of them
    would pass PostgreSQL's limit of 65,535 parameters a statement."""
    database = analyzed_database(databases, "postgresql", tmp_path, models_over_hours())
    query = _last_ten_hours_by("user")
    try:
        with database.read_logs() as conn:
            statement = store_analytics.hourly_statement(query, None, "postgresql", list(range(1, 70_001)))
            rows = _dialect.driver_rows(conn, statement)
    finally:
        database.dispose()
    assert sorted((row[0], row[2]) for row in rows) == [(1, 4)] * 10  # user 1's 10 hours, 4 logs each


def test_daily_buckets_are_summed_as_each_keys_hours_stream_by(tmp_path: Path) -> None:
    """A month by day and model: SQLite sums each day in a SELECT of its own, reading each model's hours of
    that day in key order, instead of grouping every row read by an expression of its hour, which sorts
    them all (three quarters of the query's time at 39,000 rollup rows)."""
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate.upgrade(db)
    end = FIRST_HOUR + 30 * 86400
    window = {"start_timestamp": str(FIRST_HOUR), "end_timestamp": str(end)}
    params = {"bucket": "day", "group_by": "model", "tz": "Asia/Shanghai"} | window
    query = analytics.parse_query(params, Scope.ADMIN, end)
    firsts = analytics.bucket_firsts(query)
    assert firsts is not None and len(firsts) == 31
    statement = store_analytics.hourly_statement(query, firsts, "sqlite")
    with db.read_logs() as conn:
        plan = plan_text(conn, statement)
    db.dispose()
    assert plan.count("key_text=? AND hour>? AND hour<?") == 31, plan
    assert "TEMP B-TREE" not in plan, plan


def test_a_charts_bucket_arithmetic_divides_whole_numbers(db: Database) -> None:
    """An hour's bucket is found by integer division: the same steps as Python's on every engine, and on
    MySQL its DIV rather than FLOOR of a DECIMAL quotient (a quarter of a month's chart on MariaDB)."""
    cases = [(0, 3600), (3599, 3600), (3600, 3600), (86_399, 86_400), (2_592_000, 86_400), (10**12 + 7, 32_400)]
    steps = [_dialect.whole_steps(literal(value, BigInteger), step) for value, step in cases]
    with db.read_logs() as conn:
        found = conn.execute(select(*steps)).one()
        sql = str(select(*steps).compile(conn))
    assert [int(value) for value in found] == [value // step for value, step in cases]
    if db.log_backend == "mysql":
        assert " DIV " in sql and "FLOOR" not in sql.upper(), sql
