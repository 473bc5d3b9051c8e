"""The read connections' contract: one snapshot per read, and nothing of a read left on its connection."""

from __future__ import annotations

import random

import pytest

from tests.store.samples import sample_entries
from tokenledger.domain.filters import LogFilters
from tokenledger.store import logs
from tokenledger.store.database import Database


def _insert(db: Database, seed: int, count: int) -> None:
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(random.Random(seed), count))


def test_a_read_sees_one_snapshot_while_a_write_commits_beside_it(db: Database) -> None:
    _insert(db, 1, 5)
    with db.read_logs() as conn:
        assert logs.count_raw(conn, LogFilters()) == 5
        _insert(db, 2, 3)
        # Committed meanwhile, yet invisible until the read ends: its totals and rows agree with each other.
        assert logs.count_raw(conn, LogFilters()) == 5
        assert logs.count(conn, LogFilters()) == 5
    with db.read_logs() as conn:
        assert logs.count_raw(conn, LogFilters()) == 8


def test_a_read_that_failed_leaves_no_snapshot_behind_for_the_next(db: Database) -> None:
    """One thread reuses one pooled connection: were the failed read's transaction still open on it, the
    next read would keep seeing the table as it was."""
    _insert(db, 1, 4)
    with pytest.raises(RuntimeError), db.read_logs() as conn:
        assert logs.count_raw(conn, LogFilters()) == 4
        raise RuntimeError("the caller failed halfway through its read")
    _insert(db, 2, 2)
    for _ in range(3):
        with db.read_logs() as conn:
            assert logs.count_raw(conn, LogFilters()) == 6
    _insert(db, 3, 1)
    with db.read_logs() as conn:
        assert logs.count_raw(conn, LogFilters()) == 7
