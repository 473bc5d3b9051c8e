"""Demo data: the requested volume, reproducible from a seed, internally consistent (prices, users, keys,
channels, hourly usage) and safe to run twice."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.backends import Databases, DatabaseUrls
from tokenledger.domain import credentials
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.domain.user import DEFAULT_GROUP, Role
from tokenledger.services import demo
from tokenledger.store import apikeys, channels, logs, migrate, usage, users
from tokenledger.store.database import Database

NOW = 1_760_000_000  # fixed, so every run of a seed produces the same rows
ROWS = 3_000
ALL = 10**9  # a limit above any row count used here

Seeded = tuple[Database, demo.DemoSummary, list[LogEntry]]


def _database(urls: DatabaseUrls) -> Database:
    database = Database(urls.core, urls.logs)
    migrate.upgrade(database)
    return database


def _all_logs(db: Database) -> list[LogEntry]:
    """Every log row in insertion (id) order."""
    with db.read_logs() as conn:
        return sorted(logs.list_recent(conn, LogFilters(), ALL), key=lambda entry: entry.id)


def _without_ids(entries: list[LogEntry]) -> list[LogEntry]:
    return [replace(entry, id=0) for entry in entries]


@pytest.fixture(scope="module")
def seeded(backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One demo database per backend, shared by the tests that only read it."""
    database = _database(databases.fresh(backend, tmp_path_factory.mktemp("demo") / "seeded.db"))
    summary = demo.seed_demo(database, rows=ROWS, seed=7, now=NOW)
    yield database, summary, _all_logs(database)
    database.dispose()


def test_seeding_inserts_exactly_the_requested_rows_and_reports_what_it_created(
    seeded: Seeded,
) -> None:
    db, summary, entries = seeded
    assert summary.logs == len(entries) == ROWS
    with db.read() as conn:
        assert users.count_all(conn) == summary.users
        user_ids = sorted({entry.user_id for entry in entries})
        assert len(apikeys.list_for_users(conn, list(range(1, summary.users + 1)))) == summary.keys
        assert len(channels.names(conn)) == summary.channels
        sample = users.get_by_username(conn, summary.sample_username)
        assert summary.sample_key is not None
        key = apikeys.get_by_digest(conn, credentials.digest(summary.sample_key))
        roles = Counter(user.role for user in (users.get(conn, uid) for uid in user_ids) if user)
    assert 30 <= summary.users <= 40
    assert summary.users <= summary.keys <= 3 * summary.users
    assert summary.channels >= 6
    assert sample is not None
    assert credentials.verify_password(summary.sample_password, sample.password_hash)
    assert summary.sample_password == demo.DEMO_PASSWORD
    assert key is not None and key.user_id == sample.id
    assert roles[Role.COMMON] > 25
    assert 1 <= roles[Role.ADMIN] <= 2


def test_the_same_seed_and_now_give_identical_rows(seeded: Seeded, db: Database) -> None:
    _, _, entries = seeded
    demo.seed_demo(db, rows=ROWS, seed=7, now=NOW)
    assert _without_ids(_all_logs(db)) == _without_ids(entries)


def test_another_seed_gives_other_rows(db: Database, seeded: Seeded) -> None:
    _, _, entries = seeded
    demo.seed_demo(db, rows=ROWS, seed=8, now=NOW)
    different = _without_ids(_all_logs(db))
    assert len(different) == ROWS
    same_position = sum(a == b for a, b in zip(different, _without_ids(entries), strict=True))
    assert same_position < ROWS // 100


def test_rows_lie_in_the_30_days_before_now_and_are_inserted_oldest_first(
    seeded: Seeded,
) -> None:
    _, _, entries = seeded
    times = [entry.created_at for entry in entries]
    assert all(NOW - 30 * 86_400 <= t < NOW for t in times)
    assert times == sorted(times)
    # The month is covered, not a corner of it.
    assert times[0] < NOW - 28 * 86_400
    assert times[-1] > NOW - 86_400


def test_working_hours_are_busier_than_the_night(seeded: Seeded) -> None:
    _, _, entries = seeded
    by_hour = Counter(entry.created_at // 3600 % 24 for entry in entries)
    working = sum(by_hour[h] for h in range(9, 17)) / 8
    night = sum(by_hour[h] for h in range(0, 6)) / 6
    assert working > 3 * night


def test_consume_quota_follows_the_ratios_in_other(seeded: Seeded) -> None:
    db, _, entries = seeded
    consume = [entry for entry in entries if entry.type == LogType.CONSUME]
    assert consume
    with db.read() as conn:
        served = {channel_id: channels.get(conn, channel_id) for channel_id in channels.names(conn)}
    for entry in consume:
        other = json.loads(entry.other)
        mr, cr, gr = other["model_ratio"], other["completion_ratio"], other["group_ratio"]
        assert entry.quota == round((entry.prompt_tokens + entry.completion_tokens * cr) * mr * gr)
        assert entry.quota > 0
        assert entry.content == f"model ratio {mr:.2f}, completion ratio {cr:.2f}, group ratio {gr:.2f}"
        assert other["admin_info"] == {"use_channel": [str(entry.channel)]}
        assert ("frt" in other) == entry.is_stream
        channel = served[entry.channel]
        assert channel is not None and entry.model_name in channel.models.split(",")
        assert entry.prompt_tokens > 0
        assert len(entry.request_id) == 32
    assert len({entry.model_name for entry in consume}) >= 15
    assert len({entry.request_id for entry in consume}) == len(consume)


def test_the_type_mix_is_mostly_consume_with_some_errors_and_top_ups(
    seeded: Seeded,
) -> None:
    _, _, entries = seeded
    kinds = Counter(entry.type for entry in entries)
    assert 0.90 < kinds[LogType.CONSUME] / ROWS < 0.96
    assert 0.02 < kinds[LogType.ERROR] / ROWS < 0.06
    assert 0 < kinds[LogType.TOPUP] / ROWS < 0.03
    assert kinds[LogType.MANAGE] > 0 and kinds[LogType.SYSTEM] > 0
    assert set(kinds) == {LogType.CONSUME, LogType.ERROR, LogType.TOPUP, LogType.MANAGE, LogType.SYSTEM}
    for entry in entries:
        if entry.type == LogType.ERROR:
            assert entry.quota == 0 and entry.model_name and entry.channel and entry.content
        if entry.type == LogType.TOPUP:
            assert entry.quota > 0
    streams = [entry.is_stream for entry in entries if entry.type == LogType.CONSUME]
    assert 0.55 < sum(streams) / len(streams) < 0.8


def test_usage_is_skewed_towards_a_few_users_and_models(
    seeded: Seeded,
) -> None:
    _, _, entries = seeded
    consume = [entry for entry in entries if entry.type == LogType.CONSUME]
    by_user = Counter(entry.username for entry in consume).most_common()
    assert sum(count for _, count in by_user[:5]) > 0.4 * len(consume)
    by_model = Counter(entry.model_name for entry in consume).most_common()
    assert by_model[0][1] > 5 * by_model[-1][1]


def test_each_log_belongs_to_its_user_and_one_of_their_keys(
    seeded: Seeded,
) -> None:
    db, _, entries = seeded
    with db.read() as conn:
        owners = {uid: users.get(conn, uid) for uid in {entry.user_id for entry in entries}}
        keys = {key.id: key for key in apikeys.list_for_users(conn, list(owners))}
    for entry in entries:
        owner = owners[entry.user_id]
        assert owner is not None
        assert entry.username == owner.username
        assert entry.group == owner.group
        if entry.type in (LogType.CONSUME, LogType.ERROR):
            key = keys[entry.token_id]
            assert key.user_id == entry.user_id and key.name == entry.token_name
            assert entry.ip.startswith(("10.", "192.168.", "172."))
        else:
            assert entry.token_id == 0 and entry.channel == 0


def test_hourly_usage_sums_equal_the_consume_rows(seeded: Seeded) -> None:
    db, _, entries = seeded
    consume = [entry for entry in entries if entry.type == LogType.CONSUME]
    with db.read_logs() as conn:
        buckets = usage.list_buckets(conn, 0, 0)
    assert sum(b.count for b in buckets) == len(consume)
    assert sum(b.quota for b in buckets) == sum(entry.quota for entry in consume)
    assert sum(b.token_used for b in buckets) == sum(entry.total_tokens for entry in consume)


def test_users_and_keys_count_the_consumption_of_their_logs(
    seeded: Seeded,
) -> None:
    db, _, entries = seeded
    consume = [entry for entry in entries if entry.type == LogType.CONSUME]
    quota_by_user = Counter[int]()
    quota_by_key = Counter[int]()
    for entry in consume:
        quota_by_user[entry.user_id] += entry.quota
        quota_by_key[entry.token_id] += entry.quota
    with db.read() as conn:
        for user_id, quota in quota_by_user.items():
            user = users.get(conn, user_id)
            assert user is not None and user.used_quota == quota
        keys = apikeys.list_for_users(conn, list(quota_by_user))
    assert {key.id: key.used_quota for key in keys if key.used_quota} == dict(quota_by_key)


def test_progress_is_called_after_each_batch_and_sums_to_the_rows(db: Database) -> None:
    calls: list[int] = []
    demo.seed_demo(db, rows=demo.BATCH_SIZE + 7, seed=1, now=NOW, progress=calls.append)
    assert calls == [demo.BATCH_SIZE, 7]


def test_a_second_run_reuses_users_keys_and_channels_and_only_adds_logs(db: Database) -> None:
    first = demo.seed_demo(db, rows=500, seed=3, now=NOW)
    with db.read() as conn:
        user_count = users.count_all(conn)
        channel_count = len(channels.names(conn))
    second = demo.seed_demo(db, rows=500, seed=3, now=NOW + 3600)
    with db.read() as conn:
        assert users.count_all(conn) == user_count
        assert len(channels.names(conn)) == channel_count
        key_count = len(apikeys.list_for_users(conn, list(range(1, user_count + 1))))
    assert (second.users, second.keys, second.channels, second.sample_key) == (0, 0, 0, None)
    assert first.keys == key_count
    assert second.sample_username == first.sample_username
    assert len(_all_logs(db)) == 1000


def test_an_existing_user_keeps_its_password_and_group(db: Database) -> None:
    with db.write() as conn:
        alice = users.insert_user(
            conn,
            username="alice",
            password_hash=credentials.hash_password("alice's own password"),
            display_name="Alice",
            role=int(Role.COMMON),
            quota=0,
            group="svip",
            created_at=NOW - 100 * 86_400,
        )
    summary = demo.seed_demo(db, rows=2_000, seed=5, now=NOW)
    with db.read() as conn:
        stored = users.get(conn, alice.id)
    assert stored is not None and stored.password_hash == alice.password_hash
    mine = [entry for entry in _all_logs(db) if entry.user_id == alice.id]
    assert mine and all(entry.group == "svip" and entry.username == "alice" for entry in mine)
    assert all(json.loads(e.other)["group_ratio"] == demo.GROUP_RATIOS["svip"] for e in mine if e.type == 2)
    assert summary.users == 35  # alice was not created again
    assert DEFAULT_GROUP in demo.GROUP_RATIOS


def test_zero_rows_creates_accounts_only(db: Database) -> None:
    calls: list[int] = []
    summary = demo.seed_demo(db, rows=0, seed=1, now=NOW, progress=calls.append)
    assert summary.logs == 0 and calls == []
    assert summary.users > 0 and summary.sample_key is not None
    assert _all_logs(db) == []
