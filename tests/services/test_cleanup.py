"""Log cleanup tasks: batches, resuming an interrupted task, racing with writers, and the prune command."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

from click.testing import CliRunner

from tests.backends import DatabaseUrls
from tests.store.samples import SPAN, START, filter_sets, sample_entries
from tokenledger.cli import main
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogType
from tokenledger.domain.tasks import ABANDONED_AFTER_SECONDS, TaskStatus
from tokenledger.services import cleanup
from tokenledger.store import _dialect, logs, rollups, tasks
from tokenledger.store.database import Database
from tokenledger.store.schema import system_tasks


def _insert(db: Database, count: int, seed: int) -> None:
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(random.Random(seed), count))


def _count(db: Database, filters: LogFilters | None = None) -> int:
    with db.read_logs() as conn:
        return logs.count_raw(conn, filters or LogFilters())


def _assert_totals_exact(db: Database) -> None:
    with db.read_logs() as conn:
        for filters in filter_sets():
            for kind in (LogType.UNKNOWN, LogType.CONSUME):
                window = replace(filters, type=kind)
                assert logs.count(conn, window) == logs.count_raw(conn, window), window
            raw_quota = logs._raw_totals(conn, filters, [int(LogType.CONSUME)]).quota
            assert logs.stat(conn, filters, now=0).quota == raw_quota, filters


def test_a_cleanup_deletes_in_batches_and_records_each(db: Database) -> None:
    _insert(db, 500, seed=1)
    target = START + SPAN // 3
    expected = _count(db, LogFilters(end_timestamp=target - 1))
    batches: list[int] = []
    task = cleanup.start(db, target, "tester", running=True)
    assert task.estimated_total == expected
    done = cleanup.run(db, task, batch_rows=40, pause=0, on_batch=batches.append)
    assert done.status is TaskStatus.SUCCEEDED
    assert done.deleted == sum(batches) == expected
    assert len([n for n in batches if n]) >= expected // 45  # many small transactions, not one
    assert batches[-1] == 0
    assert _count(db, LogFilters(end_timestamp=target - 1)) == 0
    _assert_totals_exact(db)


def test_an_interrupted_task_is_resumed_by_the_next_runner(db: Database) -> None:
    _insert(db, 300, seed=2)
    target = START + SPAN // 2
    task = cleanup.start(db, target, "tester", running=True)
    # The first process deleted one batch, then died without a word.
    with db.write_logs() as conn:
        tasks.add_progress(conn, task.id, logs.delete_oldest(conn, target, 30), task.created_at)
        stale = task.created_at - ABANDONED_AFTER_SECONDS - 1
        conn.execute(system_tasks.update().values(updated_at=stale))
    runner = cleanup.CleanupRunner(db, retention_days=0, check_interval=60, pause=0)
    resumed = runner.run_once()
    assert resumed is not None and resumed.id == task.id
    assert resumed.status is TaskStatus.SUCCEEDED
    assert _count(db, LogFilters(end_timestamp=target - 1)) == 0
    assert resumed.deleted == resumed.estimated_total
    _assert_totals_exact(db)
    # A task that is running and reporting is not taken from its runner.
    second = cleanup.start(db, target + 3600, "tester", running=True)
    assert runner.run_once() is None
    with db.read_logs() as conn:
        still = tasks.get(conn, second.id)
    assert still is not None and still.status is TaskStatus.RUNNING


def test_a_stopping_runner_hands_its_task_back(db: Database) -> None:
    _insert(db, 200, seed=3)
    target = START + SPAN
    task = cleanup.start(db, target, "tester", running=True)
    stopped = cleanup.run(db, task, batch_rows=20, pause=0, should_stop=lambda: True)
    assert stopped.status is TaskStatus.PENDING
    assert "resumes" in stopped.message
    runner = cleanup.CleanupRunner(db, retention_days=0, check_interval=60, pause=0)
    finished = runner.run_once()
    assert finished is not None and finished.status is TaskStatus.SUCCEEDED
    assert _count(db) == 0


def test_cleanup_racing_writers_loses_no_acknowledged_row(db: Database) -> None:
    """Writers insert rows on both sides of the target while a cleanup runs: every row at or after the
    target survives, and totals match the rows whatever is left."""
    target = START + SPAN // 2
    _insert(db, 400, seed=4)
    acknowledged: list[int] = []
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(15):
                batch = sample_entries(rng, 30)
                with db.write_logs() as conn:
                    logs.insert_logs(conn, batch)
                acknowledged.extend(entry.created_at for entry in batch)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (11, 12)]
    for thread in threads:
        thread.start()
    task = cleanup.start(db, target, "tester", running=True)
    cleanup.run(db, task, batch_rows=25, pause=0)
    for thread in threads:
        thread.join()
    assert not failures, failures
    kept = sum(1 for created_at in acknowledged if created_at >= target)
    assert _count(db, LogFilters(start_timestamp=target)) == kept + _count_initial_after(target)
    with db.read_logs() as conn:
        assert rollups.pruned_before(conn) == target
    _assert_totals_exact(db)


def _count_initial_after(target: int) -> int:
    return sum(1 for entry in sample_entries(random.Random(4), 400) if entry.created_at >= target)


def test_prune_command_deletes_with_progress(db: Database, db_urls: DatabaseUrls) -> None:
    _insert(db, 120, seed=5)
    target = START + SPAN // 2
    expected = _count(db, LogFilters(end_timestamp=target - 1))
    databases = ["--db", db_urls.core, *(["--log-db", db_urls.logs] if db_urls.logs else [])]
    declined = CliRunner().invoke(main, ["prune", "--before", str(target), *databases], input="n\n")
    assert f"Delete {expected:,} logs created before" in declined.output
    assert "nothing deleted" in declined.output
    assert _count(db) == 120
    args = ["prune", "--before", str(target), "--yes", "--batch-rows", "10", *databases]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"deleted {expected:,} logs" in result.output
    assert _count(db) == 120 - expected
    bad = CliRunner().invoke(main, ["prune", "--before", "next tuesday", "--yes", *databases])
    assert bad.exit_code == 1
    assert "--before must be Unix seconds or milliseconds, or an ISO date" in bad.output


def test_upkeep_after_a_large_deletion_gives_space_back(db: Database) -> None:
    rng = random.Random(6)
    with db.write_logs() as conn:
        for _ in range(4):
            batch = [replace(entry, content="x" * 2000) for entry in sample_entries(rng, 3000)]
            logs.insert_logs(conn, batch)
    task = cleanup.start(db, START + SPAN, "tester", running=True)
    done = cleanup.run(db, task, batch_rows=4000, pause=0)
    assert done.deleted == 12_000 >= cleanup.MAINTAIN_AFTER_ROWS
    with db.write_logs() as conn:
        if conn.dialect.name == "sqlite":
            # A new database is created with auto_vacuum=INCREMENTAL; the upkeep left no free page behind.
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one() == 2
            assert conn.exec_driver_sql("PRAGMA freelist_count").scalar_one() == 0
        # Nothing more to do: a further step is a no-op on every engine.
        assert _dialect.maintain_after_deletion(conn) is False


def test_refreshing_statistics_gives_the_planner_the_real_row_count_and_visibility(db: Database) -> None:
    _insert(db, 200, seed=7)
    cleanup.refresh_statistics(db)
    with db.read_logs() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            counted = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'logs'").scalar_one()
            # VACUUM marked the pages all-visible, so index-only reads need not visit them.
            visible = conn.exec_driver_sql("SELECT relallvisible FROM pg_class WHERE relname = 'logs'").scalar_one()
            assert int(visible) > 0
        elif dialect == "mysql":
            counted = conn.exec_driver_sql(
                "SELECT n_rows FROM mysql.innodb_table_stats WHERE database_name = DATABASE() AND table_name = 'logs'"
            ).scalar_one()
        else:
            # SQLite plans by the indexes' shapes: no statistics table is created.
            counted = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).scalar_one()
            assert counted == 0
            return
    assert int(counted) == 200
