"""quota_data_models, what an admin's hourly data for all users reads, always equals quota_data summed over
users: after logs are written in several transactions, after imported history is added (also into hours
the logs already fill), for every time window, and when a database holding quota_data is upgraded."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, func, insert, select

from tests.backends import DatabaseUrls
from tests.store.samples import MODELS, SPAN, START, sample_entries, windows
from tokenledger.domain.usage import UsageBucket
from tokenledger.store import logs, migrate, usage
from tokenledger.store.database import Database
from tokenledger.store.schema import quota_data, quota_data_models

HOUR = 3600
FIRST_HOUR = START - START % HOUR
BIG = 3_000_000_000  # beyond 32 bits, summed over several users


def _reference(conn: Connection, start: int, end: int) -> list[UsageBucket]:
    """quota_data summed over users per model and hour, by a GROUP BY over every user's row."""
    conditions = []
    if start:
        conditions.append(quota_data.c.created_at >= start)
    if end:
        conditions.append(quota_data.c.created_at <= end)
    query = (
        select(
            quota_data.c.model_name,
            quota_data.c.created_at,
            func.sum(quota_data.c.count).label("count"),
            func.sum(quota_data.c.quota).label("quota"),
            func.sum(quota_data.c.token_used).label("token_used"),
        )
        .where(*conditions)
        .group_by(quota_data.c.model_name, quota_data.c.created_at)
        .order_by(quota_data.c.created_at, quota_data.c.model_name)
    )
    return [
        UsageBucket(
            model_name=row["model_name"],
            created_at=row["created_at"],
            count=int(row["count"]),
            quota=int(row["quota"]),
            token_used=int(row["token_used"]),
        )
        for row in conn.execute(query).mappings()
    ]


def _windows(rng: random.Random) -> list[tuple[int, int]]:
    """The sample windows, plus windows whose edges fall exactly on hour starts (both edges inclusive)."""
    return [
        *windows(rng),
        (FIRST_HOUR + 5 * HOUR, FIRST_HOUR + 5 * HOUR),  # exactly one hour
        (FIRST_HOUR + 2 * HOUR, FIRST_HOUR + 30 * HOUR),
        (FIRST_HOUR + 40 * HOUR, 0),
        (0, FIRST_HOUR + 20 * HOUR),
        (FIRST_HOUR - 100 * HOUR, FIRST_HOUR - HOUR),  # before every row
    ]


def _assert_summed_match(db: Database, rng: random.Random) -> None:
    with db.read_logs() as conn:
        everything = usage.list_buckets(conn, 0, 0)
        assert len(everything) > len(MODELS)
        assert [(b.created_at, b.model_name) for b in everything] == sorted(
            (b.created_at, b.model_name) for b in everything
        )
        for start, end in _windows(rng):
            assert usage.list_buckets(conn, start, end) == _reference(conn, start, end), (start, end)


def _imported(rng: random.Random) -> list[UsageBucket]:
    """History of several users, some in hours and models the logs fill, some in hours before them."""
    buckets = {}
    for _ in range(150):
        user = rng.randint(1, 9)
        model = rng.choice((*MODELS, "Imported-Model", "gpt-4o-2024"))
        hour = FIRST_HOUR + rng.randrange(-48, 72) * HOUR
        buckets[(user, model, hour)] = UsageBucket(
            model_name=model,
            created_at=hour,
            count=rng.randint(1, 50),
            quota=rng.choice((rng.randint(0, 100_000), BIG)),
            token_used=rng.randint(0, 90_000),
            user_id=user,
            username=f"user{user}",
        )
    return list(buckets.values())


def test_summed_buckets_equal_quota_data_summed_over_users(db: Database) -> None:
    rng = random.Random(11)
    entries = sample_entries(rng, 1200)
    with db.write_logs() as conn:
        for start in range(0, 600, 150):
            logs.insert_logs(conn, entries[start : start + 150])
    # Later transactions add to the rows earlier ones created.
    with db.write_logs() as conn:
        logs.insert_logs(conn, entries[600:])
    _assert_summed_match(db, rng)

    with db.write_logs() as conn:
        usage.add_buckets(conn, _imported(rng))
    # The same history again: every bucket now adds to an existing row.
    again = _imported(random.Random(12))
    with db.write_logs() as conn:
        usage.add_buckets(conn, again[:70])
    with db.write_logs() as conn:
        usage.add_buckets(conn, again[70:])
    _assert_summed_match(db, rng)

    with db.read_logs() as conn:
        assert conn.execute(select(func.count()).select_from(quota_data_models)).scalar_one() == len(
            _reference(conn, 0, 0)
        )


def test_logs_written_after_imported_history_add_to_it(db: Database) -> None:
    rng = random.Random(13)
    with db.write_logs() as conn:
        usage.add_buckets(conn, _imported(rng))
    with db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(rng, 500, start=START - 24 * HOUR, span=SPAN))
    _assert_summed_match(db, rng)


@pytest.fixture
def fresh_db(fresh_urls: DatabaseUrls) -> Iterator[Database]:
    database = Database(fresh_urls.core, fresh_urls.logs)
    yield database
    database.dispose()


def test_the_upgrade_fills_the_sums_of_the_quota_data_already_stored(fresh_db: Database) -> None:
    """Upgrading a database that already holds quota_data sums it per model and hour (revision 0005)."""
    migrate.upgrade(fresh_db, "0004")
    rng = random.Random(14)
    rows = {}
    for _ in range(400):
        user = rng.randint(1, 8)
        model = rng.choice(MODELS)
        hour = FIRST_HOUR + rng.randrange(48) * HOUR
        rows[(user, model, hour)] = {
            "user_id": user,
            "username": f"user{user}",
            "model_name": model,
            "created_at": hour,
            "count": rng.randint(1, 40),
            "quota": rng.choice((rng.randint(0, 50_000), BIG)),
            "token_used": rng.randint(0, 80_000),
        }
    with fresh_db.write_logs() as conn:
        conn.execute(insert(quota_data), list(rows.values()))
    expected: dict[tuple[int, str], list[int]] = {}
    for row in rows.values():
        sums = expected.setdefault((row["created_at"], row["model_name"]), [0, 0, 0])
        sums[0] += row["count"]
        sums[1] += row["quota"]
        sums[2] += row["token_used"]

    migrate.upgrade(fresh_db)
    with fresh_db.read_logs() as conn:
        stored = usage.list_buckets(conn, 0, 0)
        assert stored == _reference(conn, 0, 0)
    assert {(b.created_at, b.model_name): [b.count, b.quota, b.token_used] for b in stored} == expected
    assert [(b.created_at, b.model_name) for b in stored] == sorted(expected)

    # Later writes keep adding to the filled rows.
    with fresh_db.write_logs() as conn:
        logs.insert_logs(conn, sample_entries(rng, 300))
    _assert_summed_match(fresh_db, rng)
