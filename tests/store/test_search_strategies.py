"""Search answers the same whether its words are rare (the full-text index lists the matches) or common
(the newest rows are read in order and each is tested, for a bounded number of rows, after which the
matches are listed after all), and on SQLite whether a word prefix is expanded into exact terms or not.
SQLite switches plans by the density of the matches, PostgreSQL and MySQL by how many of the newest rows
they have tested."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.store.plans import explain
from tests.store.samples import START, sample_entries
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry
from tokenledger.store import _dialect, logs, migrate
from tokenledger.store.database import Connection, Database
from tokenledger.store.schema import logs as logs_table

WORDS = ("upstream", "timeout", "Rate", "limit", "gpt", "4o", "quota", "ok", "模型", "retry_after", "x", "it's")
KEYWORDS = (
    "upstream",
    "time",
    "RATE limit",
    "gpt-4o",
    "ok",
    "模型",
    "retry",
    "after",
    "x",
    "quota upstream",
    "zzz",
    "it's",
    "5",  # begins words of some contents ("#5", "#57"…), and is the type of error logs
)
# Settings that force each plan: (module, name, value).
PLANS = {
    "common words, rows tested one by one": [
        (_dialect, "COMMON_MATCHES", 3),
        (_dialect, "WALK_MATCH_COST", 0),
        (_dialect, "MYSQL_WALK_ROWS", 10**9),
        (_dialect, "POSTGRESQL_WALK_ROWS", 10**9),
    ],
    "common words, rows tested in chunks from a single row on": [
        (_dialect, "COMMON_MATCHES", 3),
        (_dialect, "WALK_MATCH_COST", 0),
        (_dialect, "FIRST_CHUNK_SLACK", 0.001),
        (_dialect, "MYSQL_WALK_ROWS", 10**9),
        (_dialect, "POSTGRESQL_WALK_ROWS", 10**9),
    ],
    "common words, too few among the newest rows": [
        (_dialect, "COMMON_MATCHES", 3),
        (_dialect, "WALK_MATCH_COST", 0),
        (_dialect, "WALK_SLACK", 0.01),
        (_dialect, "MYSQL_WALK_ROWS", 1),
        (_dialect, "POSTGRESQL_WALK_ROWS", 1),
    ],
    "matches listed in windows of the newest rows, from a window of two seconds on": [
        (_dialect, "MYSQL_WALK_ROWS", 1),
        (_dialect, "POSTGRESQL_WALK_ROWS", 1),
        (logs, "SEARCH_FEW_MATCHES", 0),
        (logs, "SEARCH_WINDOW_SLACK", 0.0),
        (logs, "SEARCH_WINDOW_GROWTH", 2),
    ],
    "matches listed in windows from the words' own index, not their days' terms": [
        (_dialect, "MYSQL_WALK_ROWS", 1),
        (_dialect, "POSTGRESQL_WALK_ROWS", 1),
        (_dialect, "MAX_DAY_TERMS", 0),
        (logs, "SEARCH_FEW_MATCHES", 0),
        (logs, "SEARCH_WINDOW_SLACK", 0.0),
        (logs, "SEARCH_WINDOW_GROWTH", 2),
    ],
    "matches few enough to be listed whole": [
        (_dialect, "MYSQL_WALK_ROWS", 1),
        (_dialect, "POSTGRESQL_WALK_ROWS", 1),
        (logs, "SEARCH_FEW_MATCHES", 10**9),
    ],
    "common words, the newest rows tested against the set of matches": [
        (_dialect, "COMMON_MATCHES", 3),
        (_dialect, "MATCH_SET_COST", 0),
        (_dialect, "SET_STEP_COST", 0),
    ],
    "common words, too few among the newest rows tested against the set": [
        (_dialect, "COMMON_MATCHES", 3),
        (_dialect, "MATCH_SET_COST", 0),
        (_dialect, "SET_STEP_COST", 0),
        (_dialect, "WALK_SLACK", 0.01),
    ],
    "word prefixes searched as prefixes": [(_dialect, "MAX_PREFIX_TERMS", 0)],
    "the newest matches read by id, one at a time, rows out of id order tested one by one": [
        (_dialect, "BY_ID_MIN_WALK", 0),
        (logs, "SEARCH_BY_ID_SCOPED_MATCHES", 0),
        (logs, "SEARCH_BY_ID_FIRST_BATCH", 0),
        (logs, "SEARCH_BY_ID_WALK_SLACK", 10**6),
        (logs, "SEARCH_BY_ID_STRAGGLERS", 10**6),
    ],
    "a scope of few rows read whole": [
        (_dialect, "BY_ID_MIN_WALK", 0),
        (logs, "SEARCH_SMALL_SCOPE_ROWS", 10**6),
    ],
    "the newest matches read by id, too many rows out of id order": [
        (_dialect, "BY_ID_MIN_WALK", 0),
        (logs, "SEARCH_BY_ID_SCOPED_MATCHES", 0),
        (logs, "SEARCH_BY_ID_STRAGGLERS", 0),
    ],
    "a longer walk after the first one found too few": [
        (_dialect, "MYSQL_WALK_ROWS", 2),
        (_dialect, "POSTGRESQL_WALK_ROWS", 2),
        (_dialect, "MYSQL_LISTED_MATCH_COST", 10**9),
        (_dialect, "POSTGRESQL_LISTED_MATCH_COST", 10**9),
        (_dialect, "MAX_DAY_TERMS", 0),  # else PostgreSQL lists a few days' terms rather than walk further
    ],
    "a longer walk that still finds too few, then the listing": [
        (_dialect, "MYSQL_WALK_ROWS", 2),
        (_dialect, "POSTGRESQL_WALK_ROWS", 2),
        (_dialect, "MYSQL_LISTED_MATCH_COST", 10**9),
        (_dialect, "POSTGRESQL_LISTED_MATCH_COST", 10**9),
        (_dialect, "MAX_DAY_TERMS", 0),
        (_dialect, "LONGEST_WALK", 3),
        (logs, "SEARCH_FEW_MATCHES", 0),
    ],
}


def _contents(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.sample(WORDS, rng.randint(1, 4))) + f" #{n}" for n in range(count)]


def _fill(db: Database) -> Database:
    rng = random.Random(11)
    entries = sample_entries(rng, 400)
    _insert_with_contents(db, entries, _contents(rng, len(entries)))
    return db


def _insert_with_contents(db: Database, entries: list[LogEntry], contents: Sequence[str]) -> None:
    """Insert the sample entries, each with the content at its place."""
    with db.write_logs() as conn:
        logs.insert_logs(
            conn,
            [
                entry.__class__(**{**_fields(entry), "content": text})
                for entry, text in zip(entries, contents, strict=True)
            ],
        )


@pytest.fixture
def searchable(db: Database) -> Database:
    return _fill(db)


def _fields(entry: object) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__slots__}  # type: ignore[attr-defined]


def _search(db: Database, keyword: str, scope: LogFilters) -> list[int]:
    with db.read_logs() as conn:
        return [entry.id for entry in logs.search(conn, keyword, 50, scope)]


@pytest.mark.parametrize("plan", PLANS)
def test_every_plan_finds_what_the_index_plan_finds(
    searchable: Database, monkeypatch: pytest.MonkeyPatch, plan: str
) -> None:
    scopes = (LogFilters(), LogFilters(user_id=3), LogFilters(user_id=2, token_id=21))
    # The reference: matches listed, neither read by id nor within a scope read whole (unless a plan says).
    monkeypatch.setattr(_dialect, "BY_ID_MIN_WALK", 10**9)
    monkeypatch.setattr(logs, "SEARCH_SMALL_SCOPE_ROWS", 0)
    rare = {(keyword, scope): _search(searchable, keyword, scope) for keyword in KEYWORDS for scope in scopes}
    for module, name, value in PLANS[plan]:
        monkeypatch.setattr(module, name, value)
    forced = {(keyword, scope): _search(searchable, keyword, scope) for keyword in KEYWORDS for scope in scopes}
    assert forced == rare
    assert sum(len(found) for found in rare.values()) > 200  # the keywords do match plenty of rows


@pytest.mark.parametrize("plan", [None, *PLANS])
def test_words_are_split_at_every_character_but_letters_and_digits(
    db: Database, monkeypatch: pytest.MonkeyPatch, plan: str | None
) -> None:
    """On every engine and plan: `_` and `'` separate words as spaces do (MySQL's own FULLTEXT parser
    keeps them inside words; its index reads a column where they are spaces)."""
    contents = ("retry_after 30 seconds", "it's over", "later, after=5", "afterwards")
    _insert_with_contents(db, sample_entries(random.Random(12), len(contents)), contents)
    for module, name, value in PLANS.get(plan or "", []):
        monkeypatch.setattr(module, name, value)
    with db.read_logs() as conn:
        found = {
            keyword: sorted(entry.content for entry in logs.search(conn, keyword, 50, LogFilters()))
            for keyword in ("after", "over", "retry after", "seconds")
        }
    assert found == {
        "after": ["afterwards", "later, after=5", "retry_after 30 seconds"],
        "over": ["it's over"],
        "retry after": ["retry_after 30 seconds"],
        "seconds": ["retry_after 30 seconds"],
    }


def test_sqlite_walks_the_newest_index_entries_against_the_set_of_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked with the ids' set, SQLite reads the (created_at, id) index newest first and stops at the page;
    if it read the set as row lookups it would sort every match, silently (the answers are the same)."""
    searchable = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate.upgrade(searchable)
    _fill(searchable)
    monkeypatch.setattr(_dialect, "COMMON_MATCHES", 3)
    monkeypatch.setattr(_dialect, "MATCH_SET_COST", 0)
    monkeypatch.setattr(_dialect, "SET_STEP_COST", 0)
    with searchable.read_logs() as conn:
        content = _dialect.content_matches(conn, ["upstream"], 50)
        assert content.listed is not None
        plans = {}
        for name, condition in (("walked", content.condition), ("listed", content.listed)):
            query = select(logs_table.c.id).where(condition).order_by(*logs._ORDER).limit(50)
            plans[name] = " | ".join(row[3] for row in explain(conn, query))
    assert "COVERING INDEX ix_logs_created_at_id" in plans["walked"] and "TEMP B-TREE" not in plans["walked"]
    assert "TEMP B-TREE" in plans["listed"]
    searchable.dispose()


def test_sqlite_sorts_the_listed_matches_as_ids_before_reading_the_pages_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search whose matches are listed sorts every match: SQLite must sort (created_at, id) and read whole
    rows for the page alone. Sorting whole rows answers the same, twice as slowly, so only the plan tells."""
    searchable = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate.upgrade(searchable)
    _fill(searchable)
    read: list[Any] = []
    entries_of = logs._entries

    def recording(conn: Connection, query: Any) -> list[LogEntry]:
        read.append(query)
        return entries_of(conn, query)

    monkeypatch.setattr(logs, "_entries", recording)
    monkeypatch.setattr(_dialect, "BY_ID_MIN_WALK", 10**9)  # the listing, not the newest matches by id
    with searchable.read_logs() as conn:
        assert _dialect.content_matches(conn, ["upstream"], 50).listed is None  # few matches: listed whole
        found = logs.search(conn, "upstream", 50, LogFilters())
        assert found and len(read) == 1
        plan = explain(conn, read[0])
    parent_of = {row[0]: row[1] for row in plan}
    detail_of = {row[0]: row[3] for row in plan}

    def within_page_ids(node: int) -> bool:
        while node in parent_of:
            if "page_ids" in detail_of[node]:
                return True
            node = parent_of[node]
        return False

    # The matches are listed and sorted inside the page's ids; outside, only the page's rows are read.
    sorts = [node for node, detail in detail_of.items() if "TEMP B-TREE FOR ORDER BY" in detail]
    listings = [node for node, detail in detail_of.items() if "logs_fts" in detail]
    assert listings and all(within_page_ids(node) for node in listings), plan
    assert any(within_page_ids(node) for node in sorts), plan
    searchable.dispose()


# Contents where ASCII and FTS5's unicode61 tokenizer could part ways: case, digits and `_` beside a word,
# punctuation and control characters, letters FTS5 folds (é, ſ, the Kelvin sign) and scripts it keeps whole.
TRICKY_CONTENTS = (
    "upstream error",
    "UPSTREAM Error",
    "Upstream_error",
    "x-upstream.",
    "upstream123",
    "123upstream",
    "upstreams",
    "up stream",
    "\tupstream\nerror\x00",
    "retry_after=5",
    "it's #5",
    "timeout: upstream",
    "upstréam error",
    "UPSTRÉAM",
    "upſtream",
    "\u212aelvin upstream",
    "上游upstream",
    "upstream 上游",
    "ｕｐｓｔｒｅａｍ",
    "Ünicode upstream error",
)
TRICKY_QUERIES = (
    (("upstream",),),
    (("upstream", "upstreams"),),
    (("upstream",), ("error",)),
    (("after",), ("5",)),
    (("s",),),
    (("上游upstream",),),
    (("kelvin", "elvin"),),
)


def test_a_walked_chunk_matches_as_the_full_text_index_does(tmp_path: Path) -> None:
    """The walk matches ASCII content by regular expression and other content in a scratch FTS5 index;
    either way, a chunk's matches are exactly those logs_fts lists among its rows."""
    searchable = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate.upgrade(searchable)
    _insert_with_contents(searchable, sample_entries(random.Random(13), len(TRICKY_CONTENTS)), TRICKY_CONTENTS)
    with searchable.read_logs() as conn:
        rows = [(row.id, row.content) for row in conn.execute(select(logs_table.c.id, logs_table.c.content))]
        assert len(rows) == len(TRICKY_CONTENTS)
        matched_ascii = matched_other = 0
        for terms in TRICKY_QUERIES:
            exact = _dialect.ExactTerms(terms)
            listed = {
                int(row_id)
                for (row_id,) in conn.exec_driver_sql(
                    "SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?", (exact.fts_query,)
                )
            }
            assert _dialect.fts_matches_among(conn, rows, exact) == listed, terms
            contents = dict(rows)
            matched_ascii += sum(contents[row_id].isascii() for row_id in listed)
            matched_other += sum(not contents[row_id].isascii() for row_id in listed)
    # Both ways of matching were asked, and found rows.
    assert matched_ascii > 10 and matched_other > 3
    searchable.dispose()


def test_a_longer_walk_is_taken_only_when_the_density_found_says_it_beats_the_listing(
    searchable: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The choice after a walk found too few (PostgreSQL's and MySQL's cost model, on any backend: it reads
    the highest id)."""
    with searchable.read_logs() as conn:
        highest = conn.execute(select(logs_table.c.id).order_by(logs_table.c.id.desc()).limit(1)).scalar_one()
        assert highest >= 400

        def further(walked: int, found: int, match_cost: float) -> int | None:
            return _dialect._further_walk(conn, walked, found, 50, row_cost=5, match_cost=match_cost)

        # 1 match in 10 rows: a page of 50 needs 500 rows (2,500 at 5 each); the index lists a tenth of the
        # table (at 12 each: about 480 for 400 rows), so it lists.
        assert further(10, 1, 12) is None
        assert further(10, 0, 12) is None
        # At 1,000 a match the listing costs 100 × highest: walk no more than WALK_SLACK times the 500 rows
        # a page takes.
        assert further(10, 1, 1_000) == 500 * _dialect.WALK_SLACK
        # With more slack, at most as many rows as cost as much as the listing, and at most LONGEST_WALK.
        monkeypatch.setattr(_dialect, "WALK_SLACK", 10**6)
        assert further(10, 1, 1_000) == round(highest * 100 / 5)
        monkeypatch.setattr(_dialect, "LONGEST_WALK", 700)
        assert further(10, 1, 1_000) == 700


def test_the_newest_matches_read_by_id_include_rows_that_arrived_out_of_time_order(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the index's newest matches by id must still find a match with a low id and a late time
    (written early, dated ahead), among rows otherwise in time order; and it must be what answered."""
    rng = random.Random(17)
    ahead = replace(sample_entries(rng, 1)[0], created_at=START + 10**6, content="upstream timeout, dated ahead")
    in_order = [
        replace(entry, created_at=START + index, content=f"{'upstream ' if index % 3 == 0 else ''}row {index}")
        for index, entry in enumerate(sample_entries(rng, 600))
    ]
    with db.write_logs() as conn:
        logs.insert_logs(conn, [ahead])
        logs.insert_logs(conn, in_order)
    monkeypatch.setattr(_dialect, "BY_ID_MIN_WALK", 0)
    monkeypatch.setattr(logs, "SEARCH_BY_ID_SCOPED_MATCHES", 0)
    answered: list[bool] = []
    by_id = logs._newest_matching_by_id

    def recording(*args: Any) -> list[LogEntry] | None:
        found = by_id(*args)
        answered.append(found is not None)
        return found

    monkeypatch.setattr(logs, "_newest_matching_by_id", recording)
    with db.read_logs() as conn:
        found = [entry.content for entry in logs.search(conn, "upstream", 50, LogFilters())]
    if db.log_backend != "sqlite":
        assert answered == []  # the other engines have no such index
    else:
        assert answered == [True]
    expected = ["upstream timeout, dated ahead", *(f"upstream row {index}" for index in range(597, 597 - 49 * 3, -3))]
    assert found == expected
