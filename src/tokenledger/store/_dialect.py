"""The few places where SQL differs between SQLite, PostgreSQL and MySQL/MariaDB, one function each."""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.util import ClauseAdapter

from tokenledger.store import schema

T = TypeVar("T")

# On SQLite, up to this many full-text matches, search lists them all; above it, it may read the newest
# rows and test each instead (see _sqlite_content_matches).
COMMON_MATCHES = 5_000
# On SQLite, a search word that begins at most this many indexed terms is searched as those exact terms.
MAX_PREFIX_TERMS = 32
# On SQLite, search first reads a small scope whole, or the full-text index's newest matches by id, when
# the matches' density says a walk of the newest rows would read at least this many rows to find a page
# (at 10M rows, a word in 0.4% to 3% of the logs: 12–28 ms before, 3.5–8.6 ms after; one in every consume
# row: 2.3 ms by a walk of the newest rows, 2.9–4.9 ms by id).
BY_ID_MIN_WALK = 1_000
# What one walked row costs, in rows listed and sorted: reading it (up to ~7 µs for a user's scattered
# rows) and matching it (about 1 µs for ASCII content, 10–13 µs for other content in the scratch index;
# see fts_matches_among), against ~4 µs. Listing now sorts ids before reading rows (1.6 µs a match at 1M
# rows), so these weights understate a walk against it; with every weight doubled, the estimates for more
# than COMMON_MATCHES matches at 1M rows still choose the walk against the set of matches.
WALK_MATCH_COST = 3
# A walk's first chunk holds this many times the rows the matches' density predicts it needs; each chunk
# after it is twice as large as the one before.
FIRST_CHUNK_SLACK = 1.25
# What gathering one match into the set a walk tests ids against costs, and what testing one row of the
# walk against it costs, in the same unit (measured at 1M rows: 0.1 µs and 0.04 µs against 1.35 µs).
MATCH_SET_COST = 0.07
SET_STEP_COST = 0.03
# How many times the rows the matches' density predicts a walk may read before search lists instead.
WALK_SLACK = 4
# How many of the newest rows search tests one by one before it lists the full-text index's matches, on
# MySQL (a pattern on a stored column, ~5 µs a row read and tested) and PostgreSQL (the pattern's text
# computed from the content, ~9 µs a row). On MySQL at 10M rows, 1,000 instead of 5,000 made a rare word
# 20–40 ms faster and a word in bursts of 2% 20–30 ms slower (it then walked further).
MYSQL_WALK_ROWS = 5_000
POSTGRESQL_WALK_ROWS = 1_000
# When that walk finds too few, a longer one is taken if the density it found says it costs less than the
# listing, and it is bounded at the listing's cost (and LONGEST_WALK rows). In µs: on MySQL, a FULLTEXT
# match listed costs about 12 (the index lists every match in the table, and each match's row is read to
# sort it: 437 ms for 37,000 at 10M rows) and a walked row up to 5; on PostgreSQL, a window longer than
# MAX_DAY_TERMS days reads the GIN posting list (0.5 µs a match, most searches taking one to three windows)
# and a walked row cost about 9 before the plain content was tested first. It costs 1–3 now, but a model
# priced at 1.5 chose longer walks that were no faster at 10M (the heavy user's rare word, in process:
# 16.6 / 16.7 ms against 15.6 / 13.8), so 9 stays. A PostgreSQL window of fewer days reads only its days'
# terms: search does not walk further then (logs._first_window_by_days), whatever this model says.
MYSQL_LISTED_MATCH_COST = 12
MYSQL_WALKED_ROW_COST = 5
POSTGRESQL_LISTED_MATCH_COST = 1.5
POSTGRESQL_WALKED_ROW_COST = 9
LONGEST_WALK = 250_000
# Values per bound IN list (well under every engine's limit on bound parameters).
IN_LIST_CHUNK = 500
# Words are runs of letters and digits; anything else separates them (as FTS5's unicode61 tokenizer does).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# PostgreSQL's own parser keeps "gpt-4" or "v1.5" together or reads "-4" as a signed number, so its index
# is built on the content with every non-alphanumeric run turned into a space: the same words as above.
# The migration that creates the index spells out this same expression (and MySQL's stored
# `content_words` column the same replacement); PostgreSQL's row-by-row test reads the same text.
NON_WORD_RUN = "[^[:alnum:]]+"
PG_SEARCH_VECTOR = f"to_tsvector('simple', regexp_replace(content, '{NON_WORD_RUN}', ' ', 'g'))"
# PostgreSQL's second GIN index holds each of those words again as `<day>/<word>` (migration 0012), the
# lexeme cut to DAY_TERM_LENGTH characters: a window of at most MAX_DAY_TERMS days is listed from its days'
# terms. Each term asked costs a partial-match scan, and every candidate row is tested against every term
# (the index scan alone, for a word in 0.36% of 3M rows over 300 days: 1 day 0.02 ms, 3 days 0.07, 30 days
# 5.7, 300 days 112), so longer windows read the first index instead.
PG_DAY_TERMS = "tokenledger_day_terms(content, created_at)"
DAY_SECONDS = 86_400
DAY_TERM_LENGTH = 200
MAX_DAY_TERMS = 8
# MySQL's second FULLTEXT index holds each word of `content_words` again as `d<day>x<word>` (migration
# 0014), the word cut to MYSQL_DAY_WORD_LENGTH characters (innodb_ft_max_token_size is 84 by default).
MYSQL_DAY_WORDS = "logs.content_day_words"
MYSQL_DAY_WORD_LENGTH = 76
# A lexeme in the text of a tsquery: quoted, a quote inside doubled.
_QUOTED_LEXEME = re.compile(r"'((?:[^']|'')*)'")


def whole_steps(value: ColumnElement[int], step: int) -> ColumnElement[int]:
    """How many whole steps fit in `value`, for integers with `value` ≥ 0 (a chart's hour within its run of
    equal buckets). SQLAlchemy's `//` is FLOOR(value / step) on MySQL, which divides as DECIMAL; MySQL's
    own integer division, DIV, took a quarter less time over a month of rollups on MariaDB (58 against
    76 ms). Everywhere else `/` of integers is integer division already."""
    return _WholeSteps(value, literal(step, BigInteger))


class _WholeSteps(FunctionElement[int]):
    type = BigInteger()
    inherit_cache = True


@compiles(_WholeSteps)
def _whole_steps(element: _WholeSteps, compiler: SQLCompiler, **kw: Any) -> str:
    value, step = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(({value}) / ({step}))"


@compiles(_WholeSteps, "mysql")
def _whole_steps_mysql(element: _WholeSteps, compiler: SQLCompiler, **kw: Any) -> str:
    value, step = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(({value}) DIV ({step}))"


def integer_sum(value: ColumnElement[int]) -> ColumnElement[int]:
    """SUM of an integer column, read as an int. PostgreSQL sums BIGINT as NUMERIC, which psycopg reads
    as Decimal: a chart of a heavy user's week by hour and model converts 21,000 of them. Cast back to
    BIGINT, a sum that left its range would be an error, never a wrong number. MySQL's CAST to SIGNED
    clips instead of failing, so its sums stay DECIMAL; SQLite's are integers already."""
    return _IntegerSum(value)


class _IntegerSum(FunctionElement[int]):
    type = BigInteger()
    inherit_cache = True


@compiles(_IntegerSum)
def _integer_sum(element: _IntegerSum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


@compiles(_IntegerSum, "postgresql")
def _integer_sum_postgresql(element: _IntegerSum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(sum({compiler.process(element.clauses, **kw)}) AS BIGINT)"


def in_chunks(values: Sequence[T]) -> Iterator[list[T]]:
    """`values` in lists of at most IN_LIST_CHUNK, one per statement that binds them as an IN list."""
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield list(values[start : start + IN_LIST_CHUNK])


def search_words(keyword: str) -> list[str]:
    """The words of a search keyword, lower-cased, as the full-text index tokenizes content."""
    return [word.lower() for word in _WORD.findall(keyword)]


@dataclass(frozen=True, slots=True)
class ContentMatch:
    """The condition for log content holding every word of a search. With `listed` set, `condition` is
    tested row by row as the newest rows are read (common words on SQLite, every search on PostgreSQL and
    MySQL): the caller reads at most `walk_rows` of them, and if they hold too few matches, asks `listed`,
    the same condition answered by listing every match."""

    condition: ColumnElement[bool]
    listed: ColumnElement[bool] | None = None
    walk_rows: int = 0
    # SQLite: walk in chunks matched at once instead of testing `condition` row by row.
    chunked: ChunkedWalk | None = None
    # PostgreSQL and MySQL: list the index's matches window by window through `listing` after the walk
    # (PostgreSQL walks in one statement, the scope's newest `walk_rows` rows as a LIMIT subquery the
    # condition filters: given the walk's bounds instead, its planner tested every row within them and
    # sorted).
    listing: IndexListing | MysqlListing | None = None
    # PostgreSQL and MySQL: after a walk found `found` of `limit` matches in `walked` rows, how many of the
    # newest rows to walk instead before listing (None: list now).
    further_walk: Callable[[Connection, int, int, int], int | None] | None = None
    # SQLite: the words' exact terms when they are rare enough (BY_ID_MIN_WALK) that search first reads a
    # small scope whole, or the index's newest matches by id (see logs.search).
    rare_terms: ExactTerms | None = None
    # SQLite: about how many logs match (counted up to COMMON_MATCHES, estimated above).
    matches: float = 0.0


@dataclass(frozen=True, slots=True)
class IndexListing:
    """PostgreSQL's GIN index asked for the matches of `ts_query` among the rows that meet some conditions
    on `logs`: the index's matches are intersected with those rows (BitmapAnd) before any row is read.
    With `day_query` set (see `within_days`), the day-terms index is asked instead."""

    ts_query: str
    day_query: str | None = None
    # The index is intersected with the conditions' rows: a window of any length lists its own matches.
    narrows = True

    def days_cheaper_than_walk(self, conn: Connection, since: int, density: float, walk_rows: int) -> bool:
        """Whether listing the days from `since`'s costs less than walking `walk_rows` rows: always, since
        the days' matches are intersected with the scope's rows before any row is read."""
        return True

    def ids(self, conditions: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        matched = schema.logs.alias("matched")
        # Written out literally so the planner sees the very expression the GIN index is built on.
        if self.day_query is None:
            vector_match = text(f"{PG_SEARCH_VECTOR} @@ to_tsquery('simple', :ts_query)").bindparams(
                ts_query=self.ts_query
            )
        else:
            vector_match = text(f"{PG_DAY_TERMS} @@ CAST(:day_query AS tsquery)").bindparams(day_query=self.day_query)
        within = [ClauseAdapter(matched).traverse(condition) for condition in conditions]
        return select(matched.c.id).where(vector_match, *within)

    def within_days(self, conn: Connection, since: int, until: int) -> IndexListing:
        """The same listing for rows created from `since` to `until` (the caller bounds the rows so),
        answered from those days' terms when they are at most MAX_DAY_TERMS days; else this listing. The
        terms are the lexemes PostgreSQL's own parser makes of the words (`to_tsquery`), each prefixed
        with every day: `'status':* & '503':*` for days 9 and 10 is `('9/status':* & '9/503':*) |
        ('10/status':* & '10/503':*)`. The first index answers where the terms cannot: a word the parser
        splits (`1e5abc` is the phrase `'1e5' <-> 'abc':*`, and day terms keep no positions), or a lexeme
        of DAY_TERM_LENGTH characters or more (cut in the index)."""
        first_day, last_day = since // DAY_SECONDS, until // DAY_SECONDS
        if last_day - first_day >= MAX_DAY_TERMS:
            return self
        parsed = conn.execute(text("SELECT to_tsquery('simple', :ts_query)::text"), {"ts_query": self.ts_query})
        plain = str(parsed.scalar_one())
        lexemes = _QUOTED_LEXEME.findall(plain)
        if (
            not lexemes
            or "<" in _QUOTED_LEXEME.sub("", plain)  # a phrase: <->, <2>…
            or any(len(lexeme.replace("''", "'")) >= DAY_TERM_LENGTH for lexeme in lexemes)
        ):
            return self
        days = ["(" + _day_lexemes(plain, day) + ")" for day in range(first_day, last_day + 1)]
        return IndexListing(self.ts_query, " | ".join(days))

    def among(self, conditions: Sequence[ColumnElement[bool]] = ()) -> ColumnElement[bool]:
        """Logs whose ids the index lists, as an array the planner cannot turn into a join (it did, with a
        scan of the whole table)."""
        return schema.logs.c.id == any_(func.array(self.ids(conditions).scalar_subquery()))

    def first_ids(self, count: int) -> Select[Any]:
        """Up to `count` of the matches' ids. Asked with a plain LIMIT, PostgreSQL expected matches early in
        a scan of the table and tested rows one by one (1.2 s at 10M rows for a word in 0.4% of them): the
        listing is a materialized CTE, planned in full (the index, then the rows it lists), of which the
        LIMIT reads the first rows."""
        listed = self.ids().cte("listed").prefix_with("MATERIALIZED")
        return select(listed.c.id).limit(count)

    def all_if_fewer_than(self, conn: Connection, count: int) -> list[int] | None:
        """The ids of every match when there are fewer than `count`, else None; costs at most `count` rows.
        Parallel workers took 8 ms to start for a listing that takes one, so this transaction does without
        them."""
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        found = [int(found_id) for found_id in conn.execute(self.first_ids(count)).scalars()]
        return found if len(found) < count else None


@dataclass(frozen=True, slots=True)
class MysqlListing:
    """MySQL's FULLTEXT matches of a search: `listed`, from the words' own index (words shorter than
    innodb_ft_min_token_size tested by their pattern), or, with `day_query` set (see `within_days`), from
    the day-words index (migration 0014), each row it lists tested by `tested`, the words' patterns.

    InnoDB gathers every match of a FULLTEXT query before any other condition applies: conditions are not
    pushed into the listing, and a window of more than MAX_DAY_TERMS days is not listed by itself
    (`narrows`), since it would cost the whole listing."""

    listed: ColumnElement[bool]
    tested: ColumnElement[bool]
    day_word: str | None  # the word asked of the day-words index; None when no word fits in a term
    day_query: str | None = None
    narrows = False

    def within_days(self, conn: Connection, since: int, until: int) -> MysqlListing:
        """The matches of rows created from `since` to `until` (the caller bounds the rows so), read from
        those days' terms when they are at most MAX_DAY_TERMS days: the longest word, `d<day>x<word>*` for
        each day, its candidates tested by every word's pattern. Else this listing."""
        first_day, last_day = since // DAY_SECONDS, until // DAY_SECONDS
        if self.day_word is None or last_day - first_day >= MAX_DAY_TERMS:
            return self
        query = " ".join(f"d{day}x{self.day_word}*" for day in range(first_day, last_day + 1))
        return MysqlListing(self.listed, self.tested, self.day_word, query)

    def days_cheaper_than_walk(self, conn: Connection, since: int, density: float, walk_rows: int) -> bool:
        """Whether listing the days from `since`'s costs less than walking `walk_rows` rows. The
        listing reads the row of every match of those days, whatever its scope: as many as `density` (the
        matches a walk found per row) says the rows logged since that day began hold, estimated by ids."""
        day_began = since - since % DAY_SECONDS
        first_id = conn.execute(
            select(schema.logs.c.id)
            .where(schema.logs.c.created_at >= day_began)
            .order_by(schema.logs.c.created_at, schema.logs.c.id)
            .limit(1)
        ).scalar()
        rows = 0 if first_id is None else highest_log_id(conn) - int(first_id) + 1
        return density * rows * MYSQL_LISTED_MATCH_COST < walk_rows * MYSQL_WALKED_ROW_COST

    def among(self, conditions: Sequence[ColumnElement[bool]] = ()) -> ColumnElement[bool]:
        """Logs the index lists (the caller applies `conditions` to the rows)."""
        if self.day_query is None:
            return self.listed
        day_match = text(f"MATCH ({MYSQL_DAY_WORDS}) AGAINST (:day_query IN BOOLEAN MODE)").bindparams(
            day_query=self.day_query
        )
        return and_(cast(ColumnElement[bool], day_match), self.tested)

    def all_if_fewer_than(self, conn: Connection, count: int) -> list[int] | None:
        """The ids of every match when there are fewer than `count`, else None."""
        found = [
            int(found_id)
            for found_id in conn.execute(select(schema.logs.c.id).where(self.listed).limit(count)).scalars()
        ]
        return found if len(found) < count else None


def _day_lexemes(ts_query: str, day: int) -> str:
    """The text of a tsquery with every lexeme prefixed by `<day>/`."""
    return _QUOTED_LEXEME.sub(lambda found: f"'{day}/{found.group(1)}'", ts_query)


@dataclass(frozen=True, slots=True)
class ExactTerms:
    """Content holding, for every group, one of its exact FTS5 terms (the terms a search's words begin)."""

    groups: tuple[tuple[str, ...], ...]

    @property
    def fts_query(self) -> str:
        return _exact_terms_query(self.groups)


@dataclass(frozen=True, slots=True)
class ChunkedWalk:
    """The newest rows read in chunks, the first of `first_chunk` rows and each next one twice as large,
    each chunk's content matched at once (fts_matches_among) against `terms`."""

    terms: ExactTerms
    first_chunk: int


def content_matches(conn: Connection, words: Sequence[str], limit: int) -> ContentMatch:
    """Content holding every word (each as a word or a word prefix).

    Search wants the newest matches, and the cheapest plan depends on how common the words are. Rare
    words: the full-text index lists every match and those rows are sorted. Common words: the newest rows
    are read in order and each is tested, which finds the newest hundred matches after reading a few
    hundred rows, where collecting millions of matches would not. The choice is made here, not left to a
    planner: SQLite probes FTS5 by row with the exact terms each word prefix covers, or tests ids against
    the set of matches (see _sqlite_content_matches); PostgreSQL and MySQL test the newest rows by pattern
    first (see _postgresql_content_matches and _mysql_content_matches)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _sqlite_content_matches(conn, words, limit)
    if dialect == "postgresql":
        return _postgresql_content_matches(words)
    return _mysql_content_matches(conn, words)


def _postgresql_content_matches(words: Sequence[str]) -> ContentMatch:
    """PostgreSQL's planner, left to choose, tested a rare word's rows one by one (a quarter of a second
    at 200,000 rows) and listed a light user's common word from the whole index. So the choice is made
    here, as on MySQL: the newest POSTGRESQL_WALK_ROWS rows are tested first, each word as a word-start
    pattern on the content with everything but letters and digits turned into spaces (the text the
    index's words come from, compared in any case as the index's lower-cased words are), then the GIN
    index lists the matches' ids and their rows are read by id. Listing reads every match's row to learn
    its id, so the caller lists the newest rows' matches first (see logs.search)."""
    listing = IndexListing(" & ".join(f"{word}:*" for word in words))
    spaced = func.concat(" ", func.regexp_replace(schema.logs.c.content, NON_WORD_RUN, " ", "g"))
    # The content holds a word wherever its spaced text holds it at a word's start (the spacing only turns
    # runs of other characters into one space), so the plain substring test comes first: it rejects most
    # rows at 0.5 µs, where computing the spaced text costs 3 (20,000 rows at 1M: 9.9 ms against 65).
    tested = and_(
        *(schema.logs.c.content.ilike(f"%{word}%") for word in words),
        *(spaced.ilike(f"% {word}%") for word in words),
    )
    further = partial(_further_walk, row_cost=POSTGRESQL_WALKED_ROW_COST, match_cost=POSTGRESQL_LISTED_MATCH_COST)
    return ContentMatch(
        tested, listed=listing.among(), walk_rows=POSTGRESQL_WALK_ROWS, listing=listing, further_walk=further
    )


def _mysql_content_matches(conn: Connection, words: Sequence[str]) -> ContentMatch:
    """InnoDB answers a FULLTEXT query by gathering every match before any LIMIT: 0.4 s for a word in
    every row at 200,000 rows. So the newest MYSQL_WALK_ROWS rows are tested first, each word as a
    word-start pattern on `content_words` (the content with everything but letters and digits turned into
    spaces, which is also what the index holds, revision 0008), and the index lists the matches only when
    those rows hold too few. Both compare in the column's collation (utf8mb4_unicode_ci: any case, any
    accent); they differ only where it equates letter sequences of different lengths (`ß` and `ss`), which
    the index matches and the pattern does not. Words shorter than innodb_ft_min_token_size are not in the
    index: they are matched by the pattern alone. The newest rows' matches are listed first, from the
    day-words index when their window spans a few days (see MysqlListing); those are tested by pattern
    too, so they agree with a walk."""
    spaced = func.concat(" ", literal_column("logs.content_words"))
    patterns = {word: spaced.like(f"% {word}%") for word in words}
    shortest = _mysql_min_token_size(conn)
    indexed = [word for word in words if len(word) >= shortest]
    if not indexed:
        return ContentMatch(and_(*patterns.values()))
    listed = and_(mysql_fulltext(indexed), *(patterns[word] for word in words if word not in indexed))
    tested = and_(*patterns.values())
    fitting = [word for word in words if len(word) <= MYSQL_DAY_WORD_LENGTH]
    listing = MysqlListing(listed, tested, max(fitting, key=len) if fitting else None)
    further = partial(_further_walk, row_cost=MYSQL_WALKED_ROW_COST, match_cost=MYSQL_LISTED_MATCH_COST)
    return ContentMatch(tested, listed=listed, walk_rows=MYSQL_WALK_ROWS, listing=listing, further_walk=further)


def _further_walk(
    conn: Connection, walked: int, found: int, limit: int, *, row_cost: float, match_cost: float
) -> int | None:
    """How many of the scope's newest rows to test, now that `walked` of them held `found` matches, fewer
    than `limit`; None: list the index's matches instead. The listing's cost grows with the table (every
    match in it, whatever the scope: on MySQL 437 ms for a word in 0.4% of 10M rows), the walk's with the
    words' rarity alone, so the density found decides: estimated from it, the rows a walk needs for a page
    (at `row_cost` each) against the matches the index holds (at `match_cost`; found ids scale to the
    table by its highest id). The walk reads at most WALK_SLACK times the rows a page takes at that
    density."""
    if found == 0:
        return None
    density = found / walked
    listing_cost = density * highest_log_id(conn) * match_cost
    if limit / density * row_cost >= listing_cost:
        return None
    return min(LONGEST_WALK, round(listing_cost / row_cost), math.ceil(limit / density * WALK_SLACK))


def _fts_listed(query: str) -> ColumnElement[bool]:
    """Logs whose ids FTS5 lists for `query`."""
    fts_match = text("logs_fts MATCH :fts_query").bindparams(fts_query=query)
    listed: Select[Any] = select(literal_column("rowid")).select_from(text("logs_fts")).where(fts_match)
    return schema.logs.c.id.in_(listed)


def _sqlite_content_matches(conn: Connection, words: Sequence[str], limit: int) -> ContentMatch:
    """FTS5 answers a prefix term (`"ratio"*`) by merging the whole doclist of every term it covers, on
    every call: tens of milliseconds at a million logs, so a prefix query can only list all its matches,
    which for a common word means sorting millions of rows. An exact term's matches are read lazily, in
    id order. So each word is expanded into the indexed terms it begins (logs_fts_terms, kept with the
    index) and the search is an AND of ORs of exact terms.

    Three plans: list every match and sort them; walk the newest rows in chunks and match each chunk's
    content in a scratch index (fts_matches_among); or gather the matches' ids into a set once and walk
    the newest rows' index entries, testing each id against it (cheap per row, but the set costs every
    match). Which is cheapest follows from how common the terms are: the first COMMON_MATCHES + 1 matches
    (ascending ids) give their density, and from it how many rows a walk would read to find `limit`
    matches and how many matches there are. Costs are counted in listed matches (WALK_MATCH_COST,
    MATCH_SET_COST, SET_STEP_COST). A walk is bounded at WALK_SLACK times what the density predicts (the
    newest rows may use the words less than the oldest): past that the caller lists after all. A word
    that covers more than MAX_PREFIX_TERMS terms, or that is not plain ASCII (FTS5 folds diacritics,
    which the term lookup does not), is searched as a prefix."""
    expanded = [_terms_beginning(conn, word) for word in words]
    if any(terms is None for terms in expanded):
        return ContentMatch(_fts_listed(" AND ".join(f'"{word}"*' for word in words)))
    if any(not terms for terms in expanded):
        return ContentMatch(false())
    groups = tuple(tuple(terms or ()) for terms in expanded)
    query = _exact_terms_query(groups)
    listed = _fts_listed(query)
    # Counted by SQLite: handing the ids to Python cost 1 µs each, more than FTS5 takes to find them.
    first = text(
        "SELECT count(*), min(rowid), max(rowid) FROM "
        "(SELECT rowid FROM logs_fts WHERE logs_fts MATCH :fts_query ORDER BY rowid LIMIT :limit)"
    )
    found, lowest, highest = conn.execute(first, {"fts_query": query, "limit": COMMON_MATCHES + 1}).one()
    exact = ExactTerms(groups)
    # Reading the index's newest matches by id costs little more than the rows a walk would test, but
    # more than a walk of a few hundred rows (a common word), which the other plans do best.
    rare = exact if found and limit * (highest - lowest + 1) / found >= BY_ID_MIN_WALK else None
    if found <= COMMON_MATCHES:
        return ContentMatch(listed, rare_terms=rare, matches=found)
    # The matches found span ids lowest..highest; the rest of the ids up to the newest hold as many again
    # in proportion.
    density = found / (highest - lowest + 1)
    expected_walk = limit / density
    expected_matches = density * (last_log_id(conn) - lowest + 1)
    matching_walked = expected_walk * WALK_MATCH_COST
    walking_the_set = expected_matches * MATCH_SET_COST + expected_walk * SET_STEP_COST
    if min(matching_walked, walking_the_set) > expected_matches:
        return ContentMatch(listed, rare_terms=rare, matches=expected_matches)
    walk_rows = max(limit, round(WALK_SLACK * expected_walk))
    if walking_the_set <= matching_walked:
        # The unary + keeps SQLite from reading the set's ids as row lookups to sort (the listing): it
        # walks the newest rows' index entries and tests each id against the set, built once.
        in_set = text("+logs.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH :fts_query)")
        condition = cast(ColumnElement[bool], in_set.bindparams(fts_query=query))
        return ContentMatch(condition, listed, walk_rows, rare_terms=rare, matches=expected_matches)
    first_chunk = max(1, min(walk_rows, math.ceil(FIRST_CHUNK_SLACK * expected_walk)))
    chunked = ChunkedWalk(exact, first_chunk)
    return ContentMatch(
        listed, listed=listed, walk_rows=walk_rows, chunked=chunked, rare_terms=rare, matches=expected_matches
    )


def fts_newest_matches(terms: ExactTerms, below: int | None, count: int, in_scope: ColumnElement[bool]) -> Select[Any]:
    """The `count` highest ids logs_fts lists for `terms` (below `below`, when given), highest
    first, each with its row's `created_at` and whether the row is `in_scope` (both NULL for an id whose row
    is gone). FTS5 reads a term's doclist from either end and seeks within it by id."""
    bounds = "logs_fts MATCH :fts_query" + (" AND rowid < :below" if below is not None else "")
    matched = text(bounds).bindparams(fts_query=terms.fts_query, **({"below": below} if below is not None else {}))
    rowid: ColumnElement[int] = literal_column("rowid")
    ids = select(rowid.label("id")).select_from(text("logs_fts")).where(matched).order_by(rowid.desc()).limit(count)
    matches = ids.subquery("matches")
    logs = schema.logs
    return (
        select(matches.c.id, logs.c.created_at, in_scope.label("in_scope"))
        .select_from(matches.outerjoin(logs, logs.c.id == matches.c.id))
        .order_by(matches.c.id.desc())
    )


def _exact_terms_query(groups: Sequence[Sequence[str]]) -> str:
    """The FTS5 query for content holding one term of every group."""
    # FTS5 strings double their quotes (unicode61 never leaves one in a term; this keeps any query valid).
    quoted = [['"' + term.replace('"', '""') + '"' for term in group] for group in groups]
    return " AND ".join("(" + " OR ".join(group) + ")" for group in quoted)


def fts_matches_among(conn: Connection, rows: Sequence[tuple[int, str]], terms: ExactTerms) -> set[int]:
    """The ids among `rows` (id, content) whose content holds `terms`, as logs_fts would answer.

    Probing logs_fts for one row costs 40 µs at a million logs and 100 µs at ten million: FTS5 seeks the
    row in each term's doclist, and a common term's doclist grows with the table. So the rows are matched
    apart from it, by the same rules:

    - Plain ASCII content, by regular expression. In ASCII text the unicode61 tokenizer does nothing but
      split at every character that is not a letter or a digit and fold case, so an exact term matches
      where it stands between two such characters, in any case (about 1 µs a row).
    - Any other content (letters FTS5 folds, scripts), in a small contentless FTS5 index with the same
      tokenizer, queried with the same terms (10–13 µs a row at 10M logs, whatever the table's size). The
      index lives in this connection's temp schema and is emptied after each use; it is never written to
      the database file."""
    found: set[int] = set()
    others: list[tuple[int, str]] = []
    holds_terms = _ascii_matcher(terms.groups)
    for row_id, content in rows:
        if not content.isascii():
            others.append((row_id, content))
        elif holds_terms(content):
            found.add(row_id)
    if not others:
        return found
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.logs_fts_walk "
        f"USING fts5(content, content='', tokenize='{_FTS_TOKENIZER}')"
    )
    try:
        conn.exec_driver_sql("INSERT INTO temp.logs_fts_walk(rowid, content) VALUES (?, ?)", others)
        matching = text("SELECT rowid FROM temp.logs_fts_walk WHERE logs_fts_walk MATCH :fts_query")
        return found | set(conn.execute(matching, {"fts_query": terms.fts_query}).scalars())
    finally:
        conn.exec_driver_sql("INSERT INTO temp.logs_fts_walk(logs_fts_walk) VALUES ('delete-all')")


def _ascii_matcher(groups: Sequence[Sequence[str]]) -> Callable[[str], bool]:
    """Whether ASCII content holds one of every group's exact terms, as FTS5's unicode61 tokens: runs of
    ASCII letters and digits, compared in any case. (A term with other characters cannot occur in ASCII
    content, and matches none.)"""
    patterns = [
        re.compile(
            "(?<![A-Za-z0-9])(?:" + "|".join(re.escape(term) for term in group) + ")(?![A-Za-z0-9])",
            re.ASCII | re.IGNORECASE,
        )
        for group in groups
    ]
    return lambda content: all(pattern.search(content) for pattern in patterns)


def _terms_beginning(conn: Connection, word: str) -> list[str] | None:
    """The indexed terms that begin with `word`; None when there are more than MAX_PREFIX_TERMS or the
    word is not plain ASCII."""
    if not word.isascii():
        return None
    # Terms compare code point by code point: the word's successor bounds its prefix range.
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    statement = text("SELECT term FROM logs_fts_terms WHERE term >= :word AND term < :upper ORDER BY term LIMIT :n")
    terms = [
        str(term)
        for term in conn.execute(statement, {"word": word, "upper": upper, "n": MAX_PREFIX_TERMS + 1}).scalars()
    ]
    return None if len(terms) > MAX_PREFIX_TERMS else terms


def mysql_fulltext(words: Sequence[str]) -> ColumnElement[bool]:
    """MySQL's FULLTEXT condition for content holding every word as a word or word prefix."""
    query = " ".join(f"+{word}*" for word in words)
    against = text("MATCH (logs.content_words) AGAINST (:ft_query IN BOOLEAN MODE)").bindparams(ft_query=query)
    return cast(ColumnElement[bool], against)


def _mysql_min_token_size(conn: Connection) -> int:
    """The server's innodb_ft_min_token_size, read once per connection."""
    cached = conn.info.get("ft_min_token_size")
    if cached is None:
        cached = conn.info["ft_min_token_size"] = int(
            conn.exec_driver_sql("SELECT @@innodb_ft_min_token_size").scalar_one()
        )
    return int(cached)


Row = tuple[Any, ...]


@lru_cache(maxsize=64)
def _compiled(
    dialect: Dialect, table: Table, columns: tuple[str, ...], key: tuple[str, ...], added: tuple[str, ...]
) -> Any:
    """An INSERT of `columns` (an upsert adding the `added` columns on a conflict of `key`, when `key` is
    given; with no `added` columns, a conflicting row is left as it is), compiled once per engine and shape.
    Not used on PostgreSQL, which copies rows in (_postgresql_copy)."""
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    statement: Any
    if not key:
        statement = insert(table).values(values)
    elif not added:
        statement = _insert_missing(dialect, table, values, key)
    elif dialect.name == "sqlite":
        sqlite_stmt = sqlite.insert(table).values(values)
        updates = {name: table.c[name] + sqlite_stmt.excluded[name] for name in added}
        statement = sqlite_stmt.on_conflict_do_update(index_elements=list(key), set_=updates)
    else:
        my_stmt = mysql.insert(table).values(values)
        statement = my_stmt.on_duplicate_key_update({name: table.c[name] + my_stmt.inserted[name] for name in added})
    return statement.compile(dialect=dialect)


def _postgresql_copy(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Row],
    key: tuple[str, ...],
    added: tuple[str, ...],
) -> None:
    """COPY the rows (tuples in `columns` order) into the table, or for an upsert (`key` given) into a
    temporary table of those columns, inserted from there in one statement. executemany ran the statement
    once per row, and the server's per-statement work was most of an ingest transaction; COPY rows are
    encoded by psycopg's C code (arrays of values for one statement were encoded in Python)."""
    quote = conn.dialect.identifier_preparer.quote
    column_list = ", ".join(quote(name) for name in columns)
    target = quote(table.name)
    staging = None
    if key:
        staging = f"staging_{table.name}_{zlib.crc32(column_list.encode()):08x}"
        # Per connection, emptied at every commit; IF NOT EXISTS, as a rolled-back transaction takes the
        # table it created with it.
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS "
            f"AS SELECT {column_list} FROM {target} WITH NO DATA"
        )
        target = staging
    driver_connection: Any = conn.connection.driver_connection
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with driver_connection.cursor() as cursor, cursor.copy(f"COPY {target} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=conn.dialect) from exc
    if staging is not None:
        conn.exec_driver_sql(_insert_from_staging(conn.dialect, table, columns, key, added, staging).string)
        # The same transaction may add more rows to this table.
        conn.exec_driver_sql(f"DELETE FROM {staging}")


@lru_cache(maxsize=64)
def _insert_from_staging(
    dialect: Dialect, table: Table, columns: tuple[str, ...], key: tuple[str, ...], added: tuple[str, ...], staging: str
) -> Any:
    source = sql_table(staging, *(sql_column(name) for name in columns))
    pg_stmt = postgresql.insert(table).from_select(list(columns), select(*source.c))
    if not added:
        return pg_stmt.on_conflict_do_nothing(index_elements=list(key)).compile(dialect=dialect)
    updates = {name: table.c[name] + pg_stmt.excluded[name] for name in added}
    return pg_stmt.on_conflict_do_update(index_elements=list(key), set_=updates).compile(dialect=dialect)


def _insert_missing(dialect: Dialect, table: Table, values: dict[str, Any], key: tuple[str, ...]) -> Any:
    if dialect.name == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=list(key))
    # Not INSERT IGNORE, which would also turn other errors (a value too long…) into warnings.
    return mysql.insert(table).values(values).on_duplicate_key_update({key[0]: table.c[key[0]]})


def _executemany(conn: Connection, compiled: Any, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
    """Run a compiled INSERT-like statement for many rows through the driver's executemany: SQLAlchemy's
    per-row parameter processing costs more than the database's own work at ingest rates. Rows are tuples
    in `columns` order holding plain Python values the driver accepts."""
    if compiled.positional:
        order = tuple(compiled.positiontup or ())
        if order != columns:
            index = [columns.index(name) for name in order]
            rows = [tuple(row[i] for i in index) for row in rows]
        conn.exec_driver_sql(compiled.string, list(rows))
    else:
        conn.exec_driver_sql(compiled.string, [dict(zip(columns, row, strict=True)) for row in rows])


def driver_rows(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of a query as the driver's own tuples. SQLAlchemy still compiles (and caches) the
    statement, but its per-row result processing (a Row and type processors per row) is skipped: at export
    volumes it cost a quarter as much as the driver's fetch. So the values are the driver's: SQLite and
    MySQL return booleans as 0/1. Raises DBAPIError, as `conn.execute` does."""
    result = conn.execute(query)
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        return list(result.cursor.fetchall())
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=conn.dialect) from exc
    finally:
        result.close()


def json_array(conn: Connection, query: Select[Any]) -> str:
    """The rows of `query`, in its order, as the text of a JSON array of objects keyed by the columns' names,
    for answers of tens of thousands of rows (a heavy user's month of hourly data: 14,000). The database
    writes each row's object, so Python handles one string per row instead of a value per column, which
    PyMySQL parses in Python (a heavy user's month at 10M rows: 47–54 ms against 106 for the typed rows
    turned into JSON here). SQLite and MySQL write it with `json_object`; PostgreSQL, whose
    `json_build_object` cost more than sending the typed values (44 against 35–37 ms in all), by
    concatenating text (`_json_object_text`). Rows are joined here rather than by an aggregate: MariaDB
    truncates JSON_ARRAYAGG at group_concat_max_len, and neither SQLite before 3.44 nor PostgreSQL
    promises the order of an aggregate's input without a sort of its own."""
    if conn.dialect.name == "postgresql":
        object_json = _json_object_text(query.selected_columns)
    else:
        pairs: list[Any] = []
        for column in query.selected_columns:
            pairs += [literal(column.key, String), column]
        object_json = func.json_object(*pairs)
    rows = driver_rows(conn, query.with_only_columns(object_json))
    return "[" + ",".join([row_json for (row_json,) in rows]) + "]"


def _json_object_text(columns: Iterable[Any]) -> ColumnElement[str]:
    """A row's JSON object as PostgreSQL text: integers written as they are, anything else through
    `to_json` (which quotes and escapes strings). For 24,040 buckets of five columns this took 33–35 ms in
    all against 55–57 for the typed rows turned into JSON by pydantic-core: psycopg makes one Python object
    per row instead of one per value. The columns must not be NULL (concat would drop them)."""
    parts: list[Any] = []
    for index, column in enumerate(columns):
        opening = ("{" if index == 0 else ",") + json.dumps(column.key) + ":"
        parts.append(literal_column("'" + opening.replace("'", "''") + "'"))
        parts.append(column if isinstance(column.type, Integer) else func.to_json(column))
    parts.append(literal_column("'}'"))
    return func.concat(*parts)


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """Insert many rows, tuples in `columns` order (see `_executemany` and `_postgresql_copy`)."""
    if not rows:
        return
    names = tuple(columns)
    if conn.dialect.name == "postgresql":
        _postgresql_copy(conn, table, names, rows, (), ())
        return
    _executemany(conn, _compiled(conn.dialect, table, names, (), ()), names, rows)


def upsert_add(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    key: Sequence[str],
    added: Sequence[str],
) -> None:
    """Insert rows (tuples in `columns` order, `key` columns first), or on a conflict of `key` add each
    `added` column to the stored value."""
    if not rows:
        return
    names = tuple(columns)
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # One statement may not update a row twice: rows of one key become one, as applying them one after
        # another would leave it (the first row's other columns, the `added` columns summed).
        rows = _merged_by_key(rows, len(key), [names.index(name) for name in added])
    if dialect != "sqlite":
        # One order for every writer, so concurrent transactions never take row locks in opposite orders.
        # (SQLite's writers run one at a time.)
        rows = sorted(rows)
    if dialect == "postgresql":
        _postgresql_copy(conn, table, names, rows, tuple(key), tuple(added))
    else:
        _executemany(conn, _compiled(conn.dialect, table, names, tuple(key), tuple(added)), names, rows)


def _merged_by_key(rows: Sequence[Row], key_length: int, added: Sequence[int]) -> list[Row]:
    """Rows whose first `key_length` values are equal merged into the first of them, the values at the
    `added` positions summed."""
    merged: dict[Row, list[Any]] = {}
    for row in rows:
        kept = merged.get(row[:key_length])
        if kept is None:
            merged[row[:key_length]] = list(row)
        else:
            for index in added:
                kept[index] += row[index]
    return [tuple(row) for row in merged.values()]


def insert_missing(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row], key: Sequence[str]
) -> None:
    """Insert the rows (tuples in `columns` order) whose `key` the table does not hold yet."""
    upsert_add(conn, table, columns, rows, key, added=())


def last_log_id(conn: Connection) -> int:
    """The highest log id so far, where `index_new_logs` needs it (SQLite; 0 elsewhere). Rows inserted
    after this call in the same write transaction get higher ids."""
    if conn.dialect.name != "sqlite":
        return 0
    return highest_log_id(conn)


def highest_log_id(conn: Connection) -> int:
    """The highest log id so far (0 with no logs): one seek to the end of the primary key."""
    return int(conn.execute(select(func.coalesce(func.max(schema.logs.c.id), 0))).scalar_one())


def index_new_logs(conn: Connection, after_id: int) -> None:
    """Add logs with ids above `after_id` to the full-text index. Only SQLite's FTS5 table needs this;
    PostgreSQL and MySQL maintain their text indexes themselves."""
    if conn.dialect.name == "sqlite":
        _index_fts(conn, "id > :after_id", bindparam("after_id", after_id))


def index_logs(conn: Connection, ids: Sequence[int]) -> None:
    """Add the logs with these ids to the full-text index (SQLite; the other engines index by themselves).
    For rows inserted with ids of their own, which need not lie above every earlier id."""
    if conn.dialect.name != "sqlite":
        return
    for chunk in in_chunks(ids):
        _index_fts(conn, "id IN :ids", bindparam("ids", chunk, expanding=True))


# The tokenizer of logs_fts (migration 0001): the batch index below must split content as it does.
_FTS_TOKENIZER = "unicode61 remove_diacritics 2"


def _index_fts(conn: Connection, where: str, value: BindParameter[Any]) -> None:
    """Add the logs `where` selects to logs_fts, and their terms to logs_fts_terms. FTS5 itself tokenizes
    them, in a contentless index in this connection's temp schema that holds one batch at a time."""
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.logs_fts_batch "
        f"USING fts5(content, content='', tokenize='{_FTS_TOKENIZER}')"
    )
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.logs_fts_batch_terms USING fts5vocab(temp, logs_fts_batch, row)"
    )
    for index in ("logs_fts", "temp.logs_fts_batch"):
        insert_rows = f"INSERT INTO {index}(rowid, content) SELECT id, content FROM logs WHERE {where}"
        conn.execute(text(insert_rows).bindparams(value))
    conn.exec_driver_sql("INSERT OR IGNORE INTO logs_fts_terms(term) SELECT term FROM temp.logs_fts_batch_terms")
    conn.exec_driver_sql("INSERT INTO temp.logs_fts_batch(logs_fts_batch) VALUES ('delete-all')")


def upsert_replace(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, or where the primary key `id` exists overwrite every other column."""
    if not rows:
        return
    dialect = conn.dialect.name
    columns = [name for name in rows[0] if name != "id"]
    if dialect == "sqlite":
        sqlite_stmt = sqlite.insert(table)
        sqlite_set = {name: sqlite_stmt.excluded[name] for name in columns}
        conn.execute(sqlite_stmt.on_conflict_do_update(index_elements=["id"], set_=sqlite_set), rows)
    elif dialect == "postgresql":
        pg_stmt = postgresql.insert(table)
        pg_set = {name: pg_stmt.excluded[name] for name in columns}
        conn.execute(pg_stmt.on_conflict_do_update(index_elements=["id"], set_=pg_set), rows)
    else:
        my_stmt = mysql.insert(table)
        conn.execute(my_stmt.on_duplicate_key_update({name: my_stmt.inserted[name] for name in columns}), rows)


def follow_explicit_ids(conn: Connection, table: Table) -> None:
    """After rows were inserted with explicit ids, make the next generated id follow the highest one.
    SQLite and MySQL move their counters themselves; PostgreSQL's sequences do not."""
    if conn.dialect.name != "postgresql":
        return
    highest = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    conn.execute(
        text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :next, false)"),
        {"table": table.name, "next": int(highest) + 1},
    )


# Free pages handed back to the file system per transaction after a large deletion (4 KiB pages: 8 MiB).
_VACUUM_PAGES = 2_000


def maintain_after_deletion(conn: Connection) -> bool:
    """One short step of the upkeep a large deletion calls for; True when more steps remain. SQLite
    returns freed pages to the file system a few at a time (only a database created with
    auto_vacuum=INCREMENTAL can; older files keep their free pages for reuse); PostgreSQL and MySQL
    refresh the planner's statistics (PostgreSQL's autovacuum reclaims the space itself)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        if conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one() != 2:
            return False
        free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
        if free == 0:
            return False
        # Each step of this statement frees one page, and Python's sqlite3 steps a statement without result
        # columns only once; executescript runs it to the end. It commits the open (empty) transaction
        # first and runs the statement as a transaction of its own.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.executescript(f"PRAGMA incremental_vacuum({_VACUUM_PAGES});")
        return free > _VACUUM_PAGES
    refresh_statistics(conn, ("logs",))
    return False


# The tables whose row counts change with every batch of logs.
_GROWING_TABLES = ("logs", "log_rollups", "usage_hourly", "quota_data", "quota_data_models")


def refresh_statistics(conn: Connection, tables: Sequence[str] = _GROWING_TABLES) -> None:
    """Refresh the planner's statistics of `tables` on PostgreSQL and MySQL, as their background upkeep
    does after enough changes (a bulk load outpaces it; PostgreSQL's autovacuum may be off). SQLite keeps
    none here: its plans follow from the indexes' shapes alone."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
    elif dialect == "mysql":
        conn.exec_driver_sql(f"ANALYZE TABLE {', '.join(tables)}").fetchall()


def upkeep_after_load(conn: Connection, tables: Sequence[str] = _GROWING_TABLES) -> None:
    """What the servers' background upkeep would have done by the time anyone reads after a bulk load, on
    a connection outside any transaction (`Database.upkeep_logs`): on PostgreSQL VACUUM (ANALYZE), which
    also sets the visibility map that index-only reads need; elsewhere `refresh_statistics`."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")
    else:
        refresh_statistics(conn, tables)
