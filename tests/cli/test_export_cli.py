"""`tokenledger export`: the admin export to a file or standard output, byte for byte what
GET /api/log/export answers for the same filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.backends import DatabaseUrls
from tests.factories import Account, make_user, record, root_account
from tokenledger.app import create_app
from tokenledger.cli import main
from tokenledger.domain.export import BOM
from tokenledger.settings import Settings
from tokenledger.store.database import Database

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def _db_args(urls: DatabaseUrls) -> list[str]:
    return ["--db", urls.core] + (["--log-db", urls.logs] if urls.logs else [])


@pytest.fixture
def http(db_urls: DatabaseUrls, db: Database) -> Iterator[TestClient]:
    settings = Settings(sql_dsn=db_urls.core, log_sql_dsn=db_urls.logs, session_secret="test-session-secret-0123456789")
    with TestClient(create_app(settings, db)) as client:
        yield client


@pytest.fixture
def root(db: Database) -> Account:
    return root_account(db)


@pytest.fixture
def records(http: TestClient, db: Database, root: Account) -> list[dict[str, Any]]:
    """40 rows over two days, two users, consume and error rows, and a cell a spreadsheet would execute."""
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    rows = [
        record(
            alice if n % 2 else bob,
            created_at=T0 + n * 3600,
            type=5 if n % 5 == 0 else 2,
            model_name="gpt-4o" if n % 3 else "claude-3-haiku",
            content="=1+1" if n == 7 else f"call {n}, fine",
            request_id=f"r{n}" if n % 4 else "",
            quota=n * 1000,
        )
        for n in range(40)
    ]
    response = http.post("/api/log/ingest", json=rows, headers=root.headers)
    assert response.json()["success"], response.text
    return rows


def run(urls: DatabaseUrls, *args: str) -> Any:
    return CliRunner().invoke(main, ["export", *args, *_db_args(urls)], catch_exceptions=False)


def api_export(http: TestClient, root: Account, **params: Any) -> bytes:
    response = http.get("/api/log/export", headers=root.headers, params=params)
    assert response.status_code == 200, response.text
    return response.content


def test_csv_file_is_what_the_api_exports(
    db_urls: DatabaseUrls, http: TestClient, root: Account, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    target = tmp_path / "logs.csv"
    result = run(db_urls, "--output", str(target), "--tz", "Asia/Shanghai")
    assert result.exit_code == 0, result.output
    assert f"wrote 40 rows to {target}" in result.stdout
    content = target.read_bytes()
    assert content.startswith(BOM.encode("utf-8"))
    assert content == api_export(http, root, tz="Asia/Shanghai")
    assert b"'=1+1" in content
    assert not list(tmp_path.glob(".*.part"))


def test_filters_and_jsonl_to_standard_output(
    db_urls: DatabaseUrls, http: TestClient, root: Account, records: list[dict[str, Any]]
) -> None:
    # The whole of 2023-11-15 at +08:00: 2023-11-14 16:00 to 2023-11-15 15:59:59 UTC.
    args = ["--format", "jsonl", "--type", "2", "--model-name", "gpt-4%", "--tz", "+08:00"]
    args += ["--start", "2023-11-15", "--end", "2023-11-15", "--output", "-"]
    result = run(db_urls, *args)
    assert result.exit_code == 0, result.stderr
    start = int(datetime(2023, 11, 15, tzinfo=timezone(timedelta(hours=8))).timestamp())
    end = start + 86_400 - 1
    expected = api_export(
        http, root, format="jsonl", type=2, model_name="gpt-4%", start_timestamp=start, end_timestamp=end
    )
    assert result.stdout_bytes == expected
    rows = [json.loads(line) for line in expected.decode("utf-8").splitlines()]
    want = [r for r in records if r["type"] == 2 and r["model_name"] == "gpt-4o" and start <= r["created_at"] <= end]
    assert 0 < len(rows) == len(want)
    # The rows go to standard output alone; the count goes to standard error.
    assert f"wrote {len(rows)} rows to standard output" in result.stderr


def test_admin_only_filters_and_unix_bounds(
    db_urls: DatabaseUrls, http: TestClient, root: Account, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    target = tmp_path / "bob.csv"
    args = ["--username", "bob", "--start", str(T0 + 3600), "--end", str((T0 + 20 * 3600) * 1000)]
    result = run(db_urls, *args, "-o", str(target))
    assert result.exit_code == 0, result.output
    expected = api_export(http, root, username="bob", start_timestamp=T0 + 3600, end_timestamp=(T0 + 20 * 3600) * 1000)
    assert target.read_bytes() == expected
    assert "wrote 10 rows" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tz", "Mars/Olympus"], "tz: unknown time zone"),
        (["--start", "yesterday"], "--start must be Unix seconds"),
        (["--start", "2024-02-01", "--end", "2024-01-01"], "--start must not be after --end"),
        (["--type", "9"], "unknown log type"),
        (["--model-name", "%x%"], "model_name pattern"),
    ],
)
def test_bad_options_are_one_line(
    db_urls: DatabaseUrls, db: Database, args: list[str], message: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    result = run(db_urls, *args, "--output", str(target))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]
    assert not target.exists()


def test_output_is_required(db_urls: DatabaseUrls) -> None:
    result = CliRunner().invoke(main, ["export", *_db_args(db_urls)])
    assert result.exit_code == 2
    assert "--output" in result.output


def test_unwritable_output_is_one_line(db_urls: DatabaseUrls, db: Database, tmp_path: Path) -> None:
    result = run(db_urls, "--output", str(tmp_path / "missing-dir" / "logs.csv"))
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output
