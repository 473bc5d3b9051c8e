"""Lists filtered by a LIKE pattern read one index range per matching value and merge them newest first:
every page, cursor chain, recent list and export batch equals what the plain LIKE query returns, on every
backend, including rows of different values sharing a second, and when too many values match."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sqlalchemy import select

from tests.store.plans import plan_text
from tests.store.samples import START, sample_entries
from tokenledger.domain.filters import Cursor, LogFilters, PageRequest, TextMatch
from tokenledger.domain.log import LogEntry
from tokenledger.store import logs
from tokenledger.store.database import Database
from tokenledger.store.schema import logs as logs_table

MANY_MODELS = [f"m-{index:02d}" for index in range(40)]  # more values than one query reads separately


def _pattern(value: str) -> TextMatch:
    return TextMatch(value, is_pattern=True)


@pytest.fixture
def loaded(db: Database) -> Database:
    rng = random.Random(11)
    entries = sample_entries(rng, 500)
    # Rows of different models and users in the same second: the merge must order them by id.
    same_second = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"] * 4
    entries += [
        replace(entry, created_at=START + 777, model_name=model)
        for entry, model in zip(sample_entries(rng, len(same_second)), same_second, strict=True)
    ]
    entries += [
        LogEntry(id=0, user_id=1, username="user1", created_at=START + index * 61, type=2, model_name=model)
        for index, model in enumerate(MANY_MODELS * 2)
    ]
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries)
    return db


FILTERS = [
    LogFilters(model_name=_pattern("gpt-4o%")),
    LogFilters(model_name=_pattern("%o%")),
    LogFilters(model_name=_pattern("nothing-like-this%")),
    LogFilters(model_name=_pattern("m-%")),  # 40 values: the plain LIKE query
    LogFilters(username=_pattern("user%")),
    LogFilters(username=_pattern("user%"), model_name=_pattern("gpt%")),  # two patterns: the plain query
    LogFilters(user_id=3, model_name=_pattern("gpt-4o%"), start_timestamp=START + 3600, end_timestamp=START + 90_000),
    LogFilters(model_name=_pattern("claude%"), type=2, channel=1),
]


def _reference(db: Database, filters: LogFilters) -> list[int]:
    """The ids the plain LIKE query selects, newest first."""
    query = select(logs_table.c.id).where(*logs._conditions(filters)).order_by(*logs._ORDER)
    with db.read_logs() as conn:
        return [int(row_id) for row_id in conn.execute(query).scalars()]


@pytest.mark.parametrize("filters", FILTERS, ids=range(len(FILTERS)))
def test_pattern_lists_equal_the_plain_like_query(loaded: Database, filters: LogFilters) -> None:
    expected = _reference(loaded, filters)
    with loaded.read_logs() as conn:
        by_offset: list[int] = []
        for number in range(1, len(expected) // 7 + 3):
            found = logs.list_page(conn, filters, PageRequest(page=number, page_size=7))
            assert found.total == len(expected)
            by_offset += [entry.id for entry in found.items]
        assert by_offset == expected

        by_cursor: list[int] = []
        cursor: Cursor | None = None
        while True:
            found = logs.list_page(conn, filters, PageRequest(page=1, page_size=9, cursor=cursor))
            by_cursor += [entry.id for entry in found.items]
            if found.next_cursor is None:
                break
            cursor = Cursor.decode(found.next_cursor)
        assert by_cursor == expected

        assert [entry.id for entry in logs.list_recent(conn, filters, 25)] == expected[:25]

        batched: list[int] = []
        after: Cursor | None = None
        while batch := logs.list_batch(conn, filters, after, 13):
            batched += [int(row[0]) for row in batch]
            after = Cursor(created_at=int(batch[-1][2]), id=int(batch[-1][0]), position=0)
        assert batched == expected


def test_only_a_single_pattern_with_few_values_is_read_value_by_value(loaded: Database) -> None:
    with loaded.read_logs() as conn:
        assert logs._pattern_values(conn, LogFilters(model_name=_pattern("gpt-4o%"))) == (
            "model_name",
            ["gpt-4o", "gpt-4o-mini"],
        )
        assert logs._pattern_values(conn, LogFilters(username=_pattern("user%"))) == (
            "username",
            ["user1", "user2", "user3", "user4", "user5", "user5-old", "user6"],
        )
        assert logs._pattern_values(conn, LogFilters(model_name=_pattern("none%"))) == ("model_name", [])
        assert logs._pattern_values(conn, LogFilters(model_name=_pattern("m-%"))) is None
        assert logs._pattern_values(conn, LogFilters(model_name=TextMatch("gpt-4o"))) is None
        two = LogFilters(username=_pattern("user%"), model_name=_pattern("gpt%"))
        assert logs._pattern_values(conn, two) is None


def test_a_pattern_beside_another_filter_reads_that_filters_index(loaded: Database) -> None:
    def statement(filters: LogFilters) -> str:
        with loaded.read_logs() as conn:
            return str(logs._newest(conn, filters, limit=10).compile(conn))

    assert "UNION ALL" in statement(LogFilters(model_name=_pattern("gpt-4o%")))
    assert "UNION ALL" in statement(LogFilters(model_name=_pattern("gpt-4o%"), type=2, start_timestamp=START))
    assert "UNION ALL" not in statement(LogFilters(model_name=_pattern("gpt-4o%"), user_id=3))
    assert "UNION ALL" not in statement(LogFilters(username=_pattern("user%"), channel=1))


def test_a_patterns_values_are_merged_as_ids_read_from_their_index(loaded: Database) -> None:
    """Each value's branch reads ids from the (model_name, created_at, id) index, not whole rows: the page's
    rows are read once, after the merge, however deep the page."""
    with loaded.read_logs() as conn:
        query = logs._newest(conn, LogFilters(model_name=_pattern("gpt-4o%")), limit=10, offset=20)
        plan = plan_text(conn, query)
        sql = str(query.compile(conn))
        dialect = conn.dialect.name
    # Whole rows are selected once, after the merge, not in each value's branch.
    assert sql.count("logs.content") == 1, sql
    index = "ix_logs_model_name_created_at_id"
    branches = [line for line in plan.splitlines() if index in line]
    assert len(branches) == 2, plan  # gpt-4o and gpt-4o-mini
    if dialect == "sqlite":
        assert all("COVERING INDEX" in line for line in branches), plan
    elif dialect == "mysql":
        assert all("Using index" in line for line in branches), plan
    else:
        # PostgreSQL reads from the index alone only where the visibility map allows, but it must walk the
        # index in order (a bitmap scan would collect every row of the value first).
        assert all("Index Scan" in line or "Index Only Scan" in line for line in branches), plan
        assert not any("Bitmap" in line for line in branches), plan
