"""GET /api/log/ (admin) and /api/log/self: filters, paging, cursors, row shape and the user view."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import (
    ADMIN_ROW_KEYS,
    T0,
    Ingest,
    all_cursor_pages,
    all_offset_pages,
    assert_user_view,
    data_of,
    failure,
    newest_first,
    page,
    rids,
)
from tests.factories import Account, make_key, make_user, record
from tokenledger.app import create_app
from tokenledger.settings import Settings
from tokenledger.store.database import Database

ADMIN = "/api/log/"
SELF = "/api/log/self"


def _series(account: Account, count: int, prefix: str = "r", **fields: Any) -> list[dict[str, Any]]:
    """`count` records with unique request ids; pairs share a created_at so the id tie-break matters."""
    return [
        record(account, created_at=T0 + index // 2, request_id=f"{prefix}{index}", quota=10 + index, **fields)
        for index in range(count)
    ]


def _both(root: Account, alice: Account) -> list[tuple[str, dict[str, str]]]:
    return [(ADMIN, root.headers), (SELF, alice.headers)]


# --- order, total, row shape ---------------------------------------------------------------------------------


def test_admin_list_is_newest_first_by_created_at_then_id(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    first_batch = [record(alice if i % 3 else bob, created_at=T0 + i // 2, request_id=f"a{i}") for i in range(9)]
    # A later batch (higher ids) with older rows: order must follow created_at, not insertion.
    second_batch = [record(bob, created_at=T0 - 10 + i // 3, request_id=f"b{i}") for i in range(6)]
    assert ingest(first_batch) == 9
    assert ingest(second_batch) == 6
    payload = page(client, ADMIN, root.headers, page_size=100)
    everything = first_batch + second_batch
    assert payload["total"] == len(everything)
    assert rids(payload["items"]) == rids(newest_first(everything))
    keys = [(row["created_at"], row["id"]) for row in payload["items"]]
    assert keys == sorted(keys, reverse=True)
    assert len({row["id"] for row in payload["items"]}) == len(everything)


def test_admin_row_has_every_field_in_contract_order(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    channel = data_of(
        client.post("/api/channel/", json={"name": "azure-east", "key": "k", "models": "gpt-4o"}, headers=root.headers)
    )
    other = {"model_ratio": 2.5, "frt": 120, "admin_info": {"use_channel": ["3"]}, "audit_info": {"by": "x"}}
    full = record(
        alice,
        created_at=T0 + 5,
        type=2,
        content="full row",
        token_name="laptop",
        model_name="gpt-4o",
        quota=1234,
        prompt_tokens=11,
        completion_tokens=22,
        use_time=3,
        is_stream=True,
        channel=channel["id"],
        token_id=77,
        group="vip",
        ip="10.0.0.1",
        request_id="req-full",
        upstream_request_id="up-full",
        other=json.dumps(other),
    )
    bare = record(alice, created_at=T0, request_id="", upstream_request_id="", channel=999)
    ingest([full, bare])
    first, second = page(client, ADMIN, root.headers)["items"]
    assert list(first) == ADMIN_ROW_KEYS
    assert isinstance(first["id"], int)
    assert first["id"] > 0
    assert isinstance(first["other"], str)
    assert json.loads(first["other"]) == other  # admins see admin_info and audit_info
    expected = {key: value for key, value in full.items() if key != "other"}
    expected |= {"username": "alice", "channel_name": "azure-east"}
    assert {key: first[key] for key in expected} == expected
    assert first["is_stream"] is True
    # Empty request ids are omitted, everything else stays in order.
    assert list(second) == [key for key in ADMIN_ROW_KEYS if key not in ("request_id", "upstream_request_id")]
    assert second["channel"] == 999
    assert second["channel_name"] == ""  # no such channel


def test_self_rows_are_the_user_view(
    client: TestClient, db: Database, root: Account, alice: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    other = {"model_ratio": 2.5, "admin_info": {"use_channel": ["3"]}, "audit_info": {"by": "x"}}
    channel = data_of(client.post("/api/channel/", json={"name": "secret-upstream", "key": "k"}, headers=root.headers))
    ingest(
        [
            record(alice, created_at=T0 + 1, channel=channel["id"], request_id="req-1", other=json.dumps(other)),
            record(alice, created_at=T0, channel=channel["id"], request_id="", upstream_request_id=""),
        ]
    )
    for headers in (alice.headers, alice.key_headers()):
        items = page(client, SELF, headers)["items"]
        assert_user_view(items)
        assert [row["id"] for row in items] == [1, 2]
        assert json.loads(items[0]["other"]) == {"model_ratio": 2.5}
        assert items[0]["channel"] == channel["id"]
        assert items[0]["request_id"] == "req-1"
        assert "upstream_request_id" not in items[0]
        assert "request_id" not in items[1]
        assert "upstream_request_id" not in items[1]


# --- filters ----------------------------------------------------------------------------------------------------


def test_type_filter_selects_exactly_that_type(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    types = [1, 2, 2, 3, 4, 5, 5, 6, 7, 2]
    records = [record(alice, created_at=T0 + i, type=t, request_id=f"t{i}") for i, t in enumerate(types)]
    ingest(records)
    for path, headers in _both(root, alice):
        for log_type in range(1, 8):
            payload = page(client, path, headers, type=log_type, page_size=100)
            expected = newest_first([r for r in records if r["type"] == log_type])
            assert rids(payload["items"]) == rids(expected), (path, log_type)
            assert payload["total"] == len(expected)
        assert page(client, path, headers, type=0, page_size=100)["total"] == len(records)
        for value in ("abc", "2.5", "9", "-1"):
            assert "type" in failure(client.get(path, headers=headers, params={"type": value})), value


def test_time_window_is_inclusive_in_seconds_and_milliseconds(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    records = [record(alice, created_at=T0 + i, request_id=f"s{i}") for i in range(6)]
    ingest(records)
    cases: list[tuple[int | None, int | None, list[int]]] = [
        (T0 + 1, T0 + 3, [1, 2, 3]),
        ((T0 + 1) * 1000, (T0 + 3) * 1000, [1, 2, 3]),
        ((T0 + 1) * 1000 + 999, (T0 + 3) * 1000 + 999, [1, 2, 3]),  # ms round down
        (T0 + 1, (T0 + 3) * 1000 + 1, [1, 2, 3]),  # seconds and ms mixed
        (T0 + 2, T0 + 2, [2]),
        (0, T0 + 2, [0, 1, 2]),
        (T0 + 4, 0, [4, 5]),
        (None, T0 + 1, [0, 1]),
        (T0 + 5, None, [5]),
        (T0 + 6, None, []),
        (99_999_999_999, None, []),  # just below 10^11: seconds, far in the future
        (100_000_000_000, None, [0, 1, 2, 3, 4, 5]),  # 10^11: milliseconds, i.e. 1973
    ]
    for path, headers in _both(root, alice):
        for start, end, expected in cases:
            params: dict[str, Any] = {"page_size": 100}
            if start is not None:
                params["start_timestamp"] = start
            if end is not None:
                params["end_timestamp"] = end
            payload = page(client, path, headers, **params)
            assert rids(payload["items"]) == [f"s{i}" for i in sorted(expected, reverse=True)], (path, start, end)
            assert payload["total"] == len(expected)


def test_bad_timestamps_are_validation_failures_naming_them(client: TestClient, root: Account, alice: Account) -> None:
    cases = [
        ("start_timestamp", "abc"),
        ("end_timestamp", "1.5"),
        ("start_timestamp", "12abc"),
        ("end_timestamp", "-5"),
    ]
    for path, headers in _both(root, alice):
        for name, value in cases:
            assert name in failure(client.get(path, headers=headers, params={name: value})), (path, name, value)
        message = failure(client.get(path, headers=headers, params={"start_timestamp": T0 + 5, "end_timestamp": T0}))
        assert "start_timestamp" in message


MODEL_CASES: list[tuple[str, set[str]]] = [
    ("gpt-4o", {"gpt-4o"}),  # exact: not gpt-4o-mini
    ("gpt_4x", {"gpt_4x"}),  # exact, no pattern
    ("nope", set()),
    ("gpt-4o%", {"gpt-4o", "gpt-4o-mini"}),
    ("%mini", {"gpt-4o-mini"}),
    ("%4o%", {"gpt-4o", "gpt-4o-mini"}),
    ("gpt%", {"gpt-4o", "gpt-4o-mini", "gpt_4x", "gpt-4x"}),
    ("g%x", {"gpt_4x", "gpt-4x"}),
    ("gpt_4%", {"gpt_4x"}),  # `_` is literal, not "any character"
    ("gpt_%", {"gpt_4x"}),
    ("a!b%", {"a!bc"}),  # `!` is literal
    ("%!bc", {"a!bc"}),
    ("%bc", {"a!bc", "abc"}),
]


def test_model_name_exact_and_like_pattern(client: TestClient, root: Account, alice: Account, ingest: Ingest) -> None:
    models = ["gpt-4o", "gpt-4o-mini", "gpt_4x", "gpt-4x", "a!bc", "abc", "claude-3"]
    records = [record(alice, created_at=T0 + i, model_name=m, request_id=m) for i, m in enumerate(models * 2)]
    ingest(records)
    for path, headers in _both(root, alice):
        for value, expected in MODEL_CASES:
            payload = page(client, path, headers, model_name=value, page_size=100)
            assert {row["model_name"] for row in payload["items"]} == expected, (path, value)
            assert payload["total"] == 2 * len(expected)
            assert rids(payload["items"]) == rids(newest_first([r for r in records if r["model_name"] in expected]))


BAD_PATTERNS = ["%a%b%c", "gpt%%", "%%gpt", "%a%", "a%", "%", "%%", "_%", "%!%"]


def test_bad_like_patterns_are_validation_failures(client: TestClient, root: Account, alice: Account) -> None:
    for value in BAD_PATTERNS:
        for name in ("model_name", "username"):
            assert name in failure(client.get(ADMIN, headers=root.headers, params={name: value})), (name, value)
        assert "model_name" in failure(client.get(SELF, headers=alice.headers, params={"model_name": value})), value


def test_username_exact_and_like_pattern(
    client: TestClient, db: Database, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    people = [alice, bob, make_user(db, "al_ce"), make_user(db, "alfred"), make_user(db, "a!bob")]
    names = {person.id: person.username for person in people}
    records = [record(person, created_at=T0 + i, request_id=f"u{i}") for i, person in enumerate(people * 2)]
    ingest(records)
    cases: list[tuple[str, set[str]]] = [
        ("alice", {"alice"}),
        ("ali", set()),  # exact, not prefix
        ("al%", {"alice", "al_ce", "alfred"}),
        ("al_%", {"al_ce"}),  # `_` literal
        ("%ce", {"alice", "al_ce"}),
        ("%ob%", {"bob", "a!bob"}),
        ("a!b%", {"a!bob"}),  # `!` literal
    ]
    for value, expected in cases:
        payload = page(client, ADMIN, root.headers, username=value, page_size=100)
        assert {row["username"] for row in payload["items"]} == expected, value
        assert payload["total"] == 2 * len(expected)
        matching = [r for r in records if names[r["user_id"]] in expected]
        assert rids(payload["items"]) == rids(newest_first(matching))


EXACT_ROWS: list[dict[str, Any]] = [
    {"token_name": "k1", "group": "default", "channel": 1, "upstream_request_id": "u0"},
    {"token_name": "k1x", "group": "vip", "channel": 2, "upstream_request_id": "u1"},
    {"token_name": "k1", "group": "vip", "channel": 12, "upstream_request_id": "u0x"},
    {"token_name": "K1", "group": "vipx", "channel": 1, "upstream_request_id": "u1"},
    {"token_name": "k%", "group": "", "channel": 0, "upstream_request_id": ""},
]

EXACT_CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({"token_name": "k1"}, [0, 2]),
    ({"token_name": "k1x"}, [1]),
    ({"token_name": "k"}, []),
    ({"token_name": "k%"}, [4]),  # `%` is literal for exact filters
    ({"group": "vip"}, [1, 2]),
    ({"group": "default"}, [0]),
    ({"channel": 1}, [0, 3]),
    ({"channel": 12}, [2]),
    ({"channel": 0}, [0, 1, 2, 3, 4]),  # 0: no filter
    ({"request_id": "x2"}, [2]),
    ({"request_id": "x"}, []),
    ({"upstream_request_id": "u1"}, [1, 3]),
    ({"upstream_request_id": "u0"}, [0]),
    ({"token_name": "k1", "group": "vip"}, [2]),
    ({"group": "vip", "channel": 2, "upstream_request_id": "u1"}, [1]),
]


def test_exact_text_and_channel_filters(client: TestClient, root: Account, alice: Account, ingest: Ingest) -> None:
    records = [record(alice, created_at=T0 + i, request_id=f"x{i}", **row) for i, row in enumerate(EXACT_ROWS)]
    ingest(records)
    for params, expected in EXACT_CASES:
        payload = page(client, ADMIN, root.headers, page_size=100, **params)
        assert rids(payload["items"]) == [f"x{i}" for i in sorted(expected, reverse=True)], params
        assert payload["total"] == len(expected)
        if "channel" not in params:  # the self route honours the same filters except channel
            own = page(client, SELF, alice.headers, page_size=100, **params)
            assert rids(own["items"]) == rids(payload["items"]), params
    for value in ("abc", "1.5", "-2"):
        assert "channel" in failure(client.get(ADMIN, headers=root.headers, params={"channel": value})), value


def test_self_route_ignores_admin_only_parameters(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    mine = [record(alice, created_at=T0 + i, channel=1 + i % 2, request_id=f"a{i}") for i in range(5)]
    theirs = [record(bob, created_at=T0 + i, channel=2, request_id=f"b{i}") for i in range(5)]
    ingest(mine + theirs)
    cases: list[dict[str, Any]] = [
        {"username": "bob"},
        {"username": "%ob%"},
        {"username": "%%"},  # not even validated
        {"channel": 2},
        {"channel": "not-a-number"},
        {"user_id": bob.id},
        {"username": "bob", "channel": 2, "user_id": bob.id},
    ]
    for params in cases:
        for headers in (alice.headers, alice.key_headers()):
            payload = page(client, SELF, headers, page_size=100, **params)
            assert rids(payload["items"]) == rids(newest_first(mine)), params
            assert payload["total"] == len(mine)


# --- paging -----------------------------------------------------------------------------------------------------


def test_missing_zero_garbage_or_negative_page_means_first(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    records = _series(alice, 23)
    ingest(records)
    first_ten = rids(newest_first(records)[:10])
    for path, headers in _both(root, alice):
        for p in (None, "", "0", "1", "abc", "-3", "1.5", "99999999999999999999"):
            params: dict[str, Any] = {} if p is None else {"p": p}
            payload = page(client, path, headers, **params)
            assert payload["page"] == 1, p
            assert payload["page_size"] == 10
            assert payload["total"] == 23
            assert rids(payload["items"]) == first_ten
        third = page(client, path, headers, p=3)
        assert third["page"] == 3
        assert rids(third["items"]) == rids(newest_first(records)[20:])


PAGE_SIZE_CASES: list[tuple[dict[str, Any], int]] = [
    ({}, 10),
    ({"page_size": 4}, 4),
    ({"ps": 5}, 5),
    ({"size": 6}, 6),
    ({"page_size": 3, "ps": 5, "size": 6}, 3),  # page_size wins over ps and size
    ({"ps": 5, "size": 6}, 5),  # ps wins over size
    ({"page_size": 3, "size": 6}, 3),
    ({"page_size": 0}, 10),
    ({"page_size": -4}, 10),
    ({"page_size": "abc"}, 10),
    ({"page_size": ""}, 10),
    ({"ps": "x"}, 10),
    ({"size": 0}, 10),
    ({"page_size": 23}, 23),
    ({"page_size": 30}, 30),
]


def test_page_size_default_aliases_and_precedence(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    records = _series(alice, 23)
    ingest(records)
    for path, headers in _both(root, alice):
        for params, size in PAGE_SIZE_CASES:
            payload = page(client, path, headers, **params)
            assert payload["page_size"] == size, (path, params)
            assert payload["total"] == 23
            assert rids(payload["items"]) == rids(newest_first(records)[:size])


def test_page_size_is_capped_at_100(client: TestClient, root: Account, alice: Account, ingest: Ingest) -> None:
    records = _series(alice, 105)
    ingest(records)
    for params in ({"page_size": 1000}, {"ps": 101}, {"size": 5000}, {"page_size": 100}):
        payload = page(client, ADMIN, root.headers, **params)
        assert payload["page_size"] == 100, params
        assert len(payload["items"]) == 100
        assert payload["total"] == 105
    second = page(client, SELF, alice.headers, p=2, page_size=1000)
    assert second["page_size"] == 100
    assert rids(second["items"]) == rids(newest_first(records)[100:])
    assert [row["id"] for row in second["items"]] == list(range(101, 106))


def test_page_size_is_capped_at_max_items_per_page(
    settings: Settings, db: Database, root: Account, alice: Account, ingest: Ingest
) -> None:
    records = _series(alice, 20)
    ingest(records)
    capped = settings.model_copy(update={"max_items_per_page": 7})
    with TestClient(create_app(capped, db)) as small:
        for params, size in (({"page_size": 50}, 7), ({"ps": 8}, 7), ({"page_size": 5}, 5), ({}, 7)):
            for path, headers in _both(root, alice):
                payload = page(small, path, headers, **params)
                assert payload["page_size"] == size, (params, path)
                assert rids(payload["items"]) == rids(newest_first(records)[:size])
        rows, total = all_offset_pages(small, SELF, alice.headers, 50)
        assert total == 20
        assert rids(rows) == rids(newest_first(records))


def test_page_past_the_end_is_empty_with_the_exact_total(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    ingest(_series(alice, 12))
    for path, headers in _both(root, alice):
        payload = page(client, path, headers, p=5, page_size=10)
        assert payload["items"] == []
        assert payload["total"] == 12
        assert payload["page"] == 5
        assert payload.get("next_cursor") is None


def test_offset_paging_yields_every_row_once_newest_first(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    mine = _series(alice, 23, prefix="a")
    theirs = _series(bob, 6, prefix="b")
    ingest(mine + theirs)
    for path, headers in _both(root, alice):
        expected = newest_first(mine + theirs) if path == ADMIN else newest_first(mine)
        for page_size in (3, 10, 100):
            rows, total = all_offset_pages(client, path, headers, page_size)
            assert total == len(expected)
            assert len(rows) == total
            assert rids(rows) == rids(expected), (path, page_size)
            assert len(set(rids(rows))) == total
            if path == SELF:
                assert_user_view(rows)  # positions continue across pages: 1..total
            else:
                assert len({row["id"] for row in rows}) == total


def test_cursor_paging_matches_offset_paging(client: TestClient, root: Account, alice: Account, ingest: Ingest) -> None:
    records = _series(alice, 24)
    records[3]["type"] = 3
    records[5]["model_name"] = "claude"
    records[8]["type"] = 5
    ingest(records)
    for path, headers in _both(root, alice):
        for params in ({}, {"type": 2}, {"model_name": "gpt%", "end_timestamp": T0 + 9}):
            for page_size in (5, 24, 100):
                offset_rows, total = all_offset_pages(client, path, headers, page_size, **params)
                cursor_rows, payloads = all_cursor_pages(client, path, headers, page_size, **params)
                where = (path, params, page_size)
                assert cursor_rows == offset_rows, where
                assert len(cursor_rows) == total
                assert payloads[-1]["next_cursor"] is None
                assert all(payload["next_cursor"] for payload in payloads[:-1])
                assert all(payload["total"] == total for payload in payloads)
                assert all(payload["items"] for payload in payloads), where  # no trailing empty page
                if path == SELF:
                    assert [row["id"] for row in cursor_rows] == list(range(1, total + 1))


def test_cursor_pages_of_self_continue_positions(client: TestClient, alice: Account, ingest: Ingest) -> None:
    ingest(_series(alice, 25))
    first = page(client, SELF, alice.headers, page_size=10)
    second = page(client, SELF, alice.headers, page_size=10, cursor=first["next_cursor"])
    third = page(client, SELF, alice.headers, page_size=10, cursor=second["next_cursor"])
    assert [row["id"] for row in second["items"]] == list(range(11, 21))
    assert [row["id"] for row in third["items"]] == list(range(21, 26))
    assert third["next_cursor"] is None
    offset_second = page(client, SELF, alice.headers, p=2, page_size=10)
    assert offset_second["items"] == second["items"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_tampered_cursor_is_a_validation_failure(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    ingest(_series(alice, 3))
    real = page(client, ADMIN, root.headers, page_size=1)["next_cursor"]
    assert real
    tampered = [
        "not a cursor!!",
        "%%%",
        _b64("abc"),
        _b64("1:2"),
        _b64("x:y:z"),
        _b64("-1:5:3"),
        _b64("1:2:3:4"),
        "é",
        real + "!",
        real[:-3] + "***",
    ]
    for path, headers in _both(root, alice):
        for cursor in tampered:
            assert "cursor" in failure(client.get(path, headers=headers, params={"cursor": cursor})), (path, cursor)


def test_self_positions_continue_across_offset_pages(client: TestClient, alice: Account, ingest: Ingest) -> None:
    records = _series(alice, 23)
    ingest(records)
    second = page(client, SELF, alice.headers, p=2, page_size=10)
    assert [row["id"] for row in second["items"]] == list(range(11, 21))
    assert_user_view(second["items"], first_position=11)
    third = page(client, SELF, alice.headers, p=3)
    assert [row["id"] for row in third["items"]] == [21, 22, 23]
    assert rids(third["items"]) == rids(newest_first(records)[20:])


def test_self_positions_are_within_the_filtered_result(
    client: TestClient, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = [record(alice, created_at=T0 + i, type=2 if i % 2 else 1, request_id=f"f{i}") for i in range(8)]
    ingest([*records, record(bob, created_at=T0 + 100)])
    payload = page(client, SELF, alice.headers, type=2)
    assert [row["id"] for row in payload["items"]] == [1, 2, 3, 4]
    assert rids(payload["items"]) == ["f7", "f5", "f3", "f1"]


# --- who may call -----------------------------------------------------------------------------------------------


def test_admin_list_refuses_others(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    assert "insufficient privileges" in failure(client.get(ADMIN, headers=alice.headers), 403)
    assert "not logged in" in failure(client.get(ADMIN), 401)
    failure(client.get(ADMIN, headers=alice.key_headers()), 401)
    failure(client.get(ADMIN, headers={"Authorization": "Bearer nonsense-token"}), 401)
    failure(client.get(SELF), 401)
    failure(client.get(SELF, headers={"Authorization": "Bearer sk-doesnotexist"}), 401)
