"""The few places where SQL differs between SQLite, PostgreSQL and MySQL/MariaDB, one function each."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Select, Table, func, literal_column, select, text
from sqlalchemy.dialects import mysql, postgresql, sqlite

from tokenledger.store import schema

# The tokenizers of all three engines split words on anything that is not a letter or digit.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def search_words(keyword: str) -> list[str]:
    """The words of a search keyword, lower-cased, as the full-text index tokenizes content."""
    return [word.lower() for word in _WORD.findall(keyword)]


def content_matches(conn: Connection, words: Sequence[str]) -> ColumnElement[bool]:
    """A condition true for logs whose content holds every word (each as a word or a word prefix),
    answered from the engine's full-text index."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        query = " AND ".join(f'"{word}"*' for word in words)
        matching_ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("logs_fts"))
            .where(text("logs_fts MATCH :fts_query").bindparams(fts_query=query))
        )
        return schema.logs.c.id.in_(matching_ids)
    if dialect == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        return func.to_tsvector("simple", schema.logs.c.content).op("@@")(func.to_tsquery("simple", query))
    query = " ".join(f"+{word}*" for word in words)
    against = text("MATCH (logs.content) AGAINST (:ft_query IN BOOLEAN MODE)").bindparams(ft_query=query)
    return cast(ColumnElement[bool], against)


def upsert_add(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    added: Sequence[str],
) -> None:
    """Insert rows, or on a conflict of `key` add each `added` column to the stored value."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        sqlite_stmt = sqlite.insert(table)
        updates = {name: table.c[name] + sqlite_stmt.excluded[name] for name in added}
        conn.execute(sqlite_stmt.on_conflict_do_update(index_elements=list(key), set_=updates), rows)
    elif dialect == "postgresql":
        pg_stmt = postgresql.insert(table)
        updates = {name: table.c[name] + pg_stmt.excluded[name] for name in added}
        conn.execute(pg_stmt.on_conflict_do_update(index_elements=list(key), set_=updates), rows)
    else:
        my_stmt = mysql.insert(table)
        updates = {name: table.c[name] + my_stmt.inserted[name] for name in added}
        conn.execute(my_stmt.on_duplicate_key_update(updates), rows)
