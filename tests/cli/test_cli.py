"""The command line, driven in-process with click's runner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from tokenledger.cli import main
from tokenledger.services import ledger
from tokenledger.store import migrate
from tokenledger.store.database import Database


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_db_upgrade_creates_the_schema_once(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--db", _url(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "was empty" in first.output
    second = runner.invoke(main, ["db", "upgrade", "--db", _url(tmp_path)])
    assert second.exit_code == 0
    assert "was" not in second.output
    current = runner.invoke(main, ["db", "current", "--db", _url(tmp_path)])
    head = migrate.head_revision(Database(_url(tmp_path)))
    assert f"database: {head}; needed: {head}" in current.output


def test_demo_adds_rows_and_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--rows", "700", "--seed", "7", "--db", _url(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "added 700 logs" in result.output
    db = Database(_url(tmp_path))
    assert ledger.has_logs(db)
    with db.read() as conn:
        assert conn.execute(text("select count(*) from logs")).scalar_one() == 700
        assert conn.execute(text("select role from users where id = 1")).scalar_one() == 100


def test_user_token_issues_a_working_token(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade", "--db", _url(tmp_path)])
    missing = runner.invoke(main, ["user", "token", "root", "--db", _url(tmp_path)])
    # No root yet on a database that was only migrated: a clear one-line error.
    assert missing.exit_code == 1
    assert "no user named 'root'" in missing.output
    runner.invoke(main, ["demo", "--rows", "0", "--db", _url(tmp_path)])
    issued = runner.invoke(main, ["user", "token", "root", "--db", _url(tmp_path)])
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


def test_serve_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    db = Database(_url(tmp_path))
    migrate.upgrade(db)
    with db.write() as conn:
        conn.execute(text("update alembic_version set version_num = '0000'"))
    result = CliRunner().invoke(main, ["serve", "--db", _url(tmp_path), "--port", "1"])
    assert result.exit_code == 1
    assert "tokenledger db upgrade" in result.output


def test_invalid_setting_from_environment_is_reported(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["db", "upgrade", "--db", _url(tmp_path)], env={"API_KEY_LOG_SCOPE": "everything"}
    )
    assert result.exit_code == 1
    assert "API_KEY_LOG_SCOPE" in result.output
