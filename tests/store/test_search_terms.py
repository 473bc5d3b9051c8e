"""SQLite keeps a list of the terms its full-text index holds (logs_fts_terms), so that search can expand a
word prefix into exact terms: the list must hold every term FTS5 indexed, however the logs arrived."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from tests.store.samples import sample_entries
from tokenledger.domain.log import LogEntry
from tokenledger.store import _dialect, logs, migrate
from tokenledger.store.database import Connection, Database
from tokenledger.store.schema import logs as logs_table

CONTENTS = (
    "model ratio 0.15, completion ratio 4.00",
    "Café résumé naïve ÉCOLE",
    "上游错误 模型 rate_limit retry-after=30",
    "Ratios RATIONAL rational; gpt-4o-mini v1.5",
    "",
    "ß straße ǅ ﬁ Ωmega",
)


def _entries(seed: int, count: int) -> list[LogEntry]:
    rng = random.Random(seed)
    return [
        replace(entry, content=rng.choice(CONTENTS) + f" n{index}")
        for index, entry in enumerate(sample_entries(rng, count))
    ]


def _terms(conn: Connection) -> set[str]:
    return set(conn.exec_driver_sql("SELECT term FROM logs_fts_terms").scalars())


def _indexed(conn: Connection) -> set[str]:
    conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.indexed USING fts5vocab(main, logs_fts, row)")
    return set(conn.exec_driver_sql("SELECT term FROM temp.indexed").scalars())


def _database(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'ledger.db'}")


def test_written_and_copied_logs_add_their_terms(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        migrate.upgrade(db)
        with db.write_logs() as conn:
            logs.insert_logs(conn, _entries(1, 60))
        with db.write_logs() as conn:
            logs.insert_logs(conn, _entries(2, 40))
        with db.write_logs() as conn:
            copied = [replace(entry, id=10_000 + index) for index, entry in enumerate(_entries(3, 30))]
            logs.copy_logs(conn, copied)
        with db.read_logs() as conn:
            indexed = _indexed(conn)
            assert {"ratio", "cafe", "resume", "ecole", "n59", "模型"} <= indexed  # folded as FTS5 folds them
            assert _terms(conn) == indexed
    finally:
        db.dispose()


def test_a_failed_write_adds_no_terms(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        migrate.upgrade(db)
        try:
            with db.write_logs() as conn:
                logs.insert_logs(conn, [replace(_entries(4, 1)[0], content="unheardof")])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        with db.write_logs() as conn:
            logs.insert_logs(conn, _entries(5, 5))
        with db.read_logs() as conn:
            assert "unheardof" not in _terms(conn)
            assert _terms(conn) == _indexed(conn)
    finally:
        db.dispose()


def test_the_upgrade_lists_the_terms_already_indexed(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        migrate.upgrade(db, "0005")
        entries = _entries(6, 80)
        with db.write_logs() as conn:
            # Written as the code of revision 0005 wrote logs: rows, then their full-text entries.
            _dialect.bulk_insert(conn, logs_table, logs._COLUMNS, [logs._values(entry) for entry in entries])
            conn.exec_driver_sql("INSERT INTO logs_fts(rowid, content) SELECT id, content FROM logs")
        migrate.upgrade(db)
        with db.read_logs() as conn:
            indexed = _indexed(conn)
            assert len(indexed) > 80
            assert _terms(conn) == indexed
    finally:
        db.dispose()
