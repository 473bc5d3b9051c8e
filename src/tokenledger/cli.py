"""The `tokenledger` command: a thin client of the same services the web app uses."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tokenledger import __version__
from tokenledger.domain import timestamps, timezones
from tokenledger.domain.errors import Invalid, LedgerError
from tokenledger.domain.export import ExportFormat
from tokenledger.domain.filters import Scope, parse_filters
from tokenledger.domain.log import View
from tokenledger.runtime import freeze_startup_objects, limit_malloc_arenas
from tokenledger.services import accounts, adoption, cleanup, demo, export, ledger
from tokenledger.settings import Settings
from tokenledger.store import migrate
from tokenledger.store.database import Database, DatabaseError, describe_database_error
from tokenledger.store.newapi_source import NewApiSource

DEFAULT_DEMO_ROWS = 100_000

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(command: F) -> F:
    """Show a failure as one line naming its cause, never as a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LedgerError as exc:
            errors.print(f"[red]error:[/red] {exc.message}", highlight=False)
        except ValueError as exc:  # settings validation (pydantic) and friends
            errors.print(f"[red]error:[/red] {str(exc).splitlines()[0]}", highlight=False)
            for line in str(exc).splitlines()[1:3]:
                errors.print(f"  {line.strip()}", highlight=False)
        except OSError as exc:
            errors.print(f"[red]error:[/red] {exc}", highlight=False)
        except DatabaseError as exc:
            errors.print(f"[red]error:[/red] database: {describe_database_error(exc)}", highlight=False)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with command-line flags (those not None) winning."""
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The configured databases, checked reachable up front and closed when the command ends."""
    db = Database(settings.sql_dsn, settings.log_sql_dsn)
    try:
        db.check_connection()
        yield db
    finally:
        db.dispose()


def prepare_schema(db: Database) -> None:
    """Create the schema on an empty database; refuse an out-of-date one rather than touch it."""
    if migrate.is_empty(db):
        migrate.upgrade(db)
    migrate.check_current(db)


def seed_with_progress(db: Database, rows: int, seed: int) -> demo.DemoSummary:
    columns = (TextColumn("demo data"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("logs", total=rows)
        return demo.seed_demo(db, rows=rows, seed=seed, progress=lambda n: progress.advance(task, n))


def database_options(command: F) -> F:
    """--db and --log-db, which override SQL_DSN and LOG_SQL_DSN."""
    command = click.option(
        "--log-db", "log_sql_dsn", default=None, help="Separate database for logs (overrides LOG_SQL_DSN)."
    )(command)
    return click.option("--db", "sql_dsn", default=None, help="Database URL (overrides SQL_DSN).")(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tokenledger")
def main() -> None:
    """tokenledger: the usage ledger for LLM API gateways."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (overrides PORT; default 3000).")
@database_options
@click.option("--demo", "with_demo", is_flag=True, help="Fill an empty log table with realistic demo data.")
@click.option("--demo-rows", type=click.IntRange(min=0), default=DEFAULT_DEMO_ROWS, show_default=True)
@one_line_errors
def serve(
    host: str | None,
    port: int | None,
    sql_dsn: str | None,
    log_sql_dsn: str | None,
    with_demo: bool,
    demo_rows: int,
) -> None:
    """Run the HTTP server (creating the schema and root user on first start)."""
    import uvicorn

    from tokenledger.app import create_app

    limit_malloc_arenas()
    settings = load_settings(host=host, port=port, sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)
    with open_database(settings) as db:
        prepare_schema(db)
        bootstrap = accounts.ensure_root(db, settings.initial_root_password, settings.initial_root_access_token)
        sample: demo.DemoSummary | None = None
        if with_demo and not ledger.has_logs(db):
            sample = seed_with_progress(db, demo_rows, seed=42)
        print_instructions(settings, db, bootstrap, sample)
        app = create_app(settings, db)
        freeze_startup_objects()
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


def print_instructions(
    settings: Settings, db: Database, bootstrap: accounts.Bootstrap, sample: demo.DemoSummary | None
) -> None:
    base = f"http://{settings.host}:{settings.port}"
    token = bootstrap.root_access_token or settings.initial_root_access_token
    password = bootstrap.root_password or settings.initial_root_password
    console.print(f"\n[bold]tokenledger {__version__}[/bold] on {base}  (database: {db.safe_url})")
    if db.separate_logs:
        console.print(f"log database:  {db.safe_log_url}")
    console.print(f"API docs:      {base}/docs")
    if password:
        note = " (generated: shown only now)" if bootstrap.root_password else ""
        console.print(f"root login:    root / {password}{note}")
    else:
        console.print("root login:    root / the password set at first start")
    if token:
        note = " (generated: shown only now)" if bootstrap.root_access_token else ""
        console.print(f"access token:  {token}{note}")
    else:
        token = "ACCESS_TOKEN"
        console.print("access token:  shown at first start; `tokenledger user token root` issues a new one")
    if sample and sample.sample_key:
        console.print(
            f"demo user:     {sample.sample_username} / {sample.sample_password}, API key {sample.sample_key}"
        )
    auth_header = f"-H 'Authorization: Bearer {token}'"
    console.print("\nTry:", highlight=False)
    calls = [
        f"curl -s '{base}/api/log/?p=1&page_size=5&type=2' {auth_header}",
        f"curl -s '{base}/api/log/stat?type=2' {auth_header}",
        f"curl -s '{base}/api/log/search?keyword=error' {auth_header}",
    ]
    if sample and sample.sample_key:
        calls.append(
            f"curl -s '{base}/api/log/self?p=1&page_size=5&type=2' -H 'Authorization: Bearer {sample.sample_key}'"
        )
    for call in calls:
        console.print(f"  {call}", highlight=False, soft_wrap=True)
    console.print()


@main.command("demo")
@click.option("--rows", type=click.IntRange(min=0), default=DEFAULT_DEMO_ROWS, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@database_options
@one_line_errors
def demo_command(rows: int, seed: int, sql_dsn: str | None, log_sql_dsn: str | None) -> None:
    """Add realistic demo users, keys, channels and logs to a database."""
    settings = load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)
    with open_database(settings) as db:
        prepare_schema(db)
        accounts.ensure_root(db, settings.initial_root_password, settings.initial_root_access_token)
        summary = seed_with_progress(db, rows, seed)
        console.print(
            f"added {summary.logs} logs, {summary.users} users, {summary.keys} API keys, {summary.channels} channels"
        )
        if summary.sample_key:
            console.print(
                f"demo user {summary.sample_username} / {summary.sample_password}, API key {summary.sample_key}"
            )


@main.group()
def db() -> None:
    """Schema migrations."""


@db.command("upgrade")
@database_options
@one_line_errors
def db_upgrade(sql_dsn: str | None, log_sql_dsn: str | None) -> None:
    """Bring the schema up to this version's migrations."""
    with open_database(load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)) as database:
        before = migrate.revisions(database)
        migrate.upgrade(database)
        for setting, after in migrate.revisions(database).items():
            was = before[setting]
            console.print(
                f"{setting}: schema at revision {after}" + ("" if was == after else f" (was {was or 'empty'})")
            )


@db.command("current")
@database_options
@one_line_errors
def db_current(sql_dsn: str | None, log_sql_dsn: str | None) -> None:
    """Show the schema revision of the database and the one this version needs."""
    with open_database(load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)) as database:
        for setting, revision in migrate.revisions(database).items():
            console.print(f"{setting}: {revision or 'empty'}; needed: {migrate.head_revision()}")


@main.group("import")
def import_group() -> None:
    """Adopt another ledger's data."""


class _RichSteps:
    """Import steps as rich progress bars, one per step."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def step(self, label: str, total: int | None) -> Callable[[int], None]:
        task = self.progress.add_task(label, total=total)
        return lambda rows: self.progress.advance(task, rows)


@import_group.command("newapi")
@click.option("--from", "source_dsn", required=True, help="New API's SQL_DSN (any of the forms SQL_DSN accepts).")
@click.option("--from-logs", "source_log_dsn", default=None, help="New API's LOG_SQL_DSN, if its logs live apart.")
@click.option("--batch-size", type=click.IntRange(min=1, max=100_000), default=adoption.DEFAULT_BATCH_SIZE)
@click.option("--follow", is_flag=True, help="After the import, keep copying new logs as New API writes them.")
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="Seconds between polls."
)
@database_options
@one_line_errors
def import_newapi(
    source_dsn: str,
    source_log_dsn: str | None,
    batch_size: int,
    follow: bool,
    interval: float,
    sql_dsn: str | None,
    log_sql_dsn: str | None,
) -> None:
    """Copy a New API (or one-api) database: users, access tokens, API keys, channels, logs and hourly
    usage, keeping ids and timestamps. Interrupted, it resumes where it stopped when run again."""
    source = NewApiSource(source_dsn, source_log_dsn)
    try:
        source.open()
        with open_database(load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)) as database:
            prepare_schema(database)
            columns = (TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            try:
                with Progress(*columns, console=console) as progress:
                    report = adoption.import_newapi(
                        database, source, batch_size=batch_size, progress=_RichSteps(progress)
                    )
            except KeyboardInterrupt:
                errors.print("interrupted: every committed batch is kept; run the same command again to resume")
                sys.exit(130)
            print_import_report(report)
            if not report.verified:
                sys.exit(1)
            if follow:
                follow_source(database, source, interval, batch_size)
    finally:
        source.dispose()


def print_import_report(report: adoption.ImportReport) -> None:
    console.print(
        f"copied {report.users} users, {report.keys} API keys, {report.channels} channels, {report.logs} logs "
        f"(up to id {report.last_log_id}) and {report.history_buckets} hourly usage rows from before the first log"
    )
    if report.skipped_keys:
        console.print(f"skipped {report.skipped_keys} API keys whose owner is not in the source's users")
    if report.verified:
        console.print("verified: row counts, and log counts and quota sums per user, match the source")
        return
    errors.print(f"[red]verification failed[/red] ({len(report.mismatches)} differences):", highlight=False)
    for line in report.mismatches[:20]:
        errors.print(f"  {line}", highlight=False)


def follow_source(database: Database, source: NewApiSource, interval: float, batch_size: int) -> None:
    console.print(f"following {source.name} every {interval:g} s (Ctrl-C stops)")

    def report(rows: int, last_log_id: int) -> None:
        console.print(f"{time.strftime('%H:%M:%S')} copied {rows} new logs (up to id {last_log_id})")

    try:
        adoption.follow_newapi(
            database, source, interval=interval, keep_going=lambda: True, on_copied=report, batch_size=batch_size
        )
    except KeyboardInterrupt:
        console.print("stopped following; run again with --follow to go on")


@main.command()
@click.option("--before", required=True, help="Delete logs created before this: a date, ISO date-time or Unix time.")
@click.option("--batch-rows", type=click.IntRange(min=1, max=1_000_000), default=None, help="Logs per transaction.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_options
@one_line_errors
def prune(before: str, batch_rows: int | None, yes: bool, sql_dsn: str | None, log_sql_dsn: str | None) -> None:
    """Delete old logs in small batches (usage history and charts keep their totals)."""
    settings = load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)
    target = timestamps.parse_moment("--before", before)
    with open_database(settings) as db:
        migrate.check_current(db)
        when = datetime.fromtimestamp(target, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if not yes and not click.confirm(f"Delete {cleanup.estimate(db, target):,} logs created before {when}?"):
            console.print("nothing deleted")
            return
        task = cleanup.start(db, target, "cli", running=True)
        columns = (TextColumn("pruning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("logs", total=task.estimated_total)
            done = cleanup.run(
                db,
                task,
                batch_rows=batch_rows or settings.log_cleanup_batch_rows,
                on_batch=lambda n: progress.advance(bar, n),
            )
        console.print(f"deleted {done.deleted:,} logs created before {when} (task {done.id})")


@main.group()
def user() -> None:
    """User administration."""


@user.command("token")
@click.argument("username")
@database_options
@one_line_errors
def user_token(username: str, sql_dsn: str | None, log_sql_dsn: str | None) -> None:
    """Issue a new access token for USERNAME (the old one stops working)."""
    with open_database(load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)) as database:
        prepare_schema(database)
        console.print(accounts.issue_access_token_for(database, username))


@contextmanager
def export_sink(output: str) -> Iterator[IO[bytes]]:
    """Standard output for `-`; otherwise a file written beside the target and renamed over it once
    complete, so a failed or interrupted export never leaves a truncated file under the requested name."""
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    partial = target.with_name(f".{target.name}.part")
    try:
        with partial.open("wb") as sink:
            yield sink
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@main.command("export")
@click.option("--output", "-o", required=True, help="File to write, or - for standard output.")
@click.option("--format", "export_format", type=click.Choice(["csv", "jsonl"], case_sensitive=False), default="csv")
@click.option(
    "--tz", default=None, help=f"Time zone of the CSV time column and of ISO dates: {timezones.HELP}. Default UTC."
)
@click.option("--type", "log_type", default=None, help="Log type: 0 all, 1 top-up, 2 consume, 3 manage, 4 system, …")
@click.option("--start", default=None, help="From (inclusive): Unix seconds or ms, or an ISO date or date-time.")
@click.option("--end", default=None, help="Up to (inclusive), as --start; a bare date means the end of that day.")
@click.option("--username", default=None, help="Exact, or a LIKE pattern with %.")
@click.option("--token-name", default=None, help="API key name, exact.")
@click.option("--model-name", default=None, help="Exact, or a LIKE pattern with %.")
@click.option("--channel", default=None, help="Channel id.")
@click.option("--group", default=None, help="Group, exact.")
@click.option("--request-id", default=None, help="Request id, exact.")
@click.option("--upstream-request-id", default=None, help="Upstream request id, exact.")
@database_options
@one_line_errors
def export_command(
    output: str,
    export_format: str,
    tz: str | None,
    log_type: str | None,
    start: str | None,
    end: str | None,
    sql_dsn: str | None,
    log_sql_dsn: str | None,
    **text_filters: str | None,
) -> None:
    """Export logs (admin view, newest first, every matching row) as CSV or JSON Lines, with the filters of
    GET /api/log/. Rows written while it runs may or may not be included."""
    zone = timezones.parse(tz)
    window = timestamps.parse_moment("--start", start, zone), timestamps.parse_moment("--end", end, zone, end=True)
    if window[0] and window[1] and window[0] > window[1]:
        raise Invalid("--start must not be after --end")
    params = {"type": log_type, "start_timestamp": str(window[0]), "end_timestamp": str(window[1]), **text_filters}
    filters = parse_filters({name: value for name, value in params.items() if value is not None}, Scope.ADMIN)
    options = export.ExportOptions(format=ExportFormat(export_format.lower()), tz=zone)
    # With the rows going to standard output, everything else goes to standard error.
    report = errors if output == "-" else console
    with open_database(load_settings(sql_dsn=sql_dsn, log_sql_dsn=log_sql_dsn)) as db:
        migrate.check_current(db)
        total = export.count_rows(db, filters)
        written = 0
        columns = (TextColumn("export"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        try:
            with export_sink(output) as sink, Progress(*columns, console=report) as progress:
                task = progress.add_task("rows", total=total)

                def advance(rows: int) -> None:
                    nonlocal written
                    written += rows
                    progress.advance(task, rows)

                for chunk in export.stream_logs(db, filters, View.ADMIN, options, on_rows=advance):
                    sink.write(chunk)
        except KeyboardInterrupt:
            errors.print("interrupted" if output == "-" else f"interrupted: {output} was not written", highlight=False)
            sys.exit(130)
    report.print(f"wrote {written:,} rows to {'standard output' if output == '-' else output}", highlight=False)
