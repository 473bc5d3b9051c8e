"""The data endpoints' JSON, written by the database, says exactly what the typed buckets say: the same
buckets in the same order with the same keys, numbers beyond 32 bits, and names JSON must escape, for
all users, one user and one username, on every backend."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tokenledger.domain.usage import UsageBucket
from tokenledger.store import usage
from tokenledger.store.database import Database

HOUR = 3600
FIRST_HOUR = 1_790_899_200
BIG = 5_000_000_000
MODELS = ("gpt-4o", 'quo"ted', "back\\slash", "模型-ünï", "rocket 🚀", "tab\tnew\nline", "bell\x07")


def _buckets(rng: random.Random) -> list[UsageBucket]:
    found = {}
    for _ in range(120):
        user = rng.randint(1, 4)
        model = rng.choice(MODELS)
        hour = FIRST_HOUR + rng.randrange(48) * HOUR
        found[(user, model, hour)] = UsageBucket(
            model_name=model,
            created_at=hour,
            count=rng.randint(1, 40),
            quota=rng.choice((rng.randint(0, 10_000), BIG)),
            token_used=rng.randint(0, 90_000),
            user_id=user,
            # Users 3 and 4 logged under one name.
            username="shared" if user >= 3 else f"user{user}",
        )
    return list(found.values())


def _as_wire(bucket: UsageBucket) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model_name": bucket.model_name,
        "created_at": bucket.created_at,
        "count": bucket.count,
        "quota": bucket.quota,
        "token_used": bucket.token_used,
    }
    if bucket.username is not None:
        row["user_id"] = bucket.user_id
        row["username"] = bucket.username
    return row


@pytest.mark.parametrize(
    "who",
    [{}, {"user_id": 2}, {"username": "shared"}, {"username": "nobody"}],
    ids=["all users", "user", "shared username", "unknown username"],
)
def test_bucket_json_equals_the_typed_buckets(db: Database, who: dict[str, Any]) -> None:
    with db.write_logs() as conn:
        usage.add_buckets(conn, _buckets(random.Random(5)))
    windows = [(0, 0), (FIRST_HOUR + 3 * HOUR, FIRST_HOUR + 20 * HOUR), (FIRST_HOUR + 47 * HOUR, 0)]
    with db.read_logs() as conn:
        for start, end in windows:
            typed = usage.list_buckets(conn, start, end, **who)
            text = usage.buckets_json(conn, start, end, **who)
            # json.loads keeps the keys' order: compare it too.
            assert [list(row.items()) for row in json.loads(text)] == [
                list(_as_wire(bucket).items()) for bucket in typed
            ], (start, end)
            if who.get("username") != "nobody" and start == 0:
                assert typed, "the window holds buckets"
