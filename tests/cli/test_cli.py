"""The command line, driven in-process with click's runner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from tests.backends import DatabaseUrls
from tokenledger.cli import main
from tokenledger.services import ledger
from tokenledger.store import migrate
from tokenledger.store.database import Database


def _db_args(urls: DatabaseUrls) -> list[str]:
    return ["--db", urls.core] + (["--log-db", urls.logs] if urls.logs else [])


@contextmanager
def _database(urls: DatabaseUrls) -> Iterator[Database]:
    database = Database(urls.core, urls.logs)
    try:
        yield database
    finally:
        database.dispose()


def test_db_upgrade_creates_the_schema_once(fresh_urls: DatabaseUrls) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", *_db_args(fresh_urls)])
    assert first.exit_code == 0, first.output
    assert "was empty" in first.output
    second = runner.invoke(main, ["db", "upgrade", *_db_args(fresh_urls)])
    assert second.exit_code == 0
    assert "was" not in second.output
    current = runner.invoke(main, ["db", "current", *_db_args(fresh_urls)])
    head = migrate.head_revision()
    assert f"SQL_DSN: {head}; needed: {head}" in current.output
    if fresh_urls.logs:
        assert f"LOG_SQL_DSN: {head}; needed: {head}" in current.output


def test_demo_adds_rows_and_root(fresh_urls: DatabaseUrls) -> None:
    result = CliRunner().invoke(main, ["demo", "--rows", "700", "--seed", "7", *_db_args(fresh_urls)])
    assert result.exit_code == 0, result.output
    assert "added 700 logs" in result.output
    with _database(fresh_urls) as db:
        assert ledger.has_logs(db)
        with db.read_logs() as conn:
            assert conn.execute(text("select count(*) from logs")).scalar_one() == 700
        with db.read() as conn:
            assert conn.execute(text("select role from users where id = 1")).scalar_one() == 100


def test_user_token_issues_a_working_token(fresh_urls: DatabaseUrls) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade", *_db_args(fresh_urls)])
    missing = runner.invoke(main, ["user", "token", "root", *_db_args(fresh_urls)])
    # No root yet on a database that was only migrated: a clear one-line error.
    assert missing.exit_code == 1
    assert "no user named 'root'" in missing.output
    runner.invoke(main, ["demo", "--rows", "0", *_db_args(fresh_urls)])
    issued = runner.invoke(main, ["user", "token", "root", *_db_args(fresh_urls)])
    assert issued.exit_code == 0
    token = issued.output.strip()
    assert len(token) == 32


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", "definitely not a url"])
    assert result.exit_code == 1
    assert result.output.startswith("error: SQL_DSN is not a database URL")
    assert "Traceback" not in result.output


def test_unopenable_sqlite_file_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", f"sqlite:///{blocker}/sub/ledger.db"])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_an_out_of_date_schema(fresh_urls: DatabaseUrls) -> None:
    with _database(fresh_urls) as db:
        migrate.upgrade(db)
        with db.write() as conn:
            conn.execute(text("update alembic_version set version_num = '0000'"))
    result = CliRunner().invoke(main, ["serve", *_db_args(fresh_urls), "--port", "1"])
    assert result.exit_code == 1
    assert "tokenledger db upgrade" in result.output


def test_invalid_setting_from_environment_is_reported(fresh_urls: DatabaseUrls) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", *_db_args(fresh_urls)], env={"API_KEY_LOG_SCOPE": "everything"})
    assert result.exit_code == 1
    assert "API_KEY_LOG_SCOPE" in result.output


def test_unreachable_server_is_one_line_naming_the_setting() -> None:
    # Port 1 on localhost refuses at once: nothing listens there.
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", "postgres://someone:hunter2@127.0.0.1:1/ledger"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: cannot open the database of SQL_DSN (postgresql+psycopg://someone:***@")
    assert "hunter2" not in result.output


def test_unreachable_log_database_names_log_sql_dsn(fresh_urls: DatabaseUrls) -> None:
    result = CliRunner().invoke(
        main, ["db", "upgrade", "--db", fresh_urls.core, "--log-db", "root:pw@tcp(127.0.0.1:1)/logs?parseTime=true"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot open the database of LOG_SQL_DSN (mysql+pymysql://root:***@")


def test_unsupported_engine_is_named() -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", "oracle://scott:tiger@db/orcl"])
    assert result.exit_code == 1
    assert "SQL_DSN uses 'oracle': tokenledger supports sqlite, postgresql" in result.output
