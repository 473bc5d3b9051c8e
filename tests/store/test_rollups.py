"""Totals from the hourly rollups are exactly the raw rows' totals: for every filter combination and time
window, after deletions cutting through an hour, and while writers and a deleter run concurrently."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

import pytest

from tests.store.samples import SPAN, START, filter_sets, sample_entries, windows
from tokenledger.domain.filters import LogFilters, TextMatch
from tokenledger.domain.log import LogType
from tokenledger.store import logs, rollups
from tokenledger.store.database import Database


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
    with db.write_logs() as conn:
        deleted = logs.delete_before(conn, target)
    assert 0 < deleted < 1200
    with db.read_logs() as conn:
        assert logs.count(conn, LogFilters()) == 1200 - deleted
        assert logs.count(conn, LogFilters(end_timestamp=target - 1)) == 0
    _assert_exact(db, rng)


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
                with db.write_logs() as conn:
                    logs.delete_before(conn, START + step * 3 * 3600 + 1111)
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
    written = {(row["scope"], row["key1"], row["key2"], row["key_text"]) for row in rollups._rows([entry], 1)}
    declared = {(scope.code, *scope.key_of(entry)) for scope in rollups.SCOPES}
    assert written == declared
    assert len(declared) == len(rollups.SCOPES)
