"""GET /api/usage (admin) and /api/usage/self [ext]: every bucket and group metric equals the sums computed
here from the ingested rows, for groupings answered by log_rollups and by usage_hourly, in several zones and
bucket sizes; self routes see only the caller's (or the key's) usage; usage outlives deleted logs."""

from __future__ import annotations

import calendar
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import Ingest, data_of, failure, login_client, page
from tests.factories import Account, make_key, record
from tokenledger.app import create_app
from tokenledger.domain import timestamps, timezones
from tokenledger.settings import Settings
from tokenledger.store.database import Database

USAGE = "/api/usage"
SELF = "/api/usage/self"
HOUR = 3600
DAY = 86_400
METRICS = ("requests", "successes", "failures", "prompt_tokens", "completion_tokens", "total_tokens", "quota")
# 2026-10-30 00:00Z .. 2026-11-03 00:00Z: New York falls back on 2026-11-01; Shanghai's midnights are 16:00Z.
START = calendar.timegm((2026, 10, 30, 0, 0, 0))
END = START + 4 * DAY
MODELS = ("gpt-4o", "claude-3", "gemini-1.5")
TYPES = (2,) * 14 + (5,) * 3 + (1, 3, 6)

Record = dict[str, Any]
Keep = Callable[[Record], bool]


class World:
    """The ingested rows and who is who."""

    def __init__(self, root: Account, alice: Account, bob: Account, channels: dict[int, str]) -> None:
        self.accounts = {account.id: account for account in (root, alice, bob)}
        self.channels = channels
        self.records: list[Record] = []


def _build(client: TestClient, db: Database, root: Account, alice: Account, bob: Account, ingest: Ingest) -> World:
    channels = {}
    for name in ("east", "west"):
        created = data_of(client.post("/api/channel/", json={"name": name, "key": "sk-up"}, headers=root.headers))
        channels[int(created["id"])] = name
    make_key(db, alice, "a-prod")
    make_key(db, alice, "a-dev")
    make_key(db, bob, "b-main")
    world = World(root, alice, bob, channels)
    # (account, key id, logged key name); a-dev was logged under an older name during the first two days.
    keys = [
        (alice, alice.keys["a-prod"][0], "a-prod"),
        (alice, alice.keys["a-dev"][0], "a-dev"),
        (bob, bob.keys["b-main"][0], "b-main"),
        (bob, 0, ""),
        (root, 0, ""),
    ]
    rng = random.Random(20261101)
    edges = [START, START + HOUR - 1, START + 16 * HOUR, START + 16 * HOUR - 1, END - 1]
    edges += [calendar.timegm((2026, 11, 1, hour, 0, 0)) + second for hour in (4, 5, 6) for second in (0, 3599)]
    times = edges + [START + rng.randrange(END - START) for _ in range(300)]
    for index, created_at in enumerate(times):
        account, token_id, token_name = keys[index % len(keys)] if index < 40 else rng.choice(keys)
        if token_name == "a-dev" and created_at < START + 2 * DAY:
            token_name = "a-dev-old"
        world.records.append(
            record(
                account,
                created_at=created_at,
                type=rng.choice(TYPES),
                model_name=rng.choice(MODELS),
                token_id=token_id,
                token_name=token_name,
                channel=rng.choice([*channels, 7]),
                group=rng.choice(("default", "vip")),
                quota=rng.randrange(0, 5000),
                prompt_tokens=rng.randrange(0, 900),
                completion_tokens=rng.randrange(0, 400),
            )
        )
    # A chunked ingest, so that hours are summed across batches too.
    for start in range(0, len(world.records), 100):
        ingest(world.records[start : start + 100])
    return world


@pytest.fixture
def world(client: TestClient, db: Database, root: Account, alice: Account, bob: Account, ingest: Ingest) -> World:
    return _build(client, db, root, alice, bob, ingest)


# --- the expectation, computed from the raw rows --------------------------------------------------------


def _label(hour: int, bucket: str, zone: tzinfo) -> str:
    local = datetime.fromtimestamp(hour, zone)
    if bucket == "hour":
        return local.isoformat(timespec="minutes")
    if bucket == "day":
        return local.date().isoformat()
    if bucket == "week":
        return (local.date() - timedelta(days=local.weekday())).isoformat()
    return local.strftime("%Y-%m")


def _key_names(rows: list[Record]) -> dict[int, str]:
    """Each key's name in the latest hour counted (ties: the greater name)."""
    latest: dict[int, tuple[int, str]] = {}
    for row in rows:
        seen = (row["created_at"] - row["created_at"] % HOUR, row["token_name"])
        latest[row["token_id"]] = max(latest.get(row["token_id"], seen), seen)
    return {token_id: name for token_id, (_hour, name) in latest.items()}


def _group(row: Record, dim: str, world: World, key_names: dict[int, str], admin: bool) -> tuple[Any, ...]:
    if dim == "model":
        return (row["model_name"],)
    if dim in ("key", "token"):
        return (row["token_id"], key_names[row["token_id"]])
    if dim == "channel":
        return (row["channel"], world.channels.get(row["channel"], "")) if admin else (row["channel"],)
    if dim == "group":
        return (row["group"],)
    if dim == "user":
        return (row["user_id"], world.accounts[row["user_id"]].username)
    return (row["type"],)


def expected(
    world: World,
    params: dict[str, str],
    first_hour: int,
    end_hour: int,
    keep: Keep = lambda row: True,
    admin: bool = True,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """(bucket_label, group values…) → metrics, summed in Python over the rows the query counts."""
    zone = timezones.parse(params.get("tz"))
    bucket = params.get("bucket", "day")
    group_by = [dim for dim in params.get("group_by", "").split(",") if dim]
    if params.get("type", "0") != "0":
        types: set[int] | None = {int(params["type"])}
    elif "type" in group_by:
        types = None
    else:
        types = {2, 5}
    rows = [
        row
        for row in world.records
        if first_hour <= row["created_at"] - row["created_at"] % HOUR < end_hour
        and (types is None or row["type"] in types)
        and keep(row)
    ]
    key_names = _key_names(rows)
    sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(METRICS, 0))
    for row in rows:
        cell = (_label(row["created_at"] - row["created_at"] % HOUR, bucket, zone),)
        for dim in group_by:
            cell += _group(row, dim, world, key_names, admin)
        metrics = sums[cell]
        metrics["requests"] += 1
        metrics["successes"] += row["type"] == 2
        metrics["failures"] += row["type"] == 5
        metrics["prompt_tokens"] += row["prompt_tokens"]
        metrics["completion_tokens"] += row["completion_tokens"]
        metrics["total_tokens"] += row["prompt_tokens"] + row["completion_tokens"]
        metrics["quota"] += row["quota"]
    return dict(sums)


GROUP_FIELDS = {
    "model": ("model_name",),
    "key": ("key_id", "key_name"),
    "token": ("key_id", "key_name"),
    "channel": ("channel", "channel_name"),
    "group": ("group",),
    "user": ("user_id", "username"),
    "type": ("type",),
}


def answered(payload: dict[str, Any], params: dict[str, str], admin: bool = True) -> dict[tuple[Any, ...], Any]:
    """The payload's items keyed like `expected`, after checking their order, shape and totals."""
    group_by = [dim for dim in params.get("group_by", "").split(",") if dim]
    fields = [name for dim in group_by for name in GROUP_FIELDS[dim] if admin or name != "channel_name"]
    items = payload["items"]
    order = [(item["bucket_start"], *(item[name] for name in fields)) for item in items]
    assert order == sorted(order), "items are ordered by bucket_start, then group values"
    starts: dict[str, int] = {}
    found = {}
    for item in items:
        assert set(item) == {"bucket_start", "bucket_label", *fields, *METRICS}, item
        assert starts.setdefault(item["bucket_label"], item["bucket_start"]) == item["bucket_start"]
        cell = (item["bucket_label"], *(item[name] for name in fields))
        assert cell not in found, f"{cell} appears twice"
        assert item["requests"] > 0, "empty buckets are omitted"
        found[cell] = {name: item[name] for name in METRICS}
    assert payload["totals"] == {name: sum(item[name] for item in items) for name in METRICS}
    return found


def _window(first_hour: int, end_hour: int) -> dict[str, str]:
    return {"start_timestamp": str(first_hour), "end_timestamp": str(end_hour - 1)}


# --- admin ----------------------------------------------------------------------------------------------

# group_by, bucket, tz: the grouping decides the source (log_rollups scope or usage_hourly).
GROUPINGS = [
    ("", "day", "UTC"),  # scope 0
    ("model", "day", "Asia/Shanghai"),  # scope 5
    ("key", "hour", "America/New_York"),  # scope 2, summed over users
    ("channel", "week", "America/New_York"),  # scope 6
    ("group", "month", "+05:30"),  # scope 7
    ("user", "day", "America/New_York"),  # scope 1
    ("type", "hour", "Asia/Shanghai"),  # scope 0 by type
    ("model,user", "day", "Asia/Kolkata"),  # scope 9
    ("user,token", "day", "UTC"),  # scope 2
    ("user,type", "week", "Asia/Shanghai"),  # scope 1
    ("key,model", "day", "America/New_York"),  # usage_hourly
    ("model,channel", "hour", "UTC"),  # usage_hourly
    ("channel,type", "day", "-03:00"),  # scope 6
    ("group,user", "day", "Asia/Shanghai"),  # usage_hourly
]


def test_admin_usage_equals_sums_over_raw_rows_for_every_grouping(
    client: TestClient, root: Account, world: World
) -> None:
    for group_by, bucket, tz in GROUPINGS:
        params = {"group_by": group_by, "bucket": bucket, "tz": tz, **_window(START, END)}
        payload = data_of(client.get(USAGE, headers=root.headers, params=params))
        assert payload["bucket"] == bucket and payload["start"] == START and payload["end"] == END - 1
        assert payload["tz"] == timezones.label(timezones.parse(tz))
        assert payload["group_by"] == [dim.replace("token", "key") for dim in group_by.split(",") if dim]
        want = expected(world, params, START, END)
        assert want, params
        assert answered(payload, params) == want, params


def test_admin_filters_equal_sums_over_raw_rows(
    client: TestClient, root: Account, alice: Account, bob: Account, world: World
) -> None:
    a_prod = alice.keys["a-prod"][0]
    cases: list[tuple[dict[str, str], Keep]] = [
        ({"group_by": "user", "model_name": "gpt-4o"}, lambda r: r["model_name"] == "gpt-4o"),
        ({"group_by": "model", "user_id": str(alice.id)}, lambda r: r["user_id"] == alice.id),
        ({"group_by": "key", "username": bob.username}, lambda r: r["user_id"] == bob.id),
        ({"group_by": "model", "channel": "2"}, lambda r: r["channel"] == 2),
        ({"group": "vip", "tz": "Asia/Shanghai"}, lambda r: r["group"] == "vip"),
        ({"group_by": "type", "token_id": str(a_prod), "bucket": "hour"}, lambda r: r["token_id"] == a_prod),
        ({"group_by": "user", "type": "1"}, lambda r: True),
        ({"group_by": "model,type", "type": "5", "tz": "America/New_York"}, lambda r: True),
        ({"group_by": "user", "type": "0"}, lambda r: True),
        (
            {"group_by": "channel", "model_name": "claude-3", "group": "default", "user_id": str(alice.id)},
            lambda r: r["model_name"] == "claude-3" and r["group"] == "default" and r["user_id"] == alice.id,
        ),
    ]
    for extra, keep in cases:
        params = {**extra, **_window(START, END)}
        payload = data_of(client.get(USAGE, headers=root.headers, params=params))
        want = expected(world, params, START, END, keep)
        assert want, extra
        assert answered(payload, params) == want, extra


def test_a_ragged_window_widens_to_the_whole_hours_it_touches(client: TestClient, root: Account, world: World) -> None:
    start, end = START + 5 * HOUR + 1234, START + 40 * HOUR + 17
    params = {"group_by": "model", "bucket": "hour", "start_timestamp": str(start * 1000), "end_timestamp": str(end)}
    payload = data_of(client.get(USAGE, headers=root.headers, params=params))
    first, last = START + 5 * HOUR, START + 41 * HOUR
    assert (payload["start"], payload["end"], payload["range"]) == (first, last - 1, None)
    assert answered(payload, params) == expected(world, params, first, last)
    # A window with no whole hour of its own still reads the hour it lies in.
    inside = {"start_timestamp": str(START + 100), "end_timestamp": str(START + 200), "bucket": "hour"}
    assert answered(data_of(client.get(USAGE, headers=root.headers, params=inside)), inside) == expected(
        world, inside, START, START + HOUR
    )


def test_labels_name_channels_keys_and_users(client: TestClient, root: Account, alice: Account, world: World) -> None:
    payload = data_of(
        client.get(USAGE, headers=root.headers, params={"group_by": "channel,key", **_window(START, END)})
    )
    names = {(item["channel"], item["channel_name"]) for item in payload["items"]}
    assert names == {(channel, world.channels.get(channel, "")) for channel in (*world.channels, 7)}
    a_dev = alice.keys["a-dev"][0]
    # The key's latest logged name; before its rename it was logged as a-dev-old.
    late = {(item["key_id"], item["key_name"]) for item in payload["items"]}
    assert (a_dev, "a-dev") in late and (a_dev, "a-dev-old") not in late
    early = _window(START, START + 2 * DAY)
    payload = data_of(client.get(USAGE, headers=root.headers, params={"group_by": "key", **early}))
    assert (a_dev, "a-dev-old") in {(item["key_id"], item["key_name"]) for item in payload["items"]}
    users = data_of(client.get(USAGE, headers=root.headers, params={"group_by": "user", **early}))["items"]
    assert {(item["user_id"], item["username"]) for item in users} == {
        (account.id, account.username) for account in world.accounts.values()
    }


def test_an_unknown_username_answers_no_usage(client: TestClient, root: Account, alice: Account, world: World) -> None:
    for params in ({"username": "nobody"}, {"username": alice.username, "user_id": str(alice.id + 1)}):
        payload = data_of(client.get(USAGE, headers=root.headers, params={**params, **_window(START, END)}))
        assert payload["items"] == [] and payload["totals"]["requests"] == 0, params
    named = data_of(
        client.get(
            USAGE,
            headers=root.headers,
            params={"username": alice.username, "user_id": str(alice.id), **_window(START, END)},
        )
    )
    assert named["totals"]["requests"] > 0


def test_quick_ranges_count_the_local_days_up_to_today(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    now = timestamps.now()
    ingest(
        [
            record(alice, created_at=now - 2 * DAY, quota=1, prompt_tokens=1, completion_tokens=0),
            record(alice, created_at=now - 10 * DAY, quota=10, prompt_tokens=10, completion_tokens=0),
            record(alice, created_at=now - 60 * DAY, quota=100, prompt_tokens=100, completion_tokens=0),
        ]
    )
    quotas = {}
    for name in ("7d", "30d", ""):
        payload = data_of(client.get(USAGE, headers=root.headers, params={"range": name, "tz": "Asia/Shanghai"}))
        assert payload["range"] == (name or "7d")
        assert payload["start"] <= now - 2 * DAY <= payload["end"]
        quotas[name] = payload["totals"]["quota"]
    assert quotas == {"7d": 1, "30d": 11, "": 1}
    # Explicit timestamps win over a range.
    payload = data_of(
        client.get(USAGE, headers=root.headers, params={"range": "today", "start_timestamp": str(now - 90 * DAY)})
    )
    assert payload["range"] is None and payload["totals"]["quota"] == 111


def test_validation_failures_say_what_to_fix(client: TestClient, root: Account, alice: Account) -> None:
    cases = [
        ({"group_by": "model,key,user"}, "at most 2"),
        ({"group_by": "color"}, "unknown dimension"),
        ({"bucket": "minute"}, "bucket must be one of"),
        ({"range": "fortnight"}, "range must be one of"),
        ({"tz": "Nowhere/Special"}, "unknown time zone"),
        ({"bucket": "hour", "start_timestamp": "1", "end_timestamp": str(40 * DAY)}, "at most 31 days"),
        ({"start_timestamp": "abc"}, "start_timestamp"),
    ]
    for params, phrase in cases:
        assert phrase in failure(client.get(USAGE, headers=root.headers, params=params)), params
        assert phrase in failure(client.get(SELF, headers=alice.headers, params=params)), params


def test_admin_route_needs_an_admin(client: TestClient, db: Database, alice: Account) -> None:
    assert "insufficient privileges" in failure(client.get(USAGE, headers=alice.headers), 403)
    make_key(db, alice)
    failure(client.get(USAGE, headers=alice.key_headers()), 401)
    failure(client.get(USAGE), 401)
    failure(client.get(SELF), 401)


# --- self -----------------------------------------------------------------------------------------------


def _owned_by(account: Account) -> Keep:
    return lambda row: bool(row["user_id"] == account.id)


def test_self_usage_is_the_callers_own(client: TestClient, alice: Account, bob: Account, world: World) -> None:
    for account in (alice, bob):
        mine = _owned_by(account)
        for group_by, bucket, tz in (
            ("model,key", "day", "Asia/Shanghai"),
            ("channel", "hour", "America/New_York"),
            ("type", "week", "UTC"),
            ("", "month", "+08:00"),
        ):
            params = {"group_by": group_by, "bucket": bucket, "tz": tz, **_window(START, END)}
            payload = data_of(client.get(SELF, headers=account.headers, params=params))
            want = expected(world, params, START, END, mine, admin=False)
            assert want, (account.username, params)
            assert answered(payload, params, admin=False) == want
        # Admin-only filters never widen or change the scope.
        base = {"group_by": "model", **_window(START, END)}
        own = data_of(client.get(SELF, headers=account.headers, params=base))
        other = bob if account is alice else alice
        for extra in ({"user_id": str(other.id)}, {"username": other.username}):
            assert data_of(client.get(SELF, headers=account.headers, params={**base, **extra})) == own
        # Another user's key id selects nothing of theirs.
        other_key = next(iter(other.keys.values()))[0]
        filtered = data_of(client.get(SELF, headers=account.headers, params={**base, "token_id": str(other_key)}))
        assert filtered["items"] == []


def test_self_refuses_grouping_by_user(client: TestClient, alice: Account, world: World) -> None:
    for group_by in ("user", "model,user"):
        message = failure(client.get(SELF, headers=alice.headers, params={"group_by": group_by}))
        assert "group_by=user is for admins" in message


def test_self_with_a_session_or_an_api_key_in_account_scope(client: TestClient, alice: Account, world: World) -> None:
    params = {"group_by": "key", "tz": "Asia/Shanghai", **_window(START, END)}
    by_token = data_of(client.get(SELF, headers=alice.headers, params=params))
    assert answered(by_token, params, admin=False) == expected(
        world, params, START, END, lambda r: r["user_id"] == alice.id, admin=False
    )
    assert len({item["key_id"] for item in by_token["items"]}) == 2
    assert data_of(client.get(SELF, headers=alice.key_headers("a-prod"), params=params)) == by_token
    assert data_of(login_client(client, alice).get(SELF, params=params)) == by_token
    a_dev = alice.keys["a-dev"][0]
    one_key = data_of(client.get(SELF, headers=alice.key_headers("a-prod"), params={**params, "token_id": str(a_dev)}))
    assert {item["key_id"] for item in one_key["items"]} == {a_dev}


def test_api_key_log_scope_token_limits_a_key_to_its_own_usage(
    settings: Settings, db: Database, alice: Account, world: World
) -> None:
    a_prod, a_dev = alice.keys["a-prod"][0], alice.keys["a-dev"][0]
    with TestClient(create_app(settings.model_copy(update={"api_key_log_scope": "token"}), db)) as scoped:
        for group_by in ("", "model,type", "key"):
            params = {"group_by": group_by, "bucket": "hour", "tz": "America/New_York", **_window(START, END - 2 * DAY)}
            payload = data_of(scoped.get(SELF, headers=alice.key_headers("a-prod"), params=params))
            want = expected(world, params, START, END - 2 * DAY, lambda r: r["token_id"] == a_prod, admin=False)
            assert want and answered(payload, params, admin=False) == want, params
        # Asking for the owner's other key does not escape the scope.
        other = data_of(
            scoped.get(
                SELF,
                headers=alice.key_headers("a-prod"),
                params={"group_by": "key", "token_id": str(a_dev), **_window(START, END)},
            )
        )
        assert {item["key_id"] for item in other["items"]} == {a_prod}
        # An access token still sees the whole account.
        account = data_of(scoped.get(SELF, headers=alice.headers, params={"group_by": "key", **_window(START, END)}))
        assert {item["key_id"] for item in account["items"]} == {a_prod, a_dev}


# --- usage history --------------------------------------------------------------------------------------


def test_usage_survives_deleting_the_logs(client: TestClient, root: Account, alice: Account, world: World) -> None:
    queries = [
        (USAGE, root.headers, {"group_by": "model,user", "tz": "Asia/Shanghai", **_window(START, END)}),
        (USAGE, root.headers, {"group_by": "key,channel", "bucket": "week", **_window(START, END)}),
        (SELF, alice.headers, {"group_by": "type", "bucket": "hour", **_window(START, END)}),
    ]
    before = [data_of(client.get(path, headers=headers, params=params)) for path, headers, params in queries]
    assert all(payload["items"] for payload in before)
    data_of(client.delete("/api/log/", headers=root.headers, params={"target_timestamp": END}))
    assert page(client, "/api/log/", root.headers)["total"] == 0
    after = [data_of(client.get(path, headers=headers, params=params)) for path, headers, params in queries]
    assert after == before
