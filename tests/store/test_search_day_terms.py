"""PostgreSQL lists a search window of a few days from the day-terms index (migration 0012): the same
matches as the words' own index, whatever its parser makes of the words (split, cut, non-ASCII), at day
edges too, and through that index; and search lists so rather than walk further."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.backends import Databases
from tests.store.plans import analyzed_database, plan_text
from tests.store.samples import DAY, TEN_DAYS_FIRST, TEN_DAYS_WINDOWS, over_ten_days
from tokenledger.domain.filters import LogFilters
from tokenledger.store import _dialect
from tokenledger.store import logs as log_store
from tokenledger.store.database import Connection, Database
from tokenledger.store.schema import logs

LONG = "a" * 150 + "b" * 100  # cut to its first 200 characters in the day terms
CONTENTS = (
    "upstream error: status 503, model is Overloaded",
    "retry with 1e5abc and 123e4567e89b",  # PostgreSQL's parser splits both words in two
    f"blob {LONG} end",
    "a" * 199 + " and " + "c" * 200,  # one character short of the cut, and just at it
    "Überlast im Modell 模型-ünï",
    "it's ok",
    "",
)
# Words the parser splits: a phrase of two lexemes, which day terms (without positions) cannot answer.
SPLIT = ("1e5abc", "123e4567e89b")
KEYWORDS = (
    "overloaded",
    "over",
    "1e5",
    "abc",
    *SPLIT,
    "123e4567",
    "e89b",
    "a" * 120,
    LONG[:199],
    "a" * 199,
    "c" * 200,  # too long for day terms: the words' own index answers
    LONG,
    "überlast",
    "模型",
    "it's",
    "status 503",
    "zzz",
)


@pytest.fixture
def postgresql_db(databases: Databases, tmp_path: Path) -> Iterator[Database]:
    database = analyzed_database(databases, "postgresql", tmp_path, over_ten_days(CONTENTS))
    yield database
    database.dispose()


def _ids(conn: Connection, listing: _dialect.IndexListing, since: int, until: int) -> set[int]:
    window = [logs.c.created_at >= since, logs.c.created_at <= until]
    return set(conn.execute(listing.ids(window)).scalars())


def _listing(conn: Connection, keyword: str) -> _dialect.IndexListing:
    listing = _dialect.content_matches(conn, _dialect.search_words(keyword), 100).listing
    assert listing is not None
    return listing


def test_a_few_days_list_the_same_matches_from_their_day_terms(postgresql_db: Database) -> None:
    matched = 0
    with postgresql_db.read_logs() as conn:
        for keyword in KEYWORDS:
            listing = _listing(conn, keyword)
            for since, until in TEN_DAYS_WINDOWS:
                by_day = listing.within_days(conn, since, until)
                days = until // DAY - since // DAY + 1
                words = _dialect.search_words(keyword)
                by_terms = all(len(word) < _dialect.DAY_TERM_LENGTH and word not in SPLIT for word in words)
                assert (by_day.day_query is not None) == (days <= _dialect.MAX_DAY_TERMS and by_terms), keyword
                found = _ids(conn, by_day, since, until)
                assert found == _ids(conn, listing, since, until), (keyword, since, until)
                matched += len(found)
    assert matched > 500  # the keywords do match rows in the windows


def test_the_day_terms_index_lists_a_windows_matches(postgresql_db: Database) -> None:
    with postgresql_db.read_logs() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        since = TEN_DAYS_FIRST + 4 * DAY + 100
        listing = _listing(conn, "overloaded").within_days(conn, since, since + 3 * DAY)
        assert listing.day_query is not None
        plan = plan_text(conn, select(logs.c.id).where(listing.among([logs.c.created_at >= since])))
        assert "ix_logs_content_day_terms" in plan, plan


def test_search_lists_a_few_days_terms_rather_than_walk_further(
    postgresql_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a walk that found too few, a longer walk is not taken when the first window's days are listed
    from their terms, though the cost model (which prices the listing as the whole index) would take it."""
    monkeypatch.setattr(_dialect, "POSTGRESQL_WALK_ROWS", 2)
    monkeypatch.setattr(_dialect, "POSTGRESQL_LISTED_MATCH_COST", 10**9)
    walks: list[int] = []
    walk_newest = log_store._newest_among_newest

    def recorded(conn: Connection, scope: LogFilters, condition: object, rows: int, limit: int) -> object:
        walks.append(rows)
        return walk_newest(conn, scope, condition, rows, limit)  # type: ignore[arg-type]

    monkeypatch.setattr(log_store, "_newest_among_newest", recorded)

    def search() -> list[int]:
        walks.clear()
        with postgresql_db.read_logs() as conn:
            return [entry.id for entry in log_store.search(conn, "overloaded", 20, LogFilters(user_id=2))]

    by_days = search()
    assert walks == [2]
    monkeypatch.setattr(_dialect, "MAX_DAY_TERMS", 0)
    walked_further = search()
    assert len(walks) == 2 and walks[1] > 2
    assert by_days == walked_further and len(by_days) == 20
