"""PostgreSQL's plans: every statement is planned for its own parameter values (psycopg's automatic
server-side prepared statements would let PostgreSQL settle on one generic plan, which read a heavy user's
rows for one of their API keys' pages: 1.1 s instead of 14 ms at 10M rows), and deep pages filtered by
any dimension are read in the index's order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.backends import Databases
from tests.store.plans import analyzed_database, models_over_hours, plan_text
from tokenledger.domain.filters import LogFilters, TextMatch
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.store import dsn, logs, rollups
from tokenledger.store.database import Database, server_engine


def test_repeated_queries_are_not_prepared_on_the_server(databases: Databases) -> None:
    engine = server_engine(dsn.normalize_url(databases.new("postgresql", "plans")))
    try:
        with engine.connect() as conn:
            statement = text("SELECT CAST(:value AS integer) + 1")
            for value in range(12):
                assert conn.execute(statement, {"value": value}).scalar_one() == value + 1
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
    finally:
        engine.dispose()
    assert prepared == 0


def test_sessions_run_without_jit_and_keep_the_dsns_own_options(databases: Databases) -> None:
    """JIT compiled a search's listing first (20–80 ms for a statement of 1–30 ms), so it is off; settings
    given in the DSN's `options` still apply."""
    url = dsn.normalize_url(databases.new("postgresql", "plans"), "SQL_DSN")
    for given, work_mem in (("", None), ("?options=-c%20work_mem%3D7MB", "7MB")):
        engine = server_engine(url + given)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW jit").scalar_one() == "off"
                if work_mem:
                    assert conn.exec_driver_sql("SHOW work_mem").scalar_one() == work_mem
        finally:
            engine.dispose()


@pytest.fixture
def postgresql_db(databases: Databases, tmp_path: Path) -> Iterator[Database]:
    entries = [
        LogEntry(
            id=0,
            user_id=1 + n % 20,
            username=f"user{n % 20}",
            created_at=1_790_000_000 + n // 4,  # several rows a second: their order is the id's
            type=LogType.MANAGE if n % 20 == 0 else LogType.CONSUME,
            model_name=f"model-{n % 20}",
            channel=1 + n % 20,
            token_id=1 + n % 100,  # each key belongs to one user: 1 + (token_id - 1) % 20
        )
        for n in range(4_000)
    ]
    database = analyzed_database(databases, "postgresql", tmp_path, entries)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (LogFilters(type=LogType.MANAGE), "ix_logs_type_created_at_id"),
        (LogFilters(model_name=TextMatch("model-3")), "ix_logs_model_name_created_at_id"),
        (LogFilters(username=TextMatch("user1")), "ix_logs_username_created_at_id"),
        (LogFilters(channel=2), "ix_logs_channel_id_created_at_id"),
    ],
)
def test_filtered_deep_pages_come_in_index_order(postgresql_db: Database, filters: LogFilters, index: str) -> None:
    """Each filter's index gives the list's whole order (created_at, id), so PostgreSQL skips an offset
    along the index instead of sorting every row of each second first."""
    with postgresql_db.read_logs() as conn:
        # At this size a sequential scan would win; the index's order is what is checked.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        page = plan_text(conn, logs._newest(conn, filters, limit=10, offset=100, page=True))
        page_ids = plan_text(conn, logs._page_ids(filters, limit=10, offset=100, after=None))
    assert f"Index Only Scan Backward using {index} " in page_ids and "Sort" not in page_ids, page_ids
    # The page's ten rows are joined to those ids and put back in order: the only sort.
    assert page.count("Sort Key") == 1 and page_ids.split("\n")[-1].strip() in page, page


def test_a_keys_rows_are_estimated_as_the_keys_not_as_a_fraction_of_them(postgresql_db: Database) -> None:
    """The owner's condition beside a key is `user_id + 0` (see logs._conditions); without the extended
    statistics of migration 0011 PostgreSQL takes it for 0.5% of the key's rows and sorts the whole key
    for a page of a heavy key."""
    with postgresql_db.read_logs() as conn:
        # With its parameters bound, as it runs: the statistics must match the statement's expression.
        compiled = logs._newest(conn, LogFilters(user_id=8, token_id=28), limit=10).compile(dialect=conn.dialect)
        plan = "\n".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))
    scan = next(line for line in plan.splitlines() if "Scan" in line)
    estimated = int(scan.split(" rows=")[1].split()[0])
    assert estimated >= 20, plan  # the key has 40 rows; the default selectivity would say 1


def test_a_patterns_values_are_found_by_a_seek_each(databases: Databases, tmp_path: Path) -> None:
    """One recursive statement finds a pattern's values (rollups.values_like), each step a seek of the
    rollups' key past the value before: the rows it reads are the values found, not each value's hours."""
    database = analyzed_database(databases, "postgresql", tmp_path, models_over_hours())
    try:
        with database.read_logs() as conn:
            values = rollups.values_like(conn, "model_name", TextMatch("gpt-4o%", is_pattern=True), 32)
            _, _, recursive = rollups._values_like_statements(
                rollups._BY_DIMENSIONS[frozenset(("model_name",))].code, True
            )
            compiled = recursive.compile(dialect=conn.dialect)
            params = {**compiled.params, "pattern": "gpt-4o%", "prefix": "gpt-4o", "upper": "gpt-4p", "limit": 32}
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), params).scalar_one()
    finally:
        database.dispose()
    assert values == ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini-tts"]

    def scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if node.get("Relation Name") == "log_rollups":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    found = list(scans(plan[0]["Plan"]))
    assert found and all(node["Node Type"] in ("Index Only Scan", "Index Scan") for node in found), found
    read = sum(node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0) for node in found)
    assert read < 20, f"{read} rollup rows read for 3 values of 300 hours each"
