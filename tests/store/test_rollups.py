"""Totals from the hourly rollups are exactly the raw rows' totals: for every filter combination and time
window, after deletions cutting through an hour, and while writers and a deleter run concurrently. The
usage history (rollups and usage_hourly) keeps counting deleted rows."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.store.samples import SPAN, START, filter_sets, sample_entries, windows
from tokenledger.domain.filters import LogFilters, TextMatch
from tokenledger.domain.log import LogType
from tokenledger.store import logs, rollups
from tokenledger.store.database import Database
from tokenledger.store.schema import log_rollups, usage_hourly


def _delete_before(db: Database, target: int, batch: int) -> int:
    """Delete every log before `target`, one transaction per batch, as a cleanup task does."""
    deleted = 0
    while True:
        with db.write_logs() as conn:
            step = logs.delete_oldest(conn, target, batch)
        if not step:
            return deleted
        deleted += step


def _assert_exact(db: Database, rng: random.Random) -> None:
    with db.read_logs() as conn:
        for filters in filter_sets():
            for start, end in windows(rng):
                for kind in (LogType.UNKNOWN, LogType.ERROR):
                    window = replace(filters, start_timestamp=start, end_timestamp=end, type=kind)
                    assert logs.count(conn, window) == logs.count_raw(conn, window), window
                stat = logs.stat(conn, replace(filters, start_timestamp=start, end_timestamp=end), now=0)
                raw_quota = logs._raw_totals(conn, replace(filters, start_timestamp=start, end_timestamp=end), [2])
                assert stat.quota == raw_quota.quota, (filters, start, end)


def test_totals_match_the_rows_for_every_filter_and_window(db: Database) -> None:
    rng = random.Random(5)
    entries = sample_entries(rng, 1500)
    with db.write_logs() as conn:
        for start in range(0, len(entries), 400):
            logs.insert_logs(conn, entries[start : start + 400])
    with db.read_logs() as conn:
        assert logs.count(conn, LogFilters()) == 1500
    _assert_exact(db, rng)


def test_a_deletion_through_the_middle_of_an_hour_keeps_totals_exact(db: Database) -> None:
    rng = random.Random(6)
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(rng, 1200))
    target = START + SPAN // 2 + 777  # not on an hour boundary
    deleted = _delete_before(db, target, batch=97)
    assert 0 < deleted < 1200
    with db.read_logs() as conn:
        assert rollups.pruned_before(conn) == target
        assert logs.count(conn, LogFilters()) == 1200 - deleted
        assert logs.count(conn, LogFilters(end_timestamp=target - 1)) == 0
    _assert_exact(db, rng)


def test_usage_history_outlives_deleted_logs(db: Database) -> None:
    rng = random.Random(9)
    entries = sample_entries(rng, 600)
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries)
    _delete_before(db, START + SPAN, batch=1000)
    quota = sum(entry.quota for entry in entries)
    with db.read_logs() as conn:
        assert logs.count(conn, LogFilters()) == 0
        history = conn.execute(select(func.sum(usage_hourly.c.count), func.sum(usage_hourly.c.quota))).one()
        everything = select(func.sum(log_rollups.c.count)).where(log_rollups.c.scope == 0)
        assert (int(history[0]), int(history[1])) == (600, quota)
        assert conn.execute(everything).scalar_one() == 600


@pytest.mark.slow
def test_totals_stay_exact_while_writers_and_a_deleter_run(db: Database) -> None:
    """Readers compare rollup totals with raw counts inside one snapshot while two writers insert rows
    (some into old hours) and a deleter cuts through hours."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(20):
                if stop.is_set():
                    return
                with db.write_logs() as conn:
                    logs.insert_logs(conn, sample_entries(rng, 50))
        except BaseException as exc:
            failures.append(exc)

    def deleter() -> None:
        try:
            for step in range(1, 6):
                _delete_before(db, START + step * 3 * 3600 + 1111, batch=40)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    threads.append(threading.Thread(target=deleter))
    for thread in threads:
        thread.start()
    checks = 0
    try:
        while any(thread.is_alive() for thread in threads) or checks < 5:
            with db.read_logs() as conn:
                for filters in (LogFilters(), LogFilters(user_id=2), LogFilters(model_name=TextMatch("gpt-4o"))):
                    assert logs.count(conn, filters) == logs.count_raw(conn, filters)
            checks += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures
    _assert_exact(db, random.Random(7))


def test_the_write_path_fills_exactly_the_scopes_reads_use() -> None:
    """The writer's unrolled keys and the scope definitions the readers use must describe the same rows."""
    entry = sample_entries(random.Random(8), 1)[0]
    rows = rollups._rollup_rows(rollups._groups([entry]))
    written = {row[:4] for row in rows}
    declared = {(scope.code, *scope.key_of(entry)) for scope in rollups.SCOPES}
    assert written == declared
    assert len(declared) == len(rollups.SCOPES)


def test_a_username_only_one_user_logged_under_is_read_through_that_users_scopes(db: Database) -> None:
    """The rewrite is invisible in the totals (the raw rows would give the same numbers), so check it here:
    a name shared by two users, a renamed user and an unknown name stay on the raw rows."""
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(random.Random(10), 600))
    with db.read_logs() as conn:
        assert rollups.sole_user(conn, "user1") == 1
        assert rollups.sole_user(conn, "user2") is None  # user 6 logged as user2 too
        assert rollups.sole_user(conn, "user5") is None  # user 5 also logged as user5-old
        assert rollups.sole_user(conn, "nobody") is None
        by_name = LogFilters(username=TextMatch("user1"), model_name=TextMatch("gpt-4o"))
        scope, covered = rollups.covering_scope(conn, by_name)
        assert scope is not None and scope.dimensions == {"user_id", "model_name"}
        assert covered == LogFilters(user_id=1, model_name=TextMatch("gpt-4o"))
        assert rollups.covering_scope(conn, replace(by_name, username=TextMatch("user2"))) == (
            None,
            replace(by_name, username=TextMatch("user2")),
        )
        other_user = replace(by_name, user_id=3)
        assert rollups.covering_scope(conn, other_user) == (None, other_user)


def test_one_batch_may_log_a_user_under_two_names(db: Database) -> None:
    """Rows that differ only in the username go to the same usage_hourly row: a batch of them is added
    in one statement on PostgreSQL, which may not update a row twice, so they are merged first."""
    base = replace(sample_entries(random.Random(3), 1)[0], type=LogType.CONSUME, quota=7)
    batch = [replace(base, username="ann"), replace(base, username="ann-renamed"), replace(base, username="ann")]
    with db.write_logs() as conn:
        logs.insert_logs(conn, batch)
    with db.read_logs() as conn:
        usage = conn.execute(select(func.count(), func.sum(usage_hourly.c.count), func.sum(usage_hourly.c.quota)))
        assert tuple(usage.one()) == (1, 3, 21)
        everything = select(func.sum(log_rollups.c.count)).where(log_rollups.c.scope == 0)
        assert conn.execute(everything).scalar_one() == 3
        by_name = select(log_rollups.c.key_text, log_rollups.c.count).where(log_rollups.c.scope == 3)
        assert sorted((str(name), int(count)) for name, count in conn.execute(by_name)) == [
            ("ann", 2),
            ("ann-renamed", 1),
        ]
