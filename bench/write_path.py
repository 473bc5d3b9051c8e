"""`python -m bench.write_path`: where an ingest transaction's time goes, step by step, on a loaded
benchmark database (`python -m bench --load-only` makes one): a SQLite file, which is copied first, or
a PostgreSQL or MySQL URL, written in place.

python -m bench.write_path bench/data/bench-1000000.db --rows-per-transaction 1000,4000,16000
python -m bench.write_path postgresql+psycopg://postgres@127.0.0.1:5432/tokenledger_bench_1000000

Each transaction holds benchmark records dated in the ingest hour (see bench.dataset.ingest_hour), a
fresh hour for each size. Afterwards the SQLite copy is deleted; on a server the logs up to the end of
that hour are deleted, as the benchmark's ingest phase does, which moves the next run to the next hour.
Prints the median milliseconds per 1,000 rows of each step.

`--without-aggregates` leaves out `quota_data` and the rollups: what the rows, their indexes and the
full-text index cost alone, the ceiling of any ingest that keeps the read path's indexes. On a server its
rows are deleted at the end like the others; a run killed before then leaves rows the aggregates do not
count, so load that database again before measuring reads on it.
"""

from __future__ import annotations

import itertools
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from bench import dataset, load
from tokenledger.services import cleanup, ingest
from tokenledger.store import _dialect, logs, migrate, rollups, usage
from tokenledger.store.database import Database
from tokenledger.store.schema import logs as logs_table

STEPS = ("prepare", "rows", "FTS", "quota_data", "rollups", "commit", "total")
SEED = 42


def _copy(source: Path, directory: Path) -> Path:
    target = directory / source.name
    shutil.copy(source, target)
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copy(wal, target.with_name(target.name + "-wal"))
    return target


def measure(
    url: str, plan: dataset.Plan, rows: int, rows_per_transaction: int, *, aggregates: bool = True
) -> dict[str, float]:
    """Median ms per 1,000 rows of each step, over `rows` rows in transactions of `rows_per_transaction`;
    without `aggregates`, quota_data and the rollups are not written (their steps read 0)."""
    db = Database(url)
    hour: int | None = None
    try:
        migrate.upgrade(db)
        ids = load.find_accounts(db, plan)
        with db.read_logs() as conn:
            hour = dataset.ingest_hour(rollups.pruned_before(conn))
        bodies = dataset.extra_batches(plan, ids, SEED + 1, max(1, rows // 1000), 1000, hour)
        times: dict[str, list[float]] = {step: [] for step in STEPS}
        per_transaction = max(1, rows_per_transaction // 1000)
        for first in range(0, len(bodies), per_transaction):
            started = time.perf_counter()
            entries = [entry for body in bodies[first : first + per_transaction] for entry in ingest.prepare(db, body)]
            marks = [time.perf_counter()]
            with db.write_logs() as conn:
                after_id = _dialect.last_log_id(conn)
                _dialect.bulk_insert(conn, logs_table, logs._COLUMNS, [logs._values(entry) for entry in entries])
                marks.append(time.perf_counter())
                _dialect.index_new_logs(conn, after_id)
                marks.append(time.perf_counter())
                if aggregates:
                    usage.add_consumption(conn, entries)
                marks.append(time.perf_counter())
                if aggregates:
                    rollups.add(conn, entries)
                marks.append(time.perf_counter())
            marks.append(time.perf_counter())
            durations = [marks[0] - started, *(b - a for a, b in itertools.pairwise(marks))]
            durations.append(marks[-1] - started)
            for step, seconds in zip(STEPS, durations, strict=True):
                times[step].append(seconds * 1000 * 1000 / len(entries))
        return {step: statistics.median(values) for step, values in times.items()}
    finally:
        if hour is not None and db.backend != "sqlite":
            cleanup.delete_now(db, hour + dataset.HOUR, "bench.write_path")
        db.dispose()


def _measure_on(
    database: str, plan: dataset.Plan, rows: int, rows_per_transaction: int, aggregates: bool
) -> dict[str, float]:
    if "://" in database:
        return measure(database, plan, rows, rows_per_transaction, aggregates=aggregates)
    source = Path(database)
    if not source.is_file():
        raise click.ClickException(f"{database}: no such SQLite file")
    with tempfile.TemporaryDirectory(dir=source.parent) as directory:
        copy = f"sqlite:///{_copy(source, Path(directory))}"
        return measure(copy, plan, rows, rows_per_transaction, aggregates=aggregates)


@click.command()
@click.argument("database")
@click.option("--rows-per-transaction", default="1000,4000,16000", show_default=True)
@click.option("--rows", default=48_000, show_default=True, help="Rows written per transaction size.")
@click.option("--users", default=dataset.DEFAULT_USERS, show_default=True, help="As the dataset was loaded.")
@click.option("--keys", default=dataset.DEFAULT_KEYS, show_default=True, help="As the dataset was loaded.")
@click.option(
    "--without-aggregates",
    is_flag=True,
    help="Leave out quota_data and the rollups: the rows and their indexes alone.",
)
def main(database: str, rows_per_transaction: str, rows: int, users: int, keys: int, without_aggregates: bool) -> None:
    """Time each step of ingest transactions on DATABASE: a SQLite file (measured on a copy) or a
    PostgreSQL or MySQL URL (measured in place)."""
    plan = dataset.build_plan(SEED, users, keys)
    console = Console()
    sizes = [int(size) for size in rows_per_transaction.split(",") if size.strip()]
    title = "ms per 1,000 rows (median)" + (", without quota_data and rollups" if without_aggregates else "")
    table = Table("rows/tx", *STEPS, "rows/s", title=title)
    for size in sizes:
        with console.status(f"{size:,} rows per transaction"):
            try:
                result = _measure_on(database, plan, rows, size, not without_aggregates)
            except LookupError:
                raise click.ClickException(f"{database} is not a benchmark database of seed {SEED}") from None
            except ValueError as exc:  # no ingest hour left before the dataset (bench.dataset.ingest_hour)
                raise click.ClickException(f"{database}: {exc}") from None
        rate = 1000 / result["total"] * 1000
        table.add_row(f"{size:,}", *(f"{result[step]:.1f}" for step in STEPS), f"{rate:,.0f}")
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
