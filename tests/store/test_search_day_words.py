"""MySQL lists a search window of a few days from the day-words index (migration 0014): the same matches
as the words' patterns (which a walk tests), for words at and past the cut, short, non-ASCII or absent, at
day edges too, and through that index; and search lists so, or walks further, as their costs say."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.backends import Databases
from tests.store.plans import analyzed_database, plan_text
from tests.store.samples import DAY, TEN_DAYS_FIRST, TEN_DAYS_WINDOWS, over_ten_days
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry
from tokenledger.store import _dialect
from tokenledger.store import logs as log_store
from tokenledger.store.database import Connection, Database
from tokenledger.store.schema import logs

CUT = _dialect.MYSQL_DAY_WORD_LENGTH
LONG = "a" * 50 + "b" * 100  # cut to its first CUT characters in the day words
CONTENTS = (
    "upstream error: status 503, model is Overloaded",
    "retry_after 1e5abc and 123e4567-e89b",
    f"blob {LONG} end",
    "a" * (CUT - 1) + " and " + "c" * CUT,  # one character short of the cut, and just at it
    "Überlast im Modell 模型-ünï",
    "it's ok",
    "",
)
KEYWORDS = (
    "overloaded",
    "over",
    "1e5abc",
    "after",
    "123e4567",
    "e89b",
    "a" * 40,
    LONG[:CUT],
    LONG,  # longer than any day word: listed from the words' own index
    "a" * (CUT - 1),
    "c" * CUT,
    "überlast",
    "模型",
    "it's",  # two words shorter than the index's least token size: not listed
    "ok after",  # one of them
    "status 503",
    "zzz",
)


@pytest.fixture
def mysql_db(databases: Databases, tmp_path: Path) -> Iterator[Database]:
    database = analyzed_database(databases, "mysql", tmp_path, over_ten_days(CONTENTS))
    yield database
    database.dispose()


def _ids(conn: Connection, condition: object, since: int, until: int) -> set[int]:
    window = [logs.c.created_at >= since, logs.c.created_at <= until]
    return set(conn.execute(select(logs.c.id).where(condition, *window)).scalars())  # type: ignore[arg-type]


def _listing(conn: Connection, keyword: str) -> _dialect.MysqlListing | None:
    """The keyword's listing; None when every word is shorter than the index's least token size (the
    pattern alone answers)."""
    listing = _dialect.content_matches(conn, _dialect.search_words(keyword), 100).listing
    assert listing is None or isinstance(listing, _dialect.MysqlListing)
    return listing


def test_a_few_days_list_the_same_matches_from_their_day_words(mysql_db: Database) -> None:
    matched = 0
    with mysql_db.read_logs() as conn:
        for keyword in KEYWORDS:
            listing = _listing(conn, keyword)
            if listing is None:
                shortest = _dialect._mysql_min_token_size(conn)
                assert all(len(word) < shortest for word in _dialect.search_words(keyword)), keyword
                continue
            for since, until in TEN_DAYS_WINDOWS:
                by_day = listing.within_days(conn, since, until)
                days = until // DAY - since // DAY + 1
                fits = any(len(word) <= CUT for word in _dialect.search_words(keyword))
                assert (by_day.day_query is not None) == (days <= _dialect.MAX_DAY_TERMS and fits), keyword
                found = _ids(conn, by_day.among(), since, until)
                if by_day.day_query is not None:
                    assert found == _ids(conn, listing.tested, since, until), (keyword, since, until)
                # The words' own index leaves out words longer than innodb_ft_max_token_size (LONG), which
                # the patterns find, and so do the day words, cut.
                assert found >= _ids(conn, listing.listed, since, until), (keyword, since, until)
                matched += len(found)
    assert matched > 500  # the keywords do match rows in the windows


def test_the_day_words_index_lists_a_windows_matches(mysql_db: Database) -> None:
    with mysql_db.read_logs() as conn:
        since = TEN_DAYS_FIRST + 4 * DAY + 100
        found = _listing(conn, "overloaded")
        assert found is not None
        listing = found.within_days(conn, since, since + 3 * DAY)
        assert listing.day_query is not None
        plan = plan_text(conn, select(logs.c.id).where(listing.among(), logs.c.created_at >= since))
        assert "ix_logs_content_day_words" in plan, plan


def test_days_are_listed_when_their_matches_cost_less_than_the_walk(mysql_db: Database) -> None:
    """The matches of the days from `since`'s are estimated from the rows logged since that day began (73
    in the fixture's last two days) and the walk's density, each costing MYSQL_LISTED_MATCH_COST against a
    walked row's MYSQL_WALKED_ROW_COST."""
    since = TEN_DAYS_FIRST + 9 * DAY + 5_000
    matches = 73 * 0.5 * _dialect.MYSQL_LISTED_MATCH_COST
    walk_rows = math.ceil(matches / _dialect.MYSQL_WALKED_ROW_COST)
    with mysql_db.read_logs() as conn:
        listing = _listing(conn, "overloaded")
        assert listing is not None
        assert listing.days_cheaper_than_walk(conn, since, 0.5, walk_rows)
        assert not listing.days_cheaper_than_walk(conn, since, 0.5, walk_rows - 1)


@pytest.mark.parametrize("days_cheaper", [True, False])
def test_search_lists_a_few_days_words_rather_than_walk_further(
    mysql_db: Database, monkeypatch: pytest.MonkeyPatch, days_cheaper: bool
) -> None:
    """After a walk that found too few, search lists the first window's days from their words when that
    costs less than walking further (which the cost model, pricing the listing as the whole index, would
    do), and walks further otherwise; the answer is the same either way, and the same as without days."""
    monkeypatch.setattr(_dialect, "MYSQL_WALK_ROWS", 2)
    monkeypatch.setattr(_dialect, "MYSQL_LISTED_MATCH_COST", 10**9)
    monkeypatch.setattr(_dialect.MysqlListing, "days_cheaper_than_walk", lambda *args: days_cheaper)
    walks: list[int] = []
    walk_newest = log_store._ContinuedWalk.__call__

    def recorded(walk: log_store._ContinuedWalk, walk_rows: int) -> tuple[list[LogEntry], bool]:
        walks.append(walk_rows)
        return walk_newest(walk, walk_rows)

    monkeypatch.setattr(log_store._ContinuedWalk, "__call__", recorded)

    def search() -> list[int]:
        walks.clear()
        with mysql_db.read_logs() as conn:
            return [entry.id for entry in log_store.search(conn, "overloaded", 20, LogFilters(user_id=2))]

    found = search()
    if days_cheaper:
        assert walks == [2]
    else:
        assert len(walks) == 2 and walks[1] > 2
    monkeypatch.setattr(_dialect, "MAX_DAY_TERMS", 0)
    without_days = search()
    assert len(walks) == 2 and walks[1] > 2
    assert found == without_days and len(found) == 20
