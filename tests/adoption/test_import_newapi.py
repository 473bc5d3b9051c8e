"""`tokenledger import newapi`: a New-API-shaped database on each engine, copied into each backend, checked
row by row, over HTTP with the imported credentials, across an interruption, and while following."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.adoption.newapi_world import NewApiWorld, add_logs, create_newapi_database, logs_table
from tests.backends import Databases, DatabaseUrls
from tests.factories import make_user, root_account
from tokenledger.app import create_app
from tokenledger.cli import main
from tokenledger.domain.errors import Conflict
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.services import adoption, auth
from tokenledger.settings import Settings
from tokenledger.store import dsn, logs, usage, users
from tokenledger.store.database import Database
from tokenledger.store.newapi_source import NewApiSource

SOURCE_ENGINES = ("sqlite", "postgresql", "mysql")
HOUR = 3600
EVERYTHING = 10**9


def _new_database(databases: Databases, kind: str, tmp_path: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    return dsn.normalize_url(databases.new(kind, name))


@pytest.fixture(params=SOURCE_ENGINES)
def source_url(request: pytest.FixtureRequest, databases: Databases, tmp_path: Path) -> str:
    """An empty database on the engine New API runs on."""
    return _new_database(databases, str(request.param), tmp_path, "newapi")


@pytest.fixture
def world(source_url: str) -> NewApiWorld:
    return create_newapi_database(source_url)


@pytest.fixture
def source(source_url: str, world: NewApiWorld) -> Iterator[NewApiSource]:
    opened = NewApiSource(source_url)
    opened.open()
    yield opened
    opened.dispose()


@pytest.fixture
def app_client(db_urls: DatabaseUrls, db: Database) -> Iterator[TestClient]:
    settings = Settings(
        sql_dsn=db_urls.core, log_sql_dsn=db_urls.logs, session_secret="import-test-secret", rate_limit_enabled=False
    )
    with TestClient(create_app(settings, db)) as client:
        yield client


def _all_logs(db: Database) -> list[LogEntry]:
    with db.read_logs() as conn:
        return sorted(logs.list_recent(conn, LogFilters(), EVERYTHING), key=lambda entry: entry.id)


def _expected_entry(row: dict[str, Any]) -> LogEntry:
    return LogEntry(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        type=row["type"],
        content=row["content"] or "",
        username=row["username"] or "",
        token_name=row["token_name"] or "",
        model_name=row["model_name"] or "",
        quota=row["quota"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        use_time=row["use_time"],
        is_stream=bool(row["is_stream"]),
        channel=row["channel_id"],
        token_id=row["token_id"],
        group=row["group"] or "",
        ip=row["ip"] or "",
        request_id=row["request_id"] or "",
        other=row["other"] or "",
    )


def _expected_buckets(world: NewApiWorld) -> dict[tuple[int, str, int], tuple[int, int, int]]:
    """quota_data as tokenledger should hold it: New API's rows (summed per key) for hours before the first
    consume log, and sums over the consume logs from that hour on."""
    consume = [row for row in world.logs if row["type"] == int(LogType.CONSUME)]
    first_hour = min(row["created_at"] for row in consume) // HOUR * HOUR
    buckets: dict[tuple[int, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in world.quota_data:
        if row["created_at"] < first_hour:
            bucket = buckets[(row["user_id"], row["model_name"], row["created_at"])]
            bucket[0] += row["count"]
            bucket[1] += row["quota"]
            bucket[2] += row["token_used"]
    for row in consume:
        bucket = buckets[(row["user_id"], row["model_name"], row["created_at"] // HOUR * HOUR)]
        bucket[0] += 1
        bucket[1] += row["quota"]
        bucket[2] += row["prompt_tokens"] + row["completion_tokens"]
    return {key: (count, quota, tokens) for key, (count, quota, tokens) in buckets.items()}


def _stored_buckets(db: Database) -> dict[tuple[int, str, int], tuple[int, int, int]]:
    with db.read_logs() as conn:
        stored = usage.list_buckets(conn, 0, 0, username=None, user_id=None)
        per_user = conn.execute(
            text("SELECT user_id, model_name, created_at, count, quota, token_used FROM quota_data")
        )
        rows = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in per_user}
    assert sum(bucket.count for bucket in stored) == sum(count for count, _, _ in rows.values())
    return rows


def test_import_copies_every_row_exactly(db: Database, source: NewApiSource, world: NewApiWorld) -> None:
    report = adoption.import_newapi(db, source, batch_size=97)

    assert report.verified, report.mismatches
    live_keys = [row for row in world.tokens if row["deleted_at"] is None]
    assert (report.users, report.keys, report.channels, report.logs) == (
        len(world.users),
        len(live_keys),
        len(world.channels),
        len(world.logs),
    )
    assert report.last_log_id == world.logs[-1]["id"]
    # Every log keeps its id, type, timestamps, tokens, quota and `other`, byte for byte.
    assert _all_logs(db) == [_expected_entry(row) for row in world.logs]
    assert _stored_buckets(db) == _expected_buckets(world)
    assert report.history_buckets > 0


def test_imported_credentials_keep_working(
    db: Database, source: NewApiSource, world: NewApiWorld, app_client: TestClient
) -> None:
    assert adoption.import_newapi(db, source).verified
    users_by_name = {row["username"]: row for row in world.users}
    live = [row for row in world.users if row["deleted_at"] is None and row["status"] == 1]
    for row in live:
        if row["plain_password"]:
            login = app_client.post(
                "/api/user/login", json={"username": row["username"], "password": row["plain_password"]}
            )
            assert login.json()["success"], (row["username"], login.json())
            assert app_client.get("/api/user/self").json()["data"]["id"] == row["id"]
            app_client.get("/api/user/logout")
        if row["plain_access_token"]:
            headers = {"Authorization": row["plain_access_token"], "New-Api-User": str(row["id"])}
            me = app_client.get("/api/user/self", headers=headers).json()
            assert me["success"] and me["data"]["username"] == row["username"], me

    deleted = next(row for row in world.users if row["deleted_at"] is not None)
    refused = app_client.post(
        "/api/user/login", json={"username": deleted["username"], "password": deleted["plain_password"]}
    )
    assert refused.status_code == 401
    assert app_client.get("/api/user/self", headers={"Authorization": deleted["plain_access_token"]}).status_code == 401
    disabled = next(row for row in world.users if row["status"] == 2 and row["deleted_at"] is None)
    answer = app_client.get("/api/user/self", headers={"Authorization": disabled["plain_access_token"]})
    assert answer.status_code == 403

    owners = {row["id"]: row for row in world.users}
    usable = [
        row
        for row in world.tokens
        if row["deleted_at"] is None
        and row["status"] == 1
        and row["expired_time"] == -1
        and owners[row["user_id"]]["status"] == 1
        and owners[row["user_id"]]["deleted_at"] is None
    ]
    assert usable
    for row in usable:
        key = "sk-" + row["key"]
        own = app_client.get("/api/log/token", headers={"Authorization": f"Bearer {key}"}).json()
        assert own["success"], own
        expected = sorted((log["id"] for log in world.logs if log["token_id"] == row["id"]), reverse=True)
        assert len(own["data"]) == len(expected)
        page = app_client.get("/api/log/self", headers={"Authorization": f"Bearer {key}"}).json()["data"]
        owner_logs = [log for log in world.logs if log["user_id"] == row["user_id"]]
        assert page["total"] == len(owner_logs)
    for row in (row for row in world.tokens if row["deleted_at"] is not None):
        gone = app_client.get("/api/log/token", headers={"Authorization": f"Bearer sk-{row['key']}"})
        assert gone.status_code == 401

    root = users_by_name["root"]
    admin_headers = {"Authorization": root["plain_access_token"], "New-Api-User": "1"}
    listed = app_client.get("/api/log/", params={"page_size": 100}, headers=admin_headers).json()["data"]
    assert listed["total"] == len(world.logs)
    names = {row["id"]: row["name"] for row in world.channels}
    for item in listed["items"]:
        assert item["channel_name"] == names.get(item["channel"], ""), item
    stat = app_client.get("/api/log/stat", headers=admin_headers).json()["data"]
    assert stat["quota"] == sum(row["quota"] for row in world.logs if row["type"] == int(LogType.CONSUME))


class _StopAfter:
    """A progress sink that interrupts the log copy after some batches, as Ctrl-C would."""

    def __init__(self, batches: int) -> None:
        self.batches = batches

    def step(self, label: str, total: int | None) -> Callable[[int], None]:
        def advance(_rows: int) -> None:
            if label == "logs":
                self.batches -= 1
                if self.batches == 0:
                    raise KeyboardInterrupt

        return advance


def test_an_interrupted_import_resumes_without_gaps_or_repeats(
    db: Database, source: NewApiSource, world: NewApiWorld
) -> None:
    with pytest.raises(KeyboardInterrupt):
        adoption.import_newapi(db, source, batch_size=50, progress=_StopAfter(batches=3))
    assert [entry.id for entry in _all_logs(db)] == [row["id"] for row in world.logs[:150]]

    resumed = adoption.import_newapi(db, source, batch_size=50)
    assert resumed.verified, resumed.mismatches
    assert resumed.logs == len(world.logs) - 150
    assert _all_logs(db) == [_expected_entry(row) for row in world.logs]
    assert _stored_buckets(db) == _expected_buckets(world)
    # A third run finds nothing new and changes nothing.
    again = adoption.import_newapi(db, source, batch_size=50)
    assert again.verified and again.logs == 0
    assert _stored_buckets(db) == _expected_buckets(world)


def test_follow_copies_new_and_late_logs(
    db: Database, source: NewApiSource, world: NewApiWorld, source_url: str
) -> None:
    # A log that commits late: its id is taken but the row is not visible when the import passes it.
    late = world.logs[-3]
    engine = create_engine(source_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM logs WHERE id = :id"), {"id": late["id"]})
    assert adoption.import_newapi(db, source).logs == len(world.logs) - 1

    with engine.begin() as conn:
        conn.execute(logs_table.insert().values(**late))
    engine.dispose()
    added = add_logs(source_url, world, 25)

    heard: list[tuple[int, int]] = []
    polls = iter([True, False])
    adoption.follow_newapi(
        db,
        source,
        interval=0,
        keep_going=lambda: next(polls),
        on_copied=lambda rows, last: heard.append((rows, last)),
        sleep=lambda _seconds: None,
    )
    assert heard == [(len(added) + 1, added[-1]["id"])]
    assert _all_logs(db) == [_expected_entry(row) for row in sorted(world.logs, key=lambda row: row["id"])]
    assert _stored_buckets(db) == _expected_buckets(world)
    assert adoption.verify(db, source, added[-1]["id"], skipped_keys=0) == []


def test_a_target_with_data_of_its_own_is_refused(db: Database, source: NewApiSource) -> None:
    root_account(db)
    make_user(db, "someone-else")
    with pytest.raises(Conflict, match="already holds users"):
        adoption.import_newapi(db, source)


def test_the_first_starts_root_gives_way_to_the_sources(db: Database, source: NewApiSource, world: NewApiWorld) -> None:
    root_account(db)
    assert adoption.import_newapi(db, source).verified
    source_root = next(row for row in world.users if row["id"] == 1)
    with db.read() as conn:
        stored = users.get(conn, 1)
    assert stored is not None and stored.username == source_root["username"]
    assert auth.authenticate(db, auth.RequestCredentials(authorization=source_root["plain_access_token"]))


def test_logs_in_a_separate_source_database(databases: Databases, tmp_path: Path, db: Database) -> None:
    main_url = _new_database(databases, "mysql", tmp_path, "newapi_main")
    log_url = _new_database(databases, "postgresql", tmp_path, "newapi_logs")
    world = create_newapi_database(main_url, log_url=log_url, logs=120)
    split_source = NewApiSource(main_url, log_url)
    split_source.open()
    try:
        report = adoption.import_newapi(db, split_source)
    finally:
        split_source.dispose()
    assert report.verified and report.logs == 120
    assert _all_logs(db) == [_expected_entry(row) for row in world.logs]


def _go_dsn(url: str) -> str:
    """New API's own form of a MySQL URL."""
    parsed = make_url(url)
    password = f":{parsed.password}" if parsed.password else ""
    return f"{parsed.username}{password}@tcp({parsed.host}:{parsed.port or 3306})/{parsed.database}?parseTime=true"


def test_command_line_import_with_new_apis_own_dsn(
    databases: Databases, tmp_path: Path, db_urls: DatabaseUrls, db: Database
) -> None:
    source_url = _new_database(databases, "mysql", tmp_path, "newapi_cli")
    world = create_newapi_database(source_url, logs=200)
    args = ["import", "newapi", "--from", _go_dsn(source_url), "--db", db_urls.core, "--batch-size", "64"]
    if db_urls.logs:
        args += ["--log-db", db_urls.logs]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{len(world.logs)} logs" in result.output
    assert "verified" in result.output
    assert [entry.id for entry in _all_logs(db)] == [row["id"] for row in world.logs]


def test_command_line_refuses_a_database_that_is_not_new_apis(tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.db"
    create_engine(f"sqlite:///{stranger}").connect().close()
    result = CliRunner().invoke(main, ["import", "newapi", "--from", f"sqlite:///{stranger}", "--db", "sqlite://"])
    assert result.exit_code == 1
    assert result.output.startswith("error: --from (sqlite:///")
    assert "has no 'users' table" in result.output
